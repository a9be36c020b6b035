//! `depclose::ld_cache` against the real ldconfig and the real loader of this machine.
//!
//! - the host's `/etc/ld.so.cache` against `ldconfig -p` and against `ld.so`'s own cache
//!   lookups (`LD_DEBUG=libs`);
//! - private caches written by `ldconfig -r` in the new, compat and old formats, with
//!   glibc-hwcaps copies, x32 and i386 libraries, legacy hwcap directories and ISA levels,
//!   checked against expectations and, in a chroot, against the real loader;
//! - hand-built caches for the corner cases ldconfig never writes, and hostile bytes.
//!
//! Parts that need a tool this machine lacks (ldconfig, gcc, chroot, the x86-64 loader)
//! print a note and are skipped.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::ld_cache::{accepted_flags, libcmp, CacheError, Entry, Format, LdCache, LegacyHwcaps, Lookup};
use depclose::Bytes;

const EM_X86_64: u16 = 62;
const EM_386: u16 = 3;
const X86_64: &[i32] = &[0x0303];
const LDSO: &str = "/lib64/ld-linux-x86-64.so.2";

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

fn ldconfig() -> Option<PathBuf> {
    ["/sbin/ldconfig", "/usr/sbin/ldconfig"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn chroot_bin() -> PathBuf {
    ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("chroot"))
}

fn is_x86_64_glibc_host() -> bool {
    cfg!(all(target_arch = "x86_64", target_os = "linux")) && Path::new(LDSO).exists()
}

fn run(cmd: &mut Command) -> (bool, Vec<u8>, Vec<u8>) {
    match cmd.output() {
        Ok(o) => (o.status.success(), o.stdout, o.stderr),
        Err(e) => (false, Vec::new(), e.to_string().into_bytes()),
    }
}

fn bs(v: &[Bytes]) -> Vec<String> {
    v.iter().map(|b| b.to_string()).collect()
}

fn b(s: &str) -> Bytes {
    Bytes::from(s)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// What `ld.so --help` says about this CPU.
#[derive(Debug, Default)]
struct HostCaps {
    /// Active glibc-hwcaps subdirectories, most preferred first.
    hwcaps: Vec<Bytes>,
    /// Legacy mask (enabled hwcap bits) and platform bit.
    legacy: Option<LegacyHwcaps>,
}

fn host_caps() -> HostCaps {
    let (ok, out, _) = run(Command::new(LDSO).arg("--help"));
    let mut caps = HostCaps::default();
    if !ok {
        return caps;
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut section = 0;
    let mut mask = 0u64;
    let mut platform = None;
    for line in text.lines() {
        if line.starts_with("Subdirectories of glibc-hwcaps") {
            section = 1;
            continue;
        }
        if line.starts_with("Legacy HWCAP subdirectories") {
            section = 2;
            continue;
        }
        if !line.starts_with("  ") {
            section = if line.is_empty() { section } else { 0 };
            continue;
        }
        let item = line.trim();
        let name = item.split(' ').next().unwrap_or_default();
        let supported = item.contains("supported");
        match section {
            1 if supported => caps.hwcaps.push(b(name)),
            2 if item.contains("AT_PLATFORM") => {
                platform = match name {
                    "haswell" => Some(1u64 << 50),
                    "xeon_phi" => Some(1u64 << 51),
                    _ => None,
                };
            }
            2 if supported => {
                mask |= match name {
                    "sse2" => 1,
                    "x86_64" => 2,
                    "avx512_1" => 4,
                    "tls" => 1 << 63,
                    _ => 0,
                };
            }
            _ => {}
        }
    }
    caps.legacy = Some(LegacyHwcaps::new(mask, platform));
    caps
}

// ---------------------------------------------------------------------------------------
// `ldconfig -p`
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct PLine {
    key: Vec<u8>,
    /// "libc6,x86-64" and the like (without the hwcap part).
    desc: String,
    hwcap_name: Option<Vec<u8>>,
    hwcap_legacy: Option<u64>,
    value: Vec<u8>,
}

struct Printed {
    count: usize,
    lines: Vec<PLine>,
    generator: Option<Vec<u8>>,
}

fn parse_ldconfig_p(out: &[u8]) -> Printed {
    let mut p = Printed { count: usize::MAX, lines: Vec::new(), generator: None };
    for line in out.split(|&c| c == b'\n') {
        if let Some(l) = line.strip_prefix(b"\t") {
            let arrow = rfind(l, b") => ").expect("arrow");
            let head = &l[..arrow];
            let value = l[arrow + 5..].to_vec();
            let open = find(head, b" (").expect("paren");
            let key = head[..open].to_vec();
            let mut desc = &head[open + 2..];
            let mut hwcap_name = None;
            let mut hwcap_legacy = None;
            if let Some(h) = find(desc, b", hwcap: ") {
                let rest = &desc[h + 9..];
                if let Some(q) = rest.strip_prefix(b"\"") {
                    hwcap_name = Some(q[..q.len() - 1].to_vec());
                } else {
                    let hex = std::str::from_utf8(rest).unwrap().trim_start_matches("0x");
                    hwcap_legacy = Some(u64::from_str_radix(hex, 16).unwrap());
                }
                desc = &desc[..h];
            }
            p.lines.push(PLine {
                key,
                desc: String::from_utf8_lossy(desc).into_owned(),
                hwcap_name,
                hwcap_legacy,
                value,
            });
        } else if let Some(g) = line.strip_prefix(b"Cache generated by: ") {
            p.generator = Some(g.to_vec());
        } else if let Some(sp) = find(line, b" libs found in cache") {
            p.count = std::str::from_utf8(&line[..sp]).unwrap().parse().unwrap();
        }
    }
    p
}

/// `print_entry`'s description of `flags`.
fn describe(flags: i32) -> String {
    let ty = match flags & 0xff {
        0 => "libc4",
        1 => "ELF",
        2 => "libc5",
        3 => "libc6",
        _ => "unknown",
    };
    let arch = match flags & 0xff00 {
        0 => String::new(),
        0x0100 | 0x0400 | 0x0500 | 0x0700 => ",64bit".into(),
        0x0200 => ",IA-64".into(),
        0x0300 => ",x86-64".into(),
        0x0600 => ",N32".into(),
        0x0800 => ",x32".into(),
        0x0900 => ",hard-float".into(),
        0x0a00 => ",AArch64".into(),
        0x0b00 | 0x0f00 => ",soft-float".into(),
        0x0c00 => ",nan2008".into(),
        0x0d00 => ",N32,nan2008".into(),
        0x0e00 => ",64bit,nan2008".into(),
        0x1000 => ",double-float".into(),
        other => format!(",{other}"),
    };
    format!("{ty}{arch}")
}

/// Every entry `ldconfig -p` prints is in `entries()`, in the same order, with the same
/// key, path, flags, hwcaps name / legacy hwcap; same count, same generator.
fn assert_matches_printed(cache: &LdCache, printed: &Printed, what: &str) {
    let entries = cache.entries();
    assert_eq!(printed.count, printed.lines.len(), "{what}: count line");
    assert_eq!(entries.len(), printed.lines.len(), "{what}: entry count");
    for (i, (e, l)) in entries.iter().zip(&printed.lines).enumerate() {
        assert_eq!(e.key.as_bytes(), &l.key[..], "{what}: key of entry {i}");
        assert_eq!(e.value.as_bytes(), &l.value[..], "{what}: value of entry {i}");
        assert_eq!(describe(e.flags), l.desc, "{what}: flags of entry {i} ({:#x})", e.flags);
        match (&l.hwcap_name, l.hwcap_legacy) {
            (Some(n), _) => {
                assert!(e.is_hwcaps_extension(), "{what}: entry {i} should be a hwcaps entry");
                assert_eq!(e.hwcaps_subdir.as_ref().map(|s| s.as_bytes()), Some(&n[..]), "{what}: subdir {i}");
            }
            (None, Some(h)) => assert_eq!(e.hwcap, h, "{what}: legacy hwcap of entry {i}"),
            (None, None) => assert_eq!(e.hwcap, 0, "{what}: hwcap of entry {i}"),
        }
    }
    assert_eq!(cache.generator().map(<[u8]>::to_vec), printed.generator, "{what}: generator");
}

/// What glibc 2.36's `search_cache` picks, derived independently from `ldconfig -p`'s
/// listing of a new-format cache (entries with the key, in file order).
fn expected_from_printed(lines: &[&PLine], accepted: &[String], q_hwcaps: &[Bytes]) -> Option<Vec<u8>> {
    let mut best: Option<(usize, Vec<u8>)> = None;
    for l in lines {
        if !accepted.contains(&l.desc) {
            continue;
        }
        match &l.hwcap_name {
            Some(n) => {
                if let Some(p) = q_hwcaps.iter().position(|h| h.as_bytes() == &n[..]) {
                    if !matches!(&best, Some((bp, _)) if *bp <= p) {
                        best = Some((p, l.value.clone()));
                    }
                }
            }
            None => {
                if let Some((_, v)) = best {
                    return Some(v);
                }
                if l.hwcap_legacy.is_none() {
                    return Some(l.value.clone());
                }
            }
        }
    }
    best.map(|(_, v)| v)
}

/// The file the real loader tries first from its cache for `key`: `--preload KEY --list`
/// under `LD_DEBUG=libs`, in `chroot` if given. `None` if the loader did not consult the
/// cache for this name (e.g. an object already loaded); `Some(None)` if the cache gave no
/// file.
fn loader_pick(key: &[u8], ldso_args: &[&str], chroot: Option<&Path>) -> Option<Option<Vec<u8>>> {
    let key_s = std::str::from_utf8(key).ok()?;
    let mut cmd = match chroot {
        Some(root) => {
            let mut c = Command::new(chroot_bin());
            c.arg(root).arg(LDSO);
            c
        }
        None => Command::new(LDSO),
    };
    cmd.env_clear().env("LD_DEBUG", "libs").args(ldso_args).args(["--preload", key_s, "--list", "/bin/true"]);
    let (_, _, err) = run(&mut cmd);
    let text = err;
    let marker = format!("find library={key_s} [0]; searching");
    let Some(start) = find(&text, marker.as_bytes()) else {
        if std::env::var_os("DEBUG_LOADER").is_some() {
            eprintln!("loader output for {key_s} {ldso_args:?}: {}", String::from_utf8_lossy(&text));
        }
        return None;
    };
    let mut lines = text[start..].split(|&c| c == b'\n').skip(1);
    for line in lines.by_ref() {
        if find(line, b"search cache=").is_some() {
            break;
        }
        if find(line, b"find library=").is_some() {
            return None;
        }
    }
    let next = lines.next()?;
    match find(next, b"trying file=") {
        Some(p) => Some(Some(next[p + 12..].to_vec())),
        None => Some(None),
    }
}

// ---------------------------------------------------------------------------------------
// 1. The host cache
// ---------------------------------------------------------------------------------------

#[test]
fn host_cache_matches_ldconfig_p_and_the_loader() {
    let Some(ldconfig) = ldconfig() else {
        eprintln!("note: no ldconfig, skipped");
        return;
    };
    let Ok(data) = fs::read("/etc/ld.so.cache") else {
        eprintln!("note: no /etc/ld.so.cache, skipped");
        return;
    };
    let cache = LdCache::parse(&data, cfg!(target_endian = "big")).expect("host cache parses");
    let (ok, out, _) = run(Command::new(&ldconfig).arg("-p"));
    assert!(ok, "ldconfig -p");
    let printed = parse_ldconfig_p(&out);
    assert!(printed.count > 0);
    assert_matches_printed(&cache, &printed, "/etc/ld.so.cache");
    if !is_x86_64_glibc_host() {
        eprintln!("note: not an x86-64 glibc host; lookups not checked");
        return;
    }

    let caps = host_caps();
    let q = Lookup::new(X86_64, &caps.hwcaps, caps.legacy);
    let accepted = vec![describe(0x0303)];
    let mut by_key: BTreeMap<Vec<u8>, Vec<&PLine>> = BTreeMap::new();
    for l in &printed.lines {
        by_key.entry(l.key.clone()).or_default().push(l);
    }
    let mut loader_checked = 0;
    for (key, lines) in &by_key {
        let got = cache.lookup(key, &q).map(|e| e.value.as_bytes().to_vec());
        let want = expected_from_printed(lines, &accepted, &caps.hwcaps);
        assert_eq!(got, want, "lookup {}", String::from_utf8_lossy(key));
        if lines.len() == 1 && lines[0].desc == accepted[0] && lines[0].hwcap_name.is_none() {
            assert_eq!(got.as_deref(), Some(&lines[0].value[..]), "single entry {}", String::from_utf8_lossy(key));
        }
        // The real loader, for names the preload list can carry.
        if key.iter().any(|&c| c == b' ' || c == b':') {
            continue;
        }
        if let Some(real) = loader_pick(key, &[], None) {
            assert_eq!(got, real, "ld.so's cache pick for {}", String::from_utf8_lossy(key));
            loader_checked += 1;
        }
    }
    eprintln!("host cache: {} entries, {} keys, {loader_checked} confirmed by ld.so", printed.count, by_key.len());
    assert!(loader_checked * 2 > by_key.len(), "the loader confirmed too few keys ({loader_checked})");
}

// ---------------------------------------------------------------------------------------
// 2. Private caches written by the real ldconfig
// ---------------------------------------------------------------------------------------

fn libz() -> Option<PathBuf> {
    fs::canonicalize("/lib/x86_64-linux-gnu/libz.so.1").ok()
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to).unwrap();
}

/// Compile a tiny library; `None` (and a note) if gcc cannot.
fn cc_lib(dir: &Path, out: &Path, args: &[&str]) -> Option<()> {
    let src = dir.join("tiny.c");
    fs::write(&src, "int tiny_fn(void) { return 1; }\n").unwrap();
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let (ok, _, err) = run(Command::new("gcc").args(["-shared", "-nostdlib", "-o"]).arg(out).args(args).arg(&src));
    if !ok {
        eprintln!("note: gcc {args:?} failed: {}", String::from_utf8_lossy(&err));
        return None;
    }
    Some(())
}

/// Copy the x86-64 loader, libc and /bin/true into the root, so that `chroot root ld.so`
/// works. False if anything is missing.
fn add_loader(root: &Path) -> bool {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    if !Path::new(LDSO).exists() || !libc.exists() || !Path::new("/bin/true").exists() {
        return false;
    }
    copy(&fs::canonicalize(LDSO).unwrap(), &root.join("lib64/ld-linux-x86-64.so.2"));
    copy(&fs::canonicalize(libc).unwrap(), &root.join("lib/x86_64-linux-gnu/libc.so.6"));
    copy(&fs::canonicalize("/bin/true").unwrap(), &root.join("bin/true"));
    // Is chroot usable here (root privileges)?
    run(Command::new(chroot_bin()).arg(root).arg("/lib64/ld-linux-x86-64.so.2").arg("--version")).0
}

fn ldconfig_r(ldconfig: &Path, root: &Path, format: &str) -> Vec<u8> {
    let (ok, _, err) = run(Command::new(ldconfig).arg("-r").arg(root).args(["-X", "-c", format]));
    assert!(ok, "ldconfig -r -c {format}: {}", String::from_utf8_lossy(&err));
    fs::read(root.join("etc/ld.so.cache")).unwrap()
}

fn ldconfig_p(ldconfig: &Path, root: &Path) -> Printed {
    let (ok, out, err) = run(Command::new(ldconfig).arg("-r").arg(root).arg("-p"));
    assert!(ok, "ldconfig -p: {}", String::from_utf8_lossy(&err));
    parse_ldconfig_p(&out)
}

fn pick(cache: &LdCache, name: &str, flags: &[i32], hwcaps: &[Bytes]) -> Option<String> {
    cache.lookup(name.as_bytes(), &Lookup::new(flags, hwcaps, None)).map(|e| e.value.to_string())
}

#[test]
fn private_caches_new_compat_old() {
    let (Some(ldconfig), Some(libz)) = (ldconfig(), libz()) else {
        eprintln!("note: no ldconfig or x86-64 libz, skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("etc")).unwrap();
    copy(&libz, &r.join("a/libz.so.1"));
    copy(&libz, &r.join("a/glibc-hwcaps/x86-64-v3/libz.so.1"));
    copy(&libz, &r.join("a/glibc-hwcaps/x86-64-v2/libz.so.1"));
    copy(&libz, &r.join("b/libz.so.1"));
    // x32 and i386 builds of a libz.so.1 (flags 0x0803 and 1), when gcc can make them.
    let x32 = cc_lib(r, &r.join("d/libz.so.1"), &["-mx32", "-Wl,-soname,libz.so.1"]).is_some();
    let i386 = cc_lib(r, &r.join("e/libz.so.1"), &["-m32", "-Wl,-soname,libz.so.1"]).is_some();
    let _ = fs::remove_file(r.join("tiny.c"));
    fs::write(r.join("etc/ld.so.conf"), "/d\n/e\n/a\n/b\n").unwrap();
    let loader = add_loader(r);
    if !loader {
        eprintln!("note: no chroot-able loader; loader confirmation skipped");
    }
    let caps = host_caps();
    let v = |s: &[&str]| s.iter().map(|x| b(x)).collect::<Vec<_>>();
    let base = "/a/libz.so.1";
    let v3 = "/a/glibc-hwcaps/x86-64-v3/libz.so.1";
    let v2 = "/a/glibc-hwcaps/x86-64-v2/libz.so.1";

    for format in ["new", "compat", "old"] {
        let data = ldconfig_r(&ldconfig, r, format);
        let cache = LdCache::parse(&data, false).unwrap_or_else(|e| panic!("{format}: {e}"));
        let printed = ldconfig_p(&ldconfig, r);
        assert_matches_printed(&cache, &printed, format);
        let want_format = match format {
            "new" => Format::New,
            "compat" => Format::Compat,
            _ => Format::Old,
        };
        assert_eq!(cache.format(), want_format);
        // Expected picks for the x86-64 loader per hwcaps list.
        let cases: [(&[&str], &str); 6] = [
            (&["x86-64-v3", "x86-64-v2"], v3),
            (&["x86-64-v2"], v2),
            (&["x86-64-v2", "x86-64-v3"], v2),
            (&[], base),
            (&["x86-64-v4"], base),
            (&["x86-64-v4", "x86-64-v3", "x86-64-v2"], v3),
        ];
        for (list, want) in cases {
            let want = match format {
                "new" => want,
                // ld.so reads the hwcaps names at file offsets: garbage in a compat file.
                "compat" => base,
                // Old table: hwcaps copies unmarked; the first 0x0303 entry (v2) wins.
                _ => v2,
            };
            for name in ["libz.so.1", "libz.so.01", "libz.so.0001"] {
                assert_eq!(pick(&cache, name, X86_64, &v(list)).as_deref(), Some(want), "{format} {name} {list:?}");
            }
        }
        assert_eq!(pick(&cache, "libz.so.10", X86_64, &[]), None);
        assert_eq!(pick(&cache, "libz.so", X86_64, &[]), None);
        assert_eq!(pick(&cache, "libz.so.1", &[0x0503], &[]), None, "{format}: no ppc64 entries");
        if x32 {
            assert_eq!(
                pick(&cache, "libz.so.1", accepted_flags(EM_X86_64, false, 0), &[]).as_deref(),
                Some("/d/libz.so.1")
            );
            assert_eq!(cache.entries()[0].flags, 0x0803, "{format}: x32 sorts first and is skipped by x86-64");
        }
        if i386 {
            assert_eq!(
                pick(&cache, "libz.so.1", accepted_flags(EM_386, false, 0), &[]).as_deref(),
                Some("/e/libz.so.1")
            );
        }
        if format == "new" {
            let subdirs: Vec<String> =
                cache.entries().iter().filter_map(|e| e.hwcaps_subdir.as_ref()).map(|s| s.to_string()).collect();
            assert_eq!(subdirs, ["x86-64-v2", "x86-64-v3"]);
            assert!(cache.generator().is_some_and(|g| g.starts_with(b"ldconfig")));
        }
        if format == "old" {
            assert!(cache.generator().is_none());
            assert!(cache.entries().iter().all(|e| e.hwcap == 0));
        }
        // The real loader agrees, for each way of choosing the subdirectories.
        if loader {
            let masked: Vec<Bytes> = caps.hwcaps.iter().filter(|h| h.as_bytes() == b"x86-64-v2").cloned().collect();
            let mut prepended = vec![b("x86-64-v2")];
            prepended.extend(caps.hwcaps.iter().cloned());
            let runs: [(&[&str], &[Bytes]); 4] = [
                (&[], &caps.hwcaps),
                (&["--glibc-hwcaps-mask", "x86-64-v2"], &masked),
                (&["--glibc-hwcaps-mask", "none"], &[]),
                (&["--glibc-hwcaps-prepend", "x86-64-v2"], &prepended),
            ];
            for (args, hwcaps) in runs {
                for name in ["libz.so.1", "libz.so.01"] {
                    let ours = pick(&cache, name, X86_64, hwcaps).map(String::into_bytes);
                    let real = loader_pick(name.as_bytes(), args, Some(r)).expect("loader consulted its cache");
                    assert_eq!(ours, real, "{format} {args:?} {name} hwcaps {:?}", bs(hwcaps));
                }
            }
        }
    }
}

#[test]
fn first_ld_so_conf_directory_wins() {
    let (Some(ldconfig), Some(libz)) = (ldconfig(), libz()) else {
        eprintln!("note: no ldconfig or x86-64 libz, skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    copy(&libz, &r.join("a/libz.so.1"));
    copy(&libz, &r.join("b/libz.so.1"));
    for (conf, want) in [("/a\n/b\n", "/a/libz.so.1"), ("/b\n/a\n", "/b/libz.so.1")] {
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("etc/ld.so.conf"), conf).unwrap();
        let cache = LdCache::parse(&ldconfig_r(&ldconfig, r, "new"), false).unwrap();
        assert_eq!(pick(&cache, "libz.so.1", X86_64, &[]).as_deref(), Some(want), "conf {conf:?}");
        let values: Vec<String> = cache.entries().iter().map(|e| e.value.to_string()).collect();
        assert_eq!(values, [want, if want == "/a/libz.so.1" { "/b/libz.so.1" } else { "/a/libz.so.1" }]);
    }
}

#[test]
fn legacy_hwcap_directories_and_isa_levels() {
    let (Some(ldconfig), Some(libz)) = (ldconfig(), libz()) else {
        eprintln!("note: no ldconfig or x86-64 libz, skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir_all(r.join("etc")).unwrap();
    for d in ["a", "a/x86_64", "a/avx512_1", "a/haswell", "b"] {
        copy(&libz, &r.join(d).join("libz.so.1"));
    }
    // glibc-hwcaps copies marked with an x86 ISA level (GNU_PROPERTY_X86_ISA_1_NEEDED).
    let isa = cc_lib(r, &r.join("a/libisa.so.1"), &["-Wl,-soname,libisa.so.1"]).is_some()
        && cc_lib(r, &r.join("a/glibc-hwcaps/x86-64-v3/libisa.so.1"), &["-Wl,-soname,libisa.so.1", "-Wl,-z,x86-64-v3"])
            .is_some()
        && cc_lib(r, &r.join("a/glibc-hwcaps/x86-64-v2/libisa.so.1"), &["-Wl,-soname,libisa.so.1", "-Wl,-z,x86-64-v4"])
            .is_some();
    let _ = fs::remove_file(r.join("tiny.c"));
    fs::write(r.join("etc/ld.so.conf"), "/a\n/b\n").unwrap();
    let loader = add_loader(r);
    let cache = LdCache::parse(&ldconfig_r(&ldconfig, r, "new"), false).unwrap();
    assert_matches_printed(&cache, &ldconfig_p(&ldconfig, r), "legacy");

    let legacy = |mask: u64, platform: Option<u64>| {
        let q = Lookup::new(X86_64, &[], Some(LegacyHwcaps::new(mask | (1 << 63), platform)));
        cache.lookup(b"libz.so.1", &q).map(|e| e.value.to_string())
    };
    const HASWELL: u64 = 1 << 50;
    assert_eq!(legacy(0x2, None).as_deref(), Some("/a/x86_64/libz.so.1"));
    assert_eq!(legacy(0x6, None).as_deref(), Some("/a/avx512_1/libz.so.1"));
    assert_eq!(legacy(0x2, Some(HASWELL)).as_deref(), Some("/a/haswell/libz.so.1"));
    assert_eq!(legacy(0x2, Some(1 << 51)).as_deref(), Some("/a/x86_64/libz.so.1"));
    assert_eq!(legacy(0x0, None).as_deref(), Some("/a/libz.so.1"));
    // glibc >= 2.37: legacy entries are skipped.
    assert_eq!(pick(&cache, "libz.so.1", X86_64, &[]).as_deref(), Some("/a/libz.so.1"));

    if isa {
        let levels: Vec<(String, u32)> = cache
            .entries()
            .iter()
            .filter(|e| e.key == "libisa.so.1")
            .map(|e| (e.hwcaps_subdir.as_ref().map(|s| s.to_string()).unwrap_or_default(), e.isa_level()))
            .collect();
        assert_eq!(levels, [("x86-64-v2".to_string(), 3), ("x86-64-v3".to_string(), 2), (String::new(), 0)]);
        let v = |s: &[&str]| s.iter().map(|x| b(x)).collect::<Vec<_>>();
        let isa_pick = |l: &[&str]| pick(&cache, "libisa.so.1", X86_64, &v(l));
        assert_eq!(isa_pick(&["x86-64-v3", "x86-64-v2"]).as_deref(), Some("/a/glibc-hwcaps/x86-64-v3/libisa.so.1"));
        // The v2 copy needs ISA level 3 (x86-64-v4).
        assert_eq!(isa_pick(&["x86-64-v2"]).as_deref(), Some("/a/libisa.so.1"));
        assert_eq!(isa_pick(&["x86-64-v4", "x86-64-v2"]).as_deref(), Some("/a/glibc-hwcaps/x86-64-v2/libisa.so.1"));
    }

    if loader {
        let caps = host_caps();
        // Legacy filtering with this CPU's hwcaps and platform (what `--glibc-hwcaps-mask
        // none` leaves), and glibc-hwcaps + ISA levels with the default subdirectories.
        let q = Lookup::new(X86_64, &[], caps.legacy);
        let ours = cache.lookup(b"libz.so.1", &q).map(|e| e.value.as_bytes().to_vec());
        let real = loader_pick(b"libz.so.1", &["--glibc-hwcaps-mask", "none"], Some(r)).expect("cache consulted");
        assert_eq!(ours, real, "legacy pick, caps {caps:?}");
        if isa {
            let q = Lookup::new(X86_64, &caps.hwcaps, caps.legacy);
            let ours = cache.lookup(b"libisa.so.1", &q).map(|e| e.value.as_bytes().to_vec());
            let real = loader_pick(b"libisa.so.1", &[], Some(r)).expect("cache consulted");
            assert_eq!(ours, real, "ISA-level pick, caps {caps:?}");
        }
    } else {
        eprintln!("note: no chroot-able loader; loader confirmation skipped");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Hand-built caches: corner cases and hostile bytes
// ---------------------------------------------------------------------------------------

struct E {
    flags: i32,
    key: &'static str,
    value: &'static str,
    hwcap: u64,
}

fn e(flags: i32, key: &'static str, value: &'static str, hwcap: u64) -> E {
    E { flags, key, value, hwcap }
}

/// A new-format cache: entries in the given order, a string table, an extension directory
/// with a generator and (if any) a glibc-hwcaps array of file-relative name offsets.
fn build_new(entries: &[E], hwcaps: &[&str], be: bool) -> Vec<u8> {
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u64b = |v: u64| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let strings_at = 48 + 24 * entries.len();
    let mut strings: Vec<u8> = Vec::new();
    let mut add = |s: &str| -> u32 {
        let off = (strings_at + strings.len()) as u32;
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        off
    };
    let mut table = Vec::new();
    for en in entries {
        let k = add(en.key);
        let v = add(en.value);
        table.extend_from_slice(&u32b(en.flags as u32));
        table.extend_from_slice(&u32b(k));
        table.extend_from_slice(&u32b(v));
        table.extend_from_slice(&u32b(0));
        table.extend_from_slice(&u64b(en.hwcap));
    }
    let names: Vec<u32> = hwcaps.iter().map(|h| add(h)).collect();
    let mut out = Vec::new();
    out.extend_from_slice(b"glibc-ld.so.cache1.1");
    out.extend_from_slice(&u32b(entries.len() as u32));
    out.extend_from_slice(&u32b(strings.len() as u32));
    out.push(if be { 3 } else { 2 });
    out.extend_from_slice(&[0; 3]);
    let ext_at = (strings_at + strings.len()).div_ceil(4) * 4;
    out.extend_from_slice(&u32b(ext_at as u32));
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&table);
    out.extend_from_slice(&strings);
    out.resize(ext_at, 0);
    let generator = b"test generator";
    let nsec = if names.is_empty() { 1 } else { 2 };
    let hw_at = ext_at + 8 + 16 * nsec;
    let gen_at = hw_at + 4 * names.len();
    out.extend_from_slice(&u32b(0xEAA4_2174));
    out.extend_from_slice(&u32b(nsec as u32));
    for (tag, off, size) in [(0u32, gen_at, generator.len()), (1, hw_at, 4 * names.len())].into_iter().take(nsec) {
        out.extend_from_slice(&u32b(tag));
        out.extend_from_slice(&u32b(0));
        out.extend_from_slice(&u32b(off as u32));
        out.extend_from_slice(&u32b(size as u32));
    }
    for n in &names {
        out.extend_from_slice(&u32b(*n));
    }
    out.extend_from_slice(generator);
    out
}

fn q<'a>(flags: &'a [i32], hwcaps: &'a [Bytes], legacy: Option<LegacyHwcaps>) -> Lookup<'a> {
    Lookup::new(flags, hwcaps, legacy)
}

fn val(x: Option<Entry>) -> Option<String> {
    x.map(|e| e.value.to_string())
}

const EXT: u64 = 1 << 62;

#[test]
fn synthetic_new_format_semantics() {
    let entries = [
        e(0x0303, "libq.so.2", "/q2", 0),
        e(0x0303, "libq.so.1", "/hw/b", EXT | 1),
        e(0x0303, "libq.so.1", "/hw/a", EXT),
        e(0x0303, "libq.so.1", "/hw/c", EXT | 2),
        e(0x0303, "libq.so.1", "/hw/bad-index", EXT | 7),
        e(0x0303, "libq.so.1", "/tls", 1 << 63),
        e(0x0303, "libq.so.1", "/plat", 1 << 50),
        e(0x0303, "libq.so.1", "/plain", 0),
        e(0x0303, "libq.so.1", "/plain2", 0),
        e(0x0003, "libq.so.1", "/i386", 0),
        e(0x0303, "libp.so.1", "/p", 0),
    ];
    for be in [false, true] {
        let data = build_new(&entries, &["a", "b", "c"], be);
        // Read with the other byte order, the entry count is absurd: not a cache.
        let err: CacheError = LdCache::parse(&data, !be).unwrap_err();
        assert!(!err.reason().is_empty());
        let c = LdCache::parse(&data, be).unwrap();
        assert_eq!(c.entries().len(), entries.len());
        assert_eq!(c.generator(), Some(&b"test generator"[..]));
        assert_eq!(c.hwcaps_names(), [Some(&b"a"[..]), Some(&b"b"[..]), Some(&b"c"[..])]);
        assert_eq!(c.entries()[1].hwcaps_subdir, Some(b("b")));
        assert_eq!(c.entries()[4].hwcaps_subdir, None);
        let hw = |l: &[&str]| l.iter().map(|x| b(x)).collect::<Vec<_>>();
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw(&["c", "b", "a"]), None))).as_deref(), Some("/hw/c"));
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw(&["a", "b"]), None))).as_deref(), Some("/hw/a"));
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw(&["z", "b"]), None))).as_deref(), Some("/hw/b"));
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw(&["z"]), None))).as_deref(), Some("/plain"));
        // 2.36 legacy: tls is always acceptable; the platform entry needs its platform.
        let leg = |mask, platform| Some(LegacyHwcaps::new(mask, platform));
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &[], leg(0, None)))).as_deref(), Some("/tls"));
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw(&["b"]), leg(0, None)))).as_deref(), Some("/hw/b"));
        // i386 flags: the only accepted entry.
        assert_eq!(val(c.lookup(b"libq.so.1", &q(&[1, 3], &[], None))).as_deref(), Some("/i386"));
        assert_eq!(val(c.lookup(b"libq.so.02", &q(X86_64, &[], None))).as_deref(), Some("/q2"));
        assert_eq!(val(c.lookup(b"libp.so.1", &q(X86_64, &[], None))).as_deref(), Some("/p"));
        assert_eq!(val(c.lookup(b"libr.so.1", &q(X86_64, &[], None))), None);
        assert_eq!(val(c.lookup(b"", &q(X86_64, &[], None))), None);
    }
    // Without tls and with the platform entry first.
    let entries = [
        e(0x0303, "libq.so.1", "/plat", 1 << 50),
        e(0x0303, "libq.so.1", "/x86_64", 2),
        e(0x0303, "libq.so.1", "/plain", 0),
    ];
    let c = LdCache::parse(&build_new(&entries, &[], false), false).unwrap();
    let leg = |mask, platform| q(X86_64, &[], Some(LegacyHwcaps::new(mask, platform)));
    assert_eq!(val(c.lookup(b"libq.so.1", &leg(2, None))).as_deref(), Some("/x86_64"));
    assert_eq!(val(c.lookup(b"libq.so.1", &leg(2, Some(1 << 50)))).as_deref(), Some("/plat"));
    assert_eq!(val(c.lookup(b"libq.so.1", &leg(0, Some(1 << 51)))).as_deref(), Some("/plain"));
    assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &[], None))).as_deref(), Some("/plain"));
    // A hwcaps entry with no hwcaps section is never selected.
    let c = LdCache::parse(
        &build_new(&[e(0x0303, "libq.so.1", "/hw", EXT), e(0x0303, "libq.so.1", "/p", 0)], &[], false),
        false,
    )
    .unwrap();
    assert_eq!(c.entries()[0].hwcaps_subdir, None);
    assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &[b("a")], None))).as_deref(), Some("/p"));
}

