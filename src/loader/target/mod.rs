//! The target profile: what the loader of one input looks like.
//!
//! Everything here is derived from the input's ELF header, its `PT_INTERP`, the root's
//! layout and the interpreter file inside the root, never from the host (except the CPU's
//! glibc-hwcaps level when the caller asks for [`Hwcaps::Host`] on a matching architecture).

use crate::bytes::Bytes;
use crate::elf::{self, ElfInfo, LoaderAbi};
use crate::ld_cache::LegacyHwcaps;
use crate::model::{Class, Libc};
use crate::root::Root;
use crate::settings::{Hwcaps, Settings};

mod arch;
mod host;
mod ldso;

use arch::{default_interp, default_platform, multiarch, upstream_libdir, vdso_name};
use host::{host_x86_64_avx512_1, host_x86_64_level, host_x86_64_platform};
pub(crate) use ldso::{loader_facts_in, LoaderFacts};

/// Everything the glibc or musl model needs to know about the loader of one input.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The resolver's name for this profile, unique while it lives (keys of shared caches).
    pub id: TargetId,
    pub libc: Libc,
    pub abi: LoaderAbi,
    /// The interpreter path (PT_INTERP, or the standard one for inputs without).
    pub interp: Option<Bytes>,
    /// True when `interp` came from the input's PT_INTERP.
    pub interp_from_input: bool,
    /// Default directories, each ending in `/`.
    pub default_dirs: Vec<Bytes>,
    /// System directory prefixes (with trailing `/`) for the `DF_1_NODEFLIB` cache check.
    pub system_dirs: Vec<Bytes>,
    /// `$LIB`.
    pub lib: Bytes,
    /// `$PLATFORM`.
    pub platform: Option<Bytes>,
    /// Per-directory probe suffixes in order, each empty or ending in `/`; the last is "".
    pub subdirs: Vec<Bytes>,
    /// Active glibc-hwcaps names, most preferred first (for the cache).
    pub glibc_hwcaps: Vec<Bytes>,
    /// Cache flag values the loader accepts.
    pub cache_flags: &'static [i32],
    /// Legacy hwcap filter for cache entries (glibc ≤ 2.36).
    pub legacy: Option<LegacyHwcaps>,
    /// The vDSO name.
    pub vdso: &'static [u8],
}

/// A derived target's interned number (the resolver numbers its targets 0, 1, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct TargetId(pub u32);

fn x86_64_hwcaps(level: u8) -> Vec<Bytes> {
    let mut v = Vec::new();
    for l in (2..=4u8).rev() {
        if level >= l {
            v.push(Bytes::from(format!("x86-64-v{l}").as_str()));
        }
    }
    v
}

/// Legacy (2.36) subdirectories: every subset of the elements (important hwcap names in bit
/// order, the platform, `tls`), in descending mask order, each written most significant
/// element first (elf/dl-hwcaps.c `_dl_important_hwcaps`).
fn legacy_subdirs(hwcap_names: &[&str], platform: Option<&[u8]>) -> Vec<Bytes> {
    let mut elems: Vec<Vec<u8>> = hwcap_names.iter().map(|s| s.as_bytes().to_vec()).collect();
    if let Some(p) = platform {
        elems.push(p.to_vec());
    }
    elems.push(b"tls".to_vec());
    let n = elems.len();
    let mut out = Vec::new();
    for mask in (0..(1u32 << n)).rev() {
        let mut s = Vec::new();
        for i in (0..n).rev() {
            if mask & (1 << i) != 0 {
                s.extend_from_slice(&elems[i]);
                s.push(b'/');
            }
        }
        out.push(Bytes::from(s));
    }
    out
}