#[test]
fn endianness_flag_rules() {
    let mut data = build_new(&[e(0x0303, "libx.so.1", "/x", 0)], &[], false);
    for (flag, ok) in [(0u8, true), (1, false), (2, true), (3, false), (0x42, true), (0x04, false)] {
        data[28] = flag;
        assert_eq!(LdCache::parse(&data, false).is_ok(), ok, "flags {flag:#x}");
    }
}

/// An old-format cache (optionally followed by a compat new section).
fn build_old(entries: &[E]) -> Vec<u8> {
    let n = entries.len();
    let mut strings = Vec::new();
    let mut table = Vec::new();
    for en in entries {
        let k = strings.len() as u32;
        strings.extend_from_slice(en.key.as_bytes());
        strings.push(0);
        let v = strings.len() as u32;
        strings.extend_from_slice(en.value.as_bytes());
        strings.push(0);
        table.extend_from_slice(&(en.flags as u32).to_le_bytes());
        table.extend_from_slice(&k.to_le_bytes());
        table.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = b"ld.so-1.7.0\0".to_vec();
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&table);
    out.extend_from_slice(&strings);
    out
}

#[test]
fn old_format_last_accepted_wins_unless_default() {
    let entries = [e(1, "libq.so.1", "/elf", 0), e(3, "libq.so.1", "/libc6", 0), e(1, "libq.so.1", "/elf2", 0)];
    let c = LdCache::parse(&build_old(&entries), false).unwrap();
    assert_eq!(c.format(), Format::Old);
    // i386: default id 3 stops the walk.
    assert_eq!(val(c.lookup(b"libq.so.1", &q(&[1, 3], &[], None))).as_deref(), Some("/libc6"));
    // Without an entry carrying the default id, the last accepted entry wins (old format
    // only; the new format takes the first).
    let hf = accepted_flags(40, false, 0x400);
    let entries = [e(0x0903, "libq.so.1", "/hf1", 0), e(0x0903, "libq.so.1", "/hf2", 0)];
    let c = LdCache::parse(&build_old(&entries), false).unwrap();
    assert_eq!(val(c.lookup(b"libq.so.1", &q(hf, &[], None))).as_deref(), Some("/hf2"));
    let c = LdCache::parse(&build_new(&entries, &[], false), false).unwrap();
    assert_eq!(val(c.lookup(b"libq.so.1", &q(hf, &[], None))).as_deref(), Some("/hf1"));
    // armhf: [0x0903, 3], default 3.
    let entries = [e(0x0903, "libq.so.1", "/hf", 0), e(3, "libq.so.1", "/plain", 0)];
    let c = LdCache::parse(&build_old(&entries), false).unwrap();
    assert_eq!(val(c.lookup(b"libq.so.1", &q(accepted_flags(40, false, 0x400), &[], None))).as_deref(), Some("/plain"));
    let c = LdCache::parse(&build_new(&entries, &[], false), false).unwrap();
    assert_eq!(val(c.lookup(b"libq.so.1", &q(accepted_flags(40, false, 0x400), &[], None))).as_deref(), Some("/hf"));
}

#[test]
fn invalid_offsets() {
    let entries = [e(0x0303, "libq.so.1", "/a", 0), e(0x0303, "libq.so.1", "/b", 0), e(0x0303, "libp.so.1", "/p", 0)];
    let good = build_new(&entries, &[], false);
    let key_off = |i: usize| 48 + 24 * i + 4;
    let value_off = |i: usize| 48 + 24 * i + 8;
    // Value of the first libq entry past the end: skipped, the next one is taken.
    let mut d = good.clone();
    d[value_off(0)..value_off(0) + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let c = LdCache::parse(&d, false).unwrap();
    assert_eq!(c.entries().len(), 2);
    assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &[], None))).as_deref(), Some("/b"));
    // A key offset past the end where the binary search lands: no answer at all.
    let mut d = good.clone();
    let past_end = d.len() as u32;
    d[key_off(1)..key_off(1) + 4].copy_from_slice(&past_end.to_le_bytes());
    let c = LdCache::parse(&d, false).unwrap();
    assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &[], None))), None);
    assert_eq!(val(c.lookup(b"libp.so.1", &q(X86_64, &[], None))), None);
    // A string running to the end of the file ends there.
    // Layout: header (48), one entry (24), "libq.so.1\0" at 72, "/a\0" at 82.
    let mut d = build_new(&[e(0x0303, "libq.so.1", "/a", 0)], &[], false);
    d[32..36].copy_from_slice(&0u32.to_le_bytes()); // no extensions
    assert_eq!(&d[82..85], b"/a\0");
    d.truncate(84);
    let c = LdCache::parse(&d, false).unwrap();
    assert_eq!(c.entries().len(), 1);
    assert_eq!(c.entries()[0].value.as_bytes().len(), 2);
}