impl Target {
    /// Derive the target of `input` inside `root`.
    pub fn derive(
        input: &ElfInfo,
        root: &Root,
        s: &Settings,
        interp_facts: &mut dyn FnMut(&[u8]) -> LoaderFacts,
        diags: &mut Vec<String>,
    ) -> Target {
        let class = input.class;
        let machine = input.machine;
        let flags = input.flags;
        let (interp, from_input) = match &input.interp {
            Some(i) => (Some(i.clone()), true),
            None => (default_interp(machine, class, flags).map(Bytes::from), false),
        };
        let is_musl = interp
            .as_ref()
            .map(|i| {
                let b = i.as_bytes();
                let base = b.rsplit(|&c| c == b'/').next().unwrap_or(b);
                base.starts_with(b"ld-musl-")
            })
            .unwrap_or(false);
        let libc = if is_musl { Libc::Musl } else { Libc::Glibc };
        let abi = LoaderAbi {
            class,
            big_endian: input.big_endian,
            machine,
            flags,
            // libc-abis: LIBC_ABI_MAX is 4 on x86 (UNIQUE, IFUNC, ABSOLUTE), 3 elsewhere.
            abi_max: if matches!(machine, elf::EM_X86_64 | elf::EM_386) { 4 } else { 3 },
        };

        // Facts from the interpreter file inside the root.
        let facts = match (&interp, libc) {
            (Some(i), Libc::Glibc) if i.as_bytes().starts_with(b"/") => interp_facts(i.as_bytes()),
            _ => LoaderFacts::default(),
        };

        let triplet = multiarch(machine, class, flags);
        let debian = triplet.map(|t| root.is_dir(format!("/usr/lib/{t}").as_bytes()).unwrap_or(false)).unwrap_or(false);
        let system_dirs: Vec<Bytes> = match (&s.default_dirs, &facts.system_dirs) {
            (Some(d), _) => d.iter().map(|d| with_slash(d.as_bytes())).collect(),
            (None, Some(d)) => d.clone(),
            (None, None) => {
                let v: Vec<String> = match (debian, triplet) {
                    (true, Some(t)) => {
                        vec![format!("/lib/{t}/"), format!("/usr/lib/{t}/"), "/lib/".into(), "/usr/lib/".into()]
                    }
                    _ => {
                        let l = upstream_libdir(machine, class);
                        vec![format!("/{l}/"), format!("/usr/{l}/")]
                    }
                };
                if libc == Libc::Glibc && from_input {
                    diags.push(format!(
                        "could not read the default directories from the interpreter; assuming {}",
                        v.join(":")
                    ));
                }
                v.into_iter().map(|s| Bytes::from(s.as_str())).collect()
            }
        };
        let mut default_dirs = system_dirs.clone();
        default_dirs.extend(s.extra_default_dirs.iter().map(|d| with_slash(d.as_bytes())));

        let lib = match (&s.lib, &facts.dst_lib) {
            (Some(l), _) => l.clone(),
            (None, Some(l)) => l.clone(),
            (None, None) => match (debian, triplet) {
                (true, Some(t)) => Bytes::from(format!("lib/{t}").as_str()),
                _ => Bytes::from(upstream_libdir(machine, class)),
            },
        };
        // glibc-hwcaps subdirectories.
        let host_same = cfg!(target_arch = "x86_64") && machine == elf::EM_X86_64 && class == Class::Elf64;
        let host_cpu = host_same && matches!(s.hwcaps, Hwcaps::Host);
        let platform = s.platform.clone().or_else(|| {
            host_cpu.then(host_x86_64_platform).flatten().or_else(|| default_platform(machine, class)).map(Bytes::from)
        });
        let glibc_hwcaps: Vec<Bytes> = match &s.hwcaps {
            Hwcaps::None => Vec::new(),
            Hwcaps::Host if host_same => x86_64_hwcaps(host_x86_64_level()),
            Hwcaps::Host => Vec::new(),
            Hwcaps::X86_64Level(l) if machine == elf::EM_X86_64 && class == Class::Elf64 => x86_64_hwcaps(*l),
            Hwcaps::X86_64Level(_) => Vec::new(),
            Hwcaps::Subdirs(v) => v.iter().map(|s| Bytes::from(s.as_str())).collect(),
        };
        let legacy_on = s.legacy_hwcaps.unwrap_or(match facts.version {
            Some((2, minor)) => minor <= 36,
            _ => false,
        }) && libc == Libc::Glibc;
        let mut subdirs: Vec<Bytes> = glibc_hwcaps
            .iter()
            .map(|h| {
                let mut v = b"glibc-hwcaps/".to_vec();
                v.extend_from_slice(h.as_bytes());
                v.push(b'/');
                Bytes::from(v)
            })
            .collect();
        let mut legacy = None;
        if legacy_on {
            // x86: HWCAP_X86_64 (bit 1) always on 64-bit; HWCAP_X86_AVX512_1 (bit 2) with the
            // AVX-512 F/CD/BW/DQ/VL set (level 4). sysdeps/x86/dl-hwcap.h.
            let (names, mask): (Vec<&str>, u64) = if machine == elf::EM_X86_64 && class == Class::Elf64 {
                let avx512_1 = match &s.hwcaps {
                    Hwcaps::Host if host_same => host_x86_64_avx512_1(),
                    Hwcaps::X86_64Level(l) => *l >= 4,
                    _ => false,
                };
                if avx512_1 {
                    (vec!["x86_64", "avx512_1"], 0b110)
                } else {
                    (vec!["x86_64"], 0b10)
                }
            } else {
                (Vec::new(), 0)
            };
            subdirs.extend(legacy_subdirs(&names, platform.as_ref().map(|p| p.as_bytes())));
            let platform_bit = match platform.as_ref().map(|p| p.as_bytes()) {
                // _dl_x86_platforms: i586, i686, haswell, xeon_phi at bits 48 + index.
                Some(b"haswell") => Some(1u64 << 50),
                Some(b"xeon_phi") => Some(1u64 << 51),
                _ => None,
            };
            legacy = Some(LegacyHwcaps { mask: mask | (1u64 << 63), platform: platform_bit });
        } else {
            subdirs.push(Bytes::default());
        }

        Target {
            id: TargetId::default(),
            libc,
            abi,
            interp,
            interp_from_input: from_input,
            default_dirs,
            system_dirs,
            lib,
            platform,
            subdirs,
            glibc_hwcaps,
            cache_flags: crate::ld_cache::accepted_flags(machine, class == Class::Elf64, flags),
            legacy,
            vdso: vdso_name(machine),
        }
    }
}