#[test]
fn bad_extension_sections_are_dropped() {
    let entries = [e(0x0303, "libq.so.1", "/hw", EXT), e(0x0303, "libq.so.1", "/p", 0)];
    let good = build_new(&entries, &["a"], false);
    let ext_at = u32::from_le_bytes(good[32..36].try_into().unwrap()) as usize;
    let hw = [b("a")];
    let check = |d: &[u8], gen: bool, hwcaps: bool, what: &str| {
        let c = LdCache::parse(d, false).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(c.generator().is_some(), gen, "{what}: generator");
        assert_eq!(c.hwcaps_names().len() == 1, hwcaps, "{what}: hwcaps");
        let want = if hwcaps { "/hw" } else { "/p" };
        assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw, None))).as_deref(), Some(want), "{what}: lookup");
    };
    check(&good, true, true, "good");
    let patch = |off: usize, v: u32| {
        let mut d = good.clone();
        d[off..off + 4].copy_from_slice(&v.to_le_bytes());
        d
    };
    check(&patch(32, ext_at as u32 + 2), false, false, "misaligned directory");
    check(&patch(32, 0xffff_fff0), false, false, "directory past the end");
    check(&patch(ext_at, 0x1234_5678), false, false, "bad magic");
    check(&patch(ext_at + 4, 0x0fff_ffff), false, false, "huge count");
    check(&patch(ext_at + 4, 1), true, false, "count 1: generator only");
    // Section 0 (generator) past the end drops everything.
    check(&patch(ext_at + 8 + 12, 0xffff_0000), false, false, "generator size past the end");
    // hwcaps section: misaligned, size not a multiple of 4, empty.
    let hw_sec = ext_at + 8 + 16;
    let hw_off = u32::from_le_bytes(good[hw_sec + 8..hw_sec + 12].try_into().unwrap());
    check(&patch(hw_sec + 8, hw_off + 1), true, false, "hwcaps misaligned");
    check(&patch(hw_sec + 12, 3), true, false, "hwcaps size 3");
    check(&patch(hw_sec + 12, 0), true, false, "hwcaps empty");
    // Unknown tag: ignored.
    check(&patch(hw_sec, 7), true, false, "unknown tag");
    // hwcaps name offset past the end: that subdirectory is unusable.
    let c = LdCache::parse(&patch(hw_off as usize, 0xffff_fff0), false).unwrap();
    assert_eq!(c.hwcaps_names(), [None]);
    assert_eq!(val(c.lookup(b"libq.so.1", &q(X86_64, &hw, None))).as_deref(), Some("/p"));
}

#[test]
fn header_validation_and_huge_counts() {
    assert!(LdCache::parse(b"", false).is_err());
    assert!(LdCache::parse(b"glibc-ld.so.cache1.1", false).is_err());
    assert!(LdCache::parse(b"ld.so-1.7.0\0\0\0\0\0", false).is_err(), "size must be > 16");
    let ok_old = LdCache::parse(b"ld.so-1.7.0\0\0\0\0\0\0", false).unwrap();
    assert_eq!(ok_old.entries().len(), 0);
    assert_eq!(val(ok_old.lookup(b"libc.so.6", &q(X86_64, &[], None))), None);
    // Huge nlibs in either header.
    let mut d = build_new(&[e(0x0303, "libq.so.1", "/a", 0)], &[], false);
    d[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(LdCache::parse(&d, false).is_err());
    let mut d = build_old(&[e(3, "libq.so.1", "/a", 0)]);
    d[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(LdCache::parse(&d, false).is_err());
    // A compat file whose new section claims too many entries.
    let mut d = build_old(&[e(3, "libq.so.1", "/a", 0), e(3, "libq.so.1", "/a", 0)]);
    d.truncate(16 + 24);
    d.extend_from_slice(&build_new(&[e(0x0303, "libq.so.1", "/new", 0)], &[], false));
    let c = LdCache::parse(&d, false).unwrap();
    assert_eq!(c.format(), Format::Compat);
    d[40 + 20..40 + 24].copy_from_slice(&1000u32.to_le_bytes());
    assert!(LdCache::parse(&d, false).is_err());
    // A new header with nlibs that does not fit is not a cache.
    let mut d = build_new(&[e(0x0303, "libq.so.1", "/a", 0)], &[], false);
    let len = d.len() as u32;
    d[20..24].copy_from_slice(&(len / 24).to_le_bytes());
    assert!(LdCache::parse(&d, false).is_err());
}

/// Parse, then look up every key plus a few others: never panics; every answer is an
/// entry whose key compares equal and whose flags are accepted.
fn exercise(data: &[u8]) {
    let Ok(c) = LdCache::parse(data, false) else { return };
    let mut keys: Vec<Vec<u8>> = c.entries().iter().map(|e| e.key.as_bytes().to_vec()).collect();
    keys.extend([b"libc.so.6".to_vec(), b"libz.so.1".to_vec(), Vec::new(), vec![0xff; 3]]);
    keys.truncate(64);
    let hw = [b("x86-64-v3"), b("x86-64-v2")];
    for k in &keys {
        for (flags, legacy) in [(X86_64, None), (&[1, 3][..], Some(LegacyHwcaps::new(2, None)))] {
            if let Some(en) = c.lookup(k, &q(flags, &hw, legacy)) {
                assert_eq!(libcmp(k, en.key.as_bytes()), Ordering::Equal);
                assert!(flags.contains(&en.flags));
            }
        }
    }
    let _ = (c.generator(), c.hwcaps_names(), c.format());
}

#[test]
fn hostile_bytes_never_panic() {
    let mut samples: Vec<Vec<u8>> = Vec::new();
    if let Ok(d) = fs::read("/etc/ld.so.cache") {
        samples.push(d);
    }
    let synth = [
        e(0x0303, "libq.so.2", "/q2", 0),
        e(0x0303, "libq.so.1", "/hw/b", EXT | 1),
        e(0x0303, "libq.so.1", "/hw/a", EXT),
        e(0x0303, "libq.so.1", "/plain", 0),
    ];
    samples.push(build_new(&synth, &["a", "b"], false));
    samples.push(build_old(&synth));
    let mut compat = build_old(&synth);
    compat.truncate(16 + 12 * synth.len());
    compat.extend_from_slice(&build_new(&synth, &["a", "b"], false));
    samples.push(compat);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for s in &samples {
        // Truncations: every short length, then spread over the file.
        let step = (s.len() / 400).max(1);
        for len in (0..s.len().min(300)).chain((300..s.len()).step_by(step)).chain(s.len().saturating_sub(4)..s.len()) {
            exercise(&s[..len]);
        }
        // Random corruption: bytes, and whole words set to extreme values.
        for _ in 0..300 {
            let mut d = s.clone();
            for _ in 0..1 + rnd() % 8 {
                let at = (rnd() as usize) % d.len();
                if rnd() % 2 == 0 {
                    d[at] = rnd() as u8;
                } else {
                    let at = at & !3;
                    let v =
                        [0u32, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX, d.len() as u32, 0xEAA4_2174][rnd() as usize % 7];
                    if at + 4 <= d.len() {
                        d[at..at + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
            exercise(&d);
        }
    }
}

#[test]
fn many_entries_sharing_one_long_string_are_bounded() {
    // 4000 entries whose key and value are the same 64 KiB string: copying them all would
    // need ~500 MB. Parsing copies nothing, a lookup copies one entry, and the entry list
    // stops at a bound proportional to the file's size.
    let n = 4000usize;
    let long = vec![b'a'; 64 * 1024];
    let mut d = b"glibc-ld.so.cache1.1".to_vec();
    d.extend_from_slice(&(n as u32).to_le_bytes());
    d.extend_from_slice(&[0; 24]);
    let str_at = (48 + 24 * n) as u32;
    for _ in 0..n {
        d.extend_from_slice(&0x0303u32.to_le_bytes());
        d.extend_from_slice(&str_at.to_le_bytes());
        d.extend_from_slice(&str_at.to_le_bytes());
        d.extend_from_slice(&[0; 12]);
    }
    d.extend_from_slice(&long);
    d.push(0);
    let cache = LdCache::parse(&d, false).expect("parses without copying strings");
    let q = Lookup::new(&[0x0303], &[], None);
    let hit = cache.lookup(&long, &q).expect("the shared key is found");
    assert_eq!(hit.value.len(), long.len());
    let entries = cache.entries();
    let copied: usize = entries.iter().map(|e| e.key.len() + e.value.len()).sum();
    assert!(entries.len() < n, "the list stops at the bound ({} entries)", entries.len());
    assert!(copied <= 16 * d.len() + 64 * 1024, "{copied} bytes copied for a {}-byte file", d.len());
}

// ---------------------------------------------------------------------------------------
// 4. libcmp and accepted_flags
// ---------------------------------------------------------------------------------------

#[test]
fn libcmp_orders_like_glibc() {
    use Ordering::*;
    let cases: &[(&[u8], &[u8], Ordering)] = &[
        (b"libfoo.so.10", b"libfoo.so.9", Greater),
        (b"libfoo.so.01", b"libfoo.so.1", Equal),
        (b"libfoo.so.1.2", b"libfoo.so.1.10", Less),
        (b"libfoo.so", b"libfoo.so.1", Less),
        (b"libfoo.so.1", b"libfoo.so", Greater),
        (b"libfoo1.so", b"libfooa.so", Greater),
        (b"libfooa.so", b"libfoo1.so", Less),
        (b"", b"", Equal),
        (b"", b"a", Less),
        (b"abc", b"abd", Less),
        (b"libc.so.6", b"libc.so.6", Equal),
        (b"a0000000000000000001", b"a1", Equal),
        // A NUL ends the string, as in C.
        (b"libx.so\0junk", b"libx.so", Equal),
        // Bytes are signed chars (x86): 0xe9 sorts before ASCII and before the end.
        (b"a\xe9", b"ab", Less),
        (b"a\xe9", b"a", Less),
    ];
    for (a, b_, want) in cases {
        assert_eq!(libcmp(a, b_), *want, "{:?} vs {:?}", String::from_utf8_lossy(a), String::from_utf8_lossy(b_));
    }
    // Antisymmetry over ordinary names.
    let names: &[&[u8]] =
        &[b"libz.so.1", b"libz.so.01", b"libz.so", b"libz3.so.4", b"libzstd.so.1", b"ld-linux.so.2", b"lib", b"9"];
    for a in names {
        for b_ in names {
            assert_eq!(libcmp(a, b_), libcmp(b_, a).reverse());
        }
    }
}

#[test]
fn accepted_flags_table() {
    assert_eq!(accepted_flags(62, true, 0), &[0x0303]);
    assert_eq!(accepted_flags(62, false, 0), &[0x0803]);
    assert_eq!(accepted_flags(3, false, 0), &[1, 3]);
    assert_eq!(accepted_flags(183, true, 0), &[0x0a03]);
    assert_eq!(accepted_flags(40, false, 0x0500_0400), &[0x0903, 0x0003]);
    assert_eq!(accepted_flags(40, false, 0x0500_0200), &[0x0b03, 0x0003]);
    assert_eq!(accepted_flags(21, true, 2), &[0x0503]);
    assert_eq!(accepted_flags(22, true, 0), &[0x0403]);
    assert_eq!(accepted_flags(243, true, 0x5), &[0x1003]);
    assert_eq!(accepted_flags(243, true, 0x1), &[0x0f03]);
    assert_eq!(accepted_flags(43, true, 0), &[0x0103]);
    assert_eq!(accepted_flags(8, true, 0), &[0x0703]);
    assert_eq!(accepted_flags(8, false, 0x20), &[0x0603]);
    assert_eq!(accepted_flags(8, false, 0x400), &[0x0c03]);
    assert_eq!(accepted_flags(8, false, 0), &[1, 3]);
    assert_eq!(accepted_flags(20, false, 0), &[1, 3]);
    assert_eq!(accepted_flags(258, true, 0), &[1, 3]);
}