/// A default or system directory as the loader keeps it (see `bytes::dir_with_slash`); an
/// empty one is `/`.
fn with_slash(d: &[u8]) -> Bytes {
    let mut v = d.to_vec();
    crate::bytes::dir_with_slash(&mut v);
    if v.is_empty() {
        v.push(b'/');
    }
    Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::Source;

    /// An ELF64 image whose program header table lists `n` read-only `PT_LOAD` segments, each
    /// covering the whole file, read through a `Source` that counts the bytes it hands out.
    #[test]
    fn overlapping_segments_read_at_most_twice_the_file() {
        use std::cell::Cell;
        struct Counting<'a>(&'a [u8], Cell<u64>);
        impl Source for Counting<'_> {
            fn size(&self) -> u64 {
                self.0.len() as u64
            }
            fn get(&self, off: u64, len: u64) -> Option<std::borrow::Cow<'_, [u8]>> {
                self.1.set(self.1.get() + len);
                self.0.get(off as usize..(off + len) as usize).map(std::borrow::Cow::Borrowed)
            }
        }
        let n = 1000u16;
        let size = 64 + 56 * usize::from(n) + 4096;
        let mut img = vec![0u8; size];
        img[..4].copy_from_slice(b"\x7fELF");
        img[4] = 2; // ELFCLASS64
        img[5] = 1; // little-endian
        img[6] = 1;
        img[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        img[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        img[20..24].copy_from_slice(&1u32.to_le_bytes());
        img[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        img[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        img[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        img[56..58].copy_from_slice(&n.to_le_bytes()); // e_phnum
        for i in 0..usize::from(n) {
            let ph = &mut img[64 + 56 * i..64 + 56 * (i + 1)];
            ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
            ph[4..8].copy_from_slice(&4u32.to_le_bytes()); // PF_R
            ph[32..40].copy_from_slice(&(size as u64).to_le_bytes()); // p_filesz
        }
        assert_eq!(elf::program_headers(&img[..]).map(|p| p.len()), Some(usize::from(n)));
        let src = Counting(&img, Cell::new(0));
        assert_eq!(loader_facts_in(&src), LoaderFacts::default());
        // The headers, one segment's worth, then the whole-file fallback.
        assert!(src.1.get() <= 2 * size as u64 + 64 + 56 * u64::from(n), "read {} bytes", src.1.get());
    }

    fn info(machine: u16, class: Class, big_endian: bool, flags: u32) -> ElfInfo {
        ElfInfo {
            ident: [0; 16],
            class,
            big_endian,
            e_type: 3,
            machine,
            version: 1,
            flags,
            phentsize: 0,
            interp: None,
            dynamic: None,
        }
    }

    /// Golden table for the architectures depclose supports, in a Debian-layout root without
    /// an interpreter to read (so the built-in tables are what is checked): multiarch default
    /// directories and `$LIB`, the standard interpreter, the cache flags the loader accepts.
    /// The values are those of glibc 2.36 (`shlib-versions`, `dl-cache.h`) and Debian's
    /// multiarch triplets.
    /// (name, e_machine, class, big-endian, e_flags, triplet, interpreter, cache flags)
    type Case = (&'static str, u16, Class, bool, u32, &'static str, &'static str, &'static [i32]);

    #[test]
    fn architecture_table() {
        let cases: &[Case] = &[
            (
                "x86_64",
                elf::EM_X86_64,
                Class::Elf64,
                false,
                0,
                "x86_64-linux-gnu",
                "/lib64/ld-linux-x86-64.so.2",
                &[0x0303],
            ),
            ("i386", elf::EM_386, Class::Elf32, false, 0, "i386-linux-gnu", "/lib/ld-linux.so.2", &[1, 3]),
            (
                "aarch64",
                elf::EM_AARCH64,
                Class::Elf64,
                false,
                0,
                "aarch64-linux-gnu",
                "/lib/ld-linux-aarch64.so.1",
                &[0x0a03],
            ),
            (
                "armhf",
                elf::EM_ARM,
                Class::Elf32,
                false,
                0x0500_0400,
                "arm-linux-gnueabihf",
                "/lib/ld-linux-armhf.so.3",
                &[0x0903, 0x0003],
            ),
            (
                "riscv64",
                elf::EM_RISCV,
                Class::Elf64,
                false,
                0x5,
                "riscv64-linux-gnu",
                "/lib/ld-linux-riscv64-lp64d.so.1",
                &[0x1003],
            ),
            ("ppc64el", elf::EM_PPC64, Class::Elf64, false, 2, "powerpc64le-linux-gnu", "/lib64/ld64.so.2", &[0x0503]),
            ("s390x", elf::EM_S390, Class::Elf64, true, 0, "s390x-linux-gnu", "/lib/ld64.so.1", &[0x0403]),
        ];
        for &(name, machine, class, be, flags, triplet, interp, cache) in cases {
            let t = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(t.path().join("usr/lib").join(triplet)).unwrap();
            let root = Root::new(t.path()).unwrap();
            let s = crate::Resolver::builder().build().unwrap().settings;
            let target = Target::derive(
                &info(machine, class, be, flags),
                &root,
                &s,
                &mut |_| LoaderFacts::default(),
                &mut Vec::new(),
            );
            let dirs: Vec<String> = target.default_dirs.iter().map(|d| d.to_string()).collect();
            assert_eq!(
                dirs,
                [format!("/lib/{triplet}/"), format!("/usr/lib/{triplet}/"), "/lib/".into(), "/usr/lib/".into()],
                "{name}"
            );
            assert_eq!(target.lib.to_string(), format!("lib/{triplet}"), "{name}");
            assert_eq!(target.interp.as_ref().map(|i| i.to_string()).as_deref(), Some(interp), "{name}");
            assert_eq!(target.cache_flags, cache, "{name}");
            assert_eq!(target.abi.big_endian, be, "{name}");
            assert_eq!((target.abi.machine, target.abi.class), (machine, class), "{name}");
            // glibc-hwcaps: only x86-64 has levels a host CPU can supply by default.
            if machine != elf::EM_X86_64 {
                assert!(target.glibc_hwcaps.is_empty(), "{name}");
            }
        }
    }

    #[test]
    fn machine_checks_follow_dl_machine_h() {
        // riscv: the float ABI bits must agree; ppc64: ELFv1 vs ELFv2 when both are marked.
        assert!(elf::machine_matches(elf::EM_RISCV, 0x5, elf::EM_RISCV, 0x5));
        assert!(!elf::machine_matches(elf::EM_RISCV, 0x5, elf::EM_RISCV, 0x1));
        assert!(!elf::machine_matches(elf::EM_PPC64, 2, elf::EM_PPC64, 1));
        assert!(elf::machine_matches(elf::EM_PPC64, 2, elf::EM_PPC64, 0));
        assert!(!elf::machine_matches(elf::EM_X86_64, 0, elf::EM_AARCH64, 0));
        // arm: no float-ABI check in elf_machine_matches_host (only the cache flags differ).
        assert!(elf::machine_matches(elf::EM_ARM, 0x0500_0400, elf::EM_ARM, 0x0500_0200));
    }

    #[test]
    fn legacy_order_matches_glibc_236_on_amd() {
        let v: Vec<String> =
            legacy_subdirs(&["x86_64"], Some(b"x86_64")).iter().map(|b| b.to_string_lossy().into_owned()).collect();
        assert_eq!(
            v,
            ["tls/x86_64/x86_64/", "tls/x86_64/", "tls/x86_64/", "tls/", "x86_64/x86_64/", "x86_64/", "x86_64/", ""]
        );
    }
}
