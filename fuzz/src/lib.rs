//! Fuzz target bodies for depclose, shared by the cargo-fuzz targets (`fuzz_targets/*.rs`)
//! and by the stable replay test (`tests/fuzz_corpus.rs`, which includes this file with
//! `#[path]`). Only `depclose`, `std`, `libc` and `tempfile` may be used here.
//!
//! Every body panics (fails) when an invariant is broken; the library itself must never
//! panic, hang or allocate without bound on any input.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use depclose::elf::{self, Verdict};
use depclose::ld_cache::{self, LdCache, LegacyHwcaps, Lookup};
use depclose::{Bytes, CacheSource, Class, Closure, Hwcaps, Limits, OriginMode, Resolver};

// ---------------------------------------------------------------------------------------
// parse_elf
// ---------------------------------------------------------------------------------------

fn abis() -> [elf::LoaderAbi; 4] {
    [
        elf::LoaderAbi::new(Class::Elf64, false, elf::EM_X86_64, 0, 4),
        elf::LoaderAbi::new(Class::Elf32, false, elf::EM_386, 0, 4),
        elf::LoaderAbi::new(Class::Elf64, true, elf::EM_PPC64, 1, 3),
        elf::LoaderAbi::new(Class::Elf64, false, elf::EM_RISCV, 4, 3),
    ]
}

/// `elf::parse` on raw bytes, every field walked; `verify_candidate` for a few loaders.
pub fn parse_elf(data: &[u8]) {
    let full = elf::parse(data);
    if let Ok(info) = &full {
        assert!(elf::is_elf(data));
        assert_eq!(&info.ident[..], &data[..16]);
        let _ = (info.class, info.big_endian, info.e_type, info.machine, info.version, info.flags, info.phentsize);
        let _ = (info.flags_1(), info.is_pie());
        if let Some(i) = &info.interp {
            assert!(!i.as_bytes().contains(&0), "interpreter with a NUL");
            assert!(i.as_bytes().len() <= data.len());
            let _ = format!("{i} {i:?}");
        }
        if let Some(d) = &info.dynamic {
            let strings = d.needed.iter().chain(&d.filter).chain(&d.auxiliary).chain(&d.soname).chain(&d.rpath);
            let mut copied = 0usize;
            for s in strings.chain(&d.runpath) {
                assert!(!s.as_bytes().contains(&0), "dynamic string with a NUL");
                assert!(s.as_bytes().len() < data.len());
                copied += s.as_bytes().len();
                let _ = format!("{s} {s:?}");
            }
            // Memory for the facts stays within a small multiple of the input (as in the
            // ld.so.cache reader): no amplification by many entries sharing one string.
            assert!(copied <= 16 * data.len() + (64 << 10), "{copied} string bytes from {} bytes", data.len());
            let n = d.needed.len() + d.filter.len() + d.auxiliary.len();
            // The dynamic-order view lists each entry once, kinds matching the lists.
            assert_eq!(d.order.len(), n, "dependency order does not cover every entry");
            assert_eq!(d.dependencies().count(), n);
            // Each string comes from one dynamic entry, each entry takes at least 8 bytes.
            assert!(n <= data.len() / 8, "more strings than dynamic entries");
            let _ = (d.flags, d.flags_1);
        }
        let _ = format!("{info:?}");
    } else if let Err(e) = &full {
        assert!(!e.reason().is_empty());
        let _ = e.to_string();
    }
    // A limit of 0 entries may only turn a success into an error, never the reverse.
    if let Ok(i) = elf::parse_with_limit(data, 0) {
        assert!(full.as_ref().is_ok_and(|f| *f == i));
    }
    // A larger limit gives the same answer as the default when the default succeeds.
    if full.is_ok() {
        assert_eq!(elf::parse_with_limit(data, 1 << 20), full);
    }

    if let Some(raw) = elf::RawHeader::read(data) {
        let _ = (raw.class(), raw.big_endian(), raw.phnum, raw.phoff, raw.phentsize);
    }
    let head = &data[..data.len().min(64)];
    for abi in abis() {
        let v = elf::verify_candidate(data, data.len() as u64, &abi);
        // The resolver only keeps the first 64 bytes: the verdict must not depend on more.
        assert_eq!(v, elf::verify_candidate(head, data.len() as u64, &abi), "verdict depends on bytes past 64");
        if v == Verdict::Accept {
            assert!(elf::is_elf(data));
        }
        let _ = elf::machine_matches(abi.machine, abi.flags, data.get(18).copied().unwrap_or(0).into(), 0);
    }
}

// ---------------------------------------------------------------------------------------
// ld_cache
// ---------------------------------------------------------------------------------------

const CACHE_NAMES: &[&[u8]] =
    &[b"libc.so.6", b"libm.so.6", b"libz.so.1", b"libstdc++.so.6", b"ld-linux-x86-64.so.2", b"", b"lib", b"a"];

/// `LdCache::parse` in both byte orders, every entry walked, lookups of a few names.
pub fn ld_cache(data: &[u8]) {
    let hw: Vec<Bytes> = vec![Bytes::from("x86-64-v3"), Bytes::from("x86-64-v2")];
    for be in [false, true] {
        let cache = match LdCache::parse(data, be) {
            Ok(c) => c,
            Err(e) => {
                assert!(!e.reason().is_empty());
                continue;
            }
        };
        let _ = cache.format();
        let _ = cache.generator();
        let _ = cache.hwcaps_names();
        let mut total = 0usize;
        for e in cache.entries() {
            total += e.key.as_bytes().len() + e.value.as_bytes().len();
            let _ = (e.flags, e.hwcap, e.is_hwcaps_extension(), e.isa_level(), &e.hwcaps_subdir);
        }
        // Copies are bounded by the input size (with the parser's factor of 16 and slack).
        assert!(total <= data.len() * 16 + 64 * 1024 + 1, "cache strings not bounded by the input");
        let queries = [
            Lookup::new(ld_cache::accepted_flags(62, true, 0), &[], None),
            Lookup::new(ld_cache::accepted_flags(62, true, 0), &hw, None),
            Lookup::new(ld_cache::accepted_flags(3, false, 0), &hw, Some(LegacyHwcaps::new(u64::MAX, Some(1 << 48)))),
            Lookup::new(ld_cache::accepted_flags(40, false, 0x400), &[], Some(LegacyHwcaps::new(0, None))),
        ];
        let mut names: Vec<Vec<u8>> = CACHE_NAMES.iter().map(|n| n.to_vec()).collect();
        names.extend(cache.entries().iter().take(8).map(|e| e.key.to_vec()));
        for q in &queries {
            for n in &names {
                if let Some(e) = cache.lookup(n, q) {
                    assert_eq!(ld_cache::libcmp(n, e.key.as_bytes()), std::cmp::Ordering::Equal);
                    assert!(q.accepted_flags.contains(&e.flags));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// ld_so_conf
// ---------------------------------------------------------------------------------------

/// A small root for `ld_so_conf::directories`, with self-including configuration files.
fn conf_root() -> &'static (tempfile::TempDir, depclose::root::Root) {
    static ROOT: std::sync::OnceLock<(tempfile::TempDir, depclose::root::Root)> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let t = tempfile::Builder::new().prefix("depclose-fuzz-conf").tempdir().expect("tempdir");
        let r = t.path();
        fs::create_dir_all(r.join("etc/ld.so.conf.d")).expect("mkdir");
        fs::create_dir_all(r.join("usr/local/lib")).expect("mkdir");
        fs::write(r.join("etc/ld.so.conf"), b"include /etc/ld.so.conf.d/*.conf\ninclude /etc/ld.so.conf\n/a\n")
            .expect("write");
        fs::write(r.join("etc/ld.so.conf.d/a.conf"), b"/usr/local/lib\ninclude *.conf\ninclude /etc/ld.so.conf\n")
            .expect("write");
        fs::write(r.join("etc/ld.so.conf.d/b.conf"), b"hwcap 0 nosegneg\n/opt/lib:/x,/y\tz=libc5\n").expect("write");
        let _ = std::os::unix::fs::symlink("/etc/ld.so.conf.d", r.join("etc/ld.so.conf.d/loop.conf"));
        let _ = std::os::unix::fs::symlink("../../../../../etc/passwd", r.join("etc/ld.so.conf.d/up.conf"));
        let root = depclose::root::Root::new(r).expect("root");
        (t, root)
    })
}

/// `ld_so_conf::parse` on raw bytes; then the bytes become a configuration file of a small
/// root whose other files include one another, and `directories` follows it.
pub fn ld_so_conf(data: &[u8]) {
    use depclose::ld_so_conf::{self, Directive};
    let directives = ld_so_conf::parse(data);
    for d in &directives {
        match d {
            Directive::Include(pats) => pats.iter().for_each(|p| assert!(!p.as_bytes().contains(&0))),
            Directive::Dir(dir) => assert!(!dir.as_bytes().is_empty() && !dir.as_bytes().contains(&0)),
            _ => {}
        }
    }
    let _ = format!("{directives:?}");
    let (t, root) = conf_root();
    // One file per thread: the replay test may run bodies in parallel.
    let name = format!("etc/fuzz-{:?}.conf", std::thread::current().id()).replace(['(', ')'], "");
    fs::write(t.path().join(&name), data).expect("write the configuration");
    let conf = format!("/{name}");
    let dirs = ld_so_conf::directories(root, conf.as_bytes());
    for d in &dirs {
        let abs = if d.as_bytes().first() == Some(&b'/') { d.to_vec() } else { [b"/", d.as_bytes()].concat() };
        assert!(root.resolve(&abs, true).is_ok(), "directories() returned {d}, which does not exist");
    }
    assert_eq!(dirs, ld_so_conf::directories(root, conf.as_bytes()), "directories() not deterministic");
    let sys = [Bytes::from("/usr/local/lib"), Bytes::from("/etc")];
    let with = ld_so_conf::directories_with_system(root, conf.as_bytes(), &sys);
    assert!(with.len() <= dirs.len() + sys.len() && with[..dirs.len()] == dirs[..]);
}

// ---------------------------------------------------------------------------------------
// dlopen_note
// ---------------------------------------------------------------------------------------

/// An ELF file (64-bit little-endian or 32-bit big-endian) whose one `PT_NOTE` segment holds
/// an `FDO` dlopen note with `desc` as its descriptor, then the same note once more.
pub fn dlopen_note_elf(desc: &[u8], class64: bool, big_endian: bool) -> Vec<u8> {
    let mut w = elfgen::Writer { buf: Vec::new(), be: big_endian };
    let (ehsize, phsize) = if class64 { (64usize, 56usize) } else { (52, 32) };
    let mut note = Vec::new();
    for _ in 0..2 {
        let mut n = elfgen::Writer { buf: Vec::new(), be: big_endian };
        n.put(0, 4, 4);
        n.put(4, 4, desc.len() as u64);
        n.put(8, 4, u64::from(depclose::elf::notes::NT_FDO_DLOPEN_METADATA));
        n.buf.extend_from_slice(b"FDO\0");
        n.buf.extend_from_slice(desc);
        while n.buf.len() % 4 != 0 {
            n.buf.push(0);
        }
        note.extend(n.buf);
    }
    w.buf.extend_from_slice(b"\x7fELF");
    w.buf.extend_from_slice(&[if class64 { 2 } else { 1 }, if big_endian { 2 } else { 1 }, 1]);
    w.put(16, 2, elfgen::ET_DYN.into());
    w.put(18, 2, 62);
    w.put(20, 4, 1);
    let at = (ehsize + phsize) as u64;
    if class64 {
        w.put(32, 8, ehsize as u64);
        w.put(52, 2, ehsize as u64);
        w.put(54, 2, phsize as u64);
        w.put(56, 2, 1);
        let p = ehsize;
        w.put(p, 4, 4); // PT_NOTE
        w.put(p + 4, 4, 4); // PF_R
        w.put(p + 8, 8, at);
        w.put(p + 16, 8, at);
        w.put(p + 24, 8, at);
        w.put(p + 32, 8, note.len() as u64);
        w.put(p + 40, 8, note.len() as u64);
        w.put(p + 48, 8, 4);
    } else {
        w.put(28, 4, ehsize as u64);
        w.put(40, 2, ehsize as u64);
        w.put(42, 2, phsize as u64);
        w.put(44, 2, 1);
        let p = ehsize;
        w.put(p, 4, 4);
        w.put(p + 4, 4, at);
        w.put(p + 8, 4, at);
        w.put(p + 12, 4, at);
        w.put(p + 16, 4, note.len() as u64);
        w.put(p + 20, 4, note.len() as u64);
        w.put(p + 24, 4, 4);
        w.put(p + 28, 4, 4);
    }
    w.buf.resize(ehsize + phsize, 0);
    w.buf.extend(note);
    w.buf
}

/// The invariants of one `dlopen_notes` answer on `file`.
fn check_dlopen_notes(file: &[u8], r: &depclose::elf::notes::DlopenNotes) {
    let mut bytes = 0usize;
    for e in &r.entries {
        assert!(!e.sonames.is_empty(), "an entry without sonames");
        for s in &e.sonames {
            assert!(!s.is_empty() && !s.contains('\0'), "soname {s:?}");
            bytes += s.len();
        }
        bytes += e.feature.as_ref().map_or(0, String::len) + e.description.as_ref().map_or(0, String::len);
        let _ = (e.priority.as_str(), format!("{e:?}"));
    }
    // Every string comes from JSON text in the file (escapes only shrink it), read once.
    assert!(bytes <= file.len(), "{bytes} string bytes from a {}-byte file", file.len());
    assert!(r.entries.len() <= file.len() / 8, "more entries than the file can hold");
    for p in &r.problems {
        assert!(!p.is_empty());
    }
    assert_eq!(&depclose::elf::notes::dlopen_notes(file), r, "not deterministic");
}

/// `notes::dlopen_notes` on the raw bytes, then on small ELF files (both classes and byte
/// orders) holding the bytes twice as the descriptor of a dlopen note.
pub fn dlopen_note(data: &[u8]) {
    check_dlopen_notes(data, &depclose::elf::notes::dlopen_notes(data));
    let mut first: Option<depclose::elf::notes::DlopenNotes> = None;
    for (class64, be) in [(true, false), (false, true)] {
        let file = dlopen_note_elf(data, class64, be);
        let r = depclose::elf::notes::dlopen_notes(&file);
        check_dlopen_notes(&file, &r);
        // The same note twice: the second half of the entries repeats the first.
        let n = r.entries.len();
        assert!(n % 2 == 0 && r.entries[..n / 2] == r.entries[n / 2..], "two equal notes, unequal entries");
        // Class and byte order do not change what the descriptor says.
        match &first {
            None => first = Some(r),
            Some(f) => assert_eq!(f.entries, r.entries, "entries depend on the ELF class"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// strings_scan
// ---------------------------------------------------------------------------------------

/// A 64-bit little-endian ELF file whose one `PT_LOAD` (flags `flags`) covers the whole
/// file, with `body` after the headers.
pub fn strings_elf(body: &[u8], flags: u32) -> Vec<u8> {
    let mut w = elfgen::Writer { buf: Vec::new(), be: false };
    w.buf.extend_from_slice(b"\x7fELF\x02\x01\x01");
    w.put(16, 2, elfgen::ET_DYN.into());
    w.put(18, 2, 62);
    w.put(20, 4, 1);
    w.put(32, 8, 64);
    w.put(52, 2, 64);
    w.put(54, 2, 56);
    w.put(56, 2, 1);
    let total = (120 + body.len()) as u64;
    w.put(64, 4, 1); // PT_LOAD
    w.put(68, 4, u64::from(flags));
    w.put(64 + 32, 8, total);
    w.put(64 + 40, 8, total);
    w.buf.resize(120, 0);
    w.buf.extend_from_slice(body);
    w.buf
}

/// What `strings::scan` must find in a file of one read-only segment `seg`: every NUL with
/// its printable tail before it, byte by byte, no chunks.
fn naive_strings(seg: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use depclose::elf::strings::{is_path_literal, is_soname_literal};
    let (mut paths, mut sonames) = (Vec::new(), Vec::new());
    let mut run_start = 0;
    for (j, &b) in seg.iter().enumerate() {
        if b == 0 {
            let s = &seg[run_start..j];
            if is_path_literal(s) {
                paths.push(s.to_vec());
            } else if is_soname_literal(s) {
                sonames.push(s.to_vec());
            }
        }
        if !(0x20..0x7f).contains(&b) {
            run_start = j + 1;
        }
    }
    for v in [&mut paths, &mut sonames] {
        v.sort();
        v.dedup();
    }
    (paths, sonames)
}

/// `strings::scan` on the raw bytes; then on the bytes as the body of a read-only segment
/// (equal to a byte-by-byte scan), of a writable one (nothing), and with small limits (a
/// subset, marked truncated). Also `script::shebang` on the bytes (its invariants).
pub fn strings_scan(data: &[u8]) {
    use depclose::elf::strings::{self, is_path_literal, is_soname_literal, StringLimits};
    use depclose::script::{shebang, BINPRM_BUF_SIZE};
    let sb = shebang(data);
    assert_eq!(sb, shebang(&data[..data.len().min(BINPRM_BUF_SIZE)]), "shebang reads past the kernel's buffer");
    if let Some(sb) = &sb {
        assert!(data.starts_with(b"#!"));
        let i = sb.interpreter.as_bytes();
        assert!(!i.is_empty() && i.len() < BINPRM_BUF_SIZE - 2);
        assert!(!i.iter().any(|&b| b == 0 || b == b' ' || b == b'\t'), "interpreter {i:?}");
        // The interpreter is a run of the line, right after "#!" and blanks.
        let blanks = data[2..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        assert!(data[2 + blanks..].starts_with(i));
        if let Some(a) = &sb.arg {
            // (It may end in a blank when a NUL cuts it: the kernel reads it up to the NUL.)
            assert!(!a.contains(&0) && !a.starts_with(b" ") && !a.starts_with(b"\t"));
        }
    }
    let check = |file: &[u8], r: &strings::Strings| {
        assert!(r.paths.windows(2).all(|w| w[0] < w[1]) && r.sonames.windows(2).all(|w| w[0] < w[1]));
        assert!(r.paths.iter().all(|p| is_path_literal(p)), "not a path: {:?}", r.paths);
        assert!(r.sonames.iter().all(|s| is_soname_literal(s)), "not a soname: {:?}", r.sonames);
        let total: usize = r.paths.iter().chain(&r.sonames).map(|s| s.len()).sum();
        assert!(total <= file.len(), "more string bytes than the file has");
    };
    let raw = strings::scan(data);
    check(data, &raw);
    let file = strings_elf(data, 4);
    let r = strings::scan(&file);
    check(&file, &r);
    assert!(!r.truncated);
    let (paths, sonames) = naive_strings(&file);
    let got_p: Vec<Vec<u8>> = r.paths.iter().map(|b| b.to_vec()).collect();
    let got_s: Vec<Vec<u8>> = r.sonames.iter().map(|b| b.to_vec()).collect();
    assert_eq!((got_p, got_s), (paths, sonames), "differs from a byte-by-byte scan");
    let w = strings::scan(&strings_elf(data, 6));
    assert!(w.paths.is_empty() && w.sonames.is_empty(), "a writable segment was scanned");
    let n = r.paths.len() + r.sonames.len();
    let few = strings::scan_with_limits(&file, &StringLimits::new(u64::MAX, 1));
    assert!(few.paths.len() + few.sonames.len() <= 1);
    assert_eq!(few.truncated, n > 1);
    assert!(few.paths.iter().all(|p| r.paths.contains(p)) && few.sonames.iter().all(|s| r.sonames.contains(s)));
    let short = strings::scan_with_limits(&file, &StringLimits::new(file.len() as u64 / 2, 1 << 16));
    assert!(short.paths.iter().all(|p| r.paths.contains(p)));
}

// ---------------------------------------------------------------------------------------
// A tiny ELF writer
// ---------------------------------------------------------------------------------------

/// A tiny ELF writer: header, `PT_INTERP`, one `PT_LOAD` over the whole file, `PT_DYNAMIC`
/// and a string table. Any class, byte order and machine.
pub mod elfgen {
    /// `ET_EXEC`.
    pub const ET_EXEC: u16 = 2;
    /// `ET_DYN`.
    pub const ET_DYN: u16 = 3;

    /// What to write.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Spec {
        pub class64: bool,
        pub big_endian: bool,
        pub machine: u16,
        pub e_type: u16,
        pub interp: Option<Vec<u8>>,
        /// Whether there is a `PT_DYNAMIC` at all.
        pub dynamic: bool,
        pub needed: Vec<Vec<u8>>,
        pub soname: Option<Vec<u8>>,
        pub rpath: Option<Vec<u8>>,
        pub runpath: Option<Vec<u8>>,
        pub flags_1: u64,
    }

    impl Default for Spec {
        fn default() -> Self {
            Spec {
                class64: true,
                big_endian: false,
                machine: 62,
                e_type: ET_DYN,
                interp: None,
                dynamic: true,
                needed: Vec::new(),
                soname: None,
                rpath: None,
                runpath: None,
                flags_1: 0,
            }
        }
    }

    impl Spec {
        /// An x86-64 shared library with a SONAME.
        pub fn lib(soname: &str, needed: &[&str]) -> Spec {
            Spec {
                soname: Some(soname.as_bytes().to_vec()),
                needed: needed.iter().map(|n| n.as_bytes().to_vec()).collect(),
                ..Spec::default()
            }
        }

        /// An x86-64 PIE with an interpreter.
        pub fn exe(interp: &str, needed: &[&str]) -> Spec {
            Spec {
                interp: Some(interp.as_bytes().to_vec()),
                needed: needed.iter().map(|n| n.as_bytes().to_vec()).collect(),
                flags_1: 0x0800_0000,
                ..Spec::default()
            }
        }
    }

    /// Where things are in a written file (for tests that damage it).
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Layout {
        pub phoff: usize,
        pub phentsize: usize,
        pub phnum: usize,
        /// Index of `PT_LOAD` / `PT_DYNAMIC` among the program headers.
        pub load_index: usize,
        pub dynamic_index: Option<usize>,
        pub strtab_off: usize,
        pub strsz: usize,
        pub dyn_off: usize,
        /// Number of dynamic entries including the terminating `DT_NULL`.
        pub dyn_count: usize,
        pub dyn_entsize: usize,
        /// Load address of file offset 0.
        pub base: u64,
    }

    pub struct Writer {
        pub buf: Vec<u8>,
        pub be: bool,
    }

    impl Writer {
        pub fn put(&mut self, off: usize, width: usize, v: u64) {
            if self.buf.len() < off + width {
                self.buf.resize(off + width, 0);
            }
            let bytes = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
            let src = if self.be { &bytes[8 - width..] } else { &bytes[..width] };
            self.buf[off..off + width].copy_from_slice(src);
        }
    }

    /// Write an ELF file for `spec`.
    pub fn build(spec: &Spec) -> Vec<u8> {
        build_with_layout(spec).0
    }

    /// Write an ELF file for `spec` and tell where its parts are.
    pub fn build_with_layout(spec: &Spec) -> (Vec<u8>, Layout) {
        let c64 = spec.class64;
        let (ehsize, phentsize, word, entsize) = if c64 { (64, 56, 8, 16) } else { (52, 32, 4, 8) };
        let phnum = usize::from(spec.interp.is_some()) + 1 + usize::from(spec.dynamic);
        let base: u64 = if spec.e_type == ET_EXEC { 0x40_0000 } else { 0 };
        let mut w = Writer { buf: vec![0; ehsize], be: spec.big_endian };
        let mut lay = Layout { phoff: ehsize, phentsize, phnum, dyn_entsize: entsize, base, ..Layout::default() };
        let mut off = ehsize + phnum * phentsize;
        let interp_off = off;
        if let Some(i) = &spec.interp {
            w.buf.resize(off, 0);
            w.buf.extend_from_slice(i);
            w.buf.push(0);
            off = w.buf.len();
        }
        // String table: "\0" then each string.
        let strtab_off = off;
        let mut strtab = vec![0u8];
        let mut add = |s: &[u8]| -> u64 {
            let o = strtab.len() as u64;
            strtab.extend_from_slice(s);
            strtab.push(0);
            o
        };
        let mut dyns: Vec<(u64, u64)> = Vec::new();
        if spec.dynamic {
            for n in &spec.needed {
                dyns.push((1, add(n)));
            }
            if let Some(s) = &spec.soname {
                dyns.push((14, add(s)));
            }
            if let Some(s) = &spec.rpath {
                dyns.push((15, add(s)));
            }
            if let Some(s) = &spec.runpath {
                dyns.push((29, add(s)));
            }
            if spec.flags_1 != 0 {
                dyns.push((0x6fff_fffb, spec.flags_1));
            }
            dyns.push((5, base + strtab_off as u64));
            dyns.push((10, strtab.len() as u64));
            dyns.push((0, 0));
        }
        w.buf.resize(strtab_off, 0);
        w.buf.extend_from_slice(&strtab);
        lay.strtab_off = strtab_off;
        lay.strsz = strtab.len();
        let dyn_off = (w.buf.len() + 7) & !7;
        w.buf.resize(dyn_off, 0);
        for (i, (t, v)) in dyns.iter().enumerate() {
            w.put(dyn_off + i * entsize, word, *t);
            w.put(dyn_off + i * entsize + word, word, *v);
        }
        lay.dyn_off = dyn_off;
        lay.dyn_count = dyns.len();
        let total = w.buf.len().max(dyn_off);
        w.buf.resize(total, 0);

        // Header.
        w.buf[..4].copy_from_slice(b"\x7fELF");
        w.buf[4] = if c64 { 2 } else { 1 };
        w.buf[5] = if spec.big_endian { 2 } else { 1 };
        w.buf[6] = 1;
        w.put(16, 2, u64::from(spec.e_type));
        w.put(18, 2, u64::from(spec.machine));
        w.put(20, 4, 1);
        if c64 {
            w.put(32, 8, ehsize as u64); // e_phoff
            w.put(52, 2, ehsize as u64);
            w.put(54, 2, phentsize as u64);
            w.put(56, 2, phnum as u64);
            w.put(58, 2, 64);
        } else {
            w.put(28, 4, ehsize as u64);
            w.put(40, 2, ehsize as u64);
            w.put(42, 2, phentsize as u64);
            w.put(44, 2, phnum as u64);
            w.put(46, 2, 40);
        }
        // Program headers: (type, offset, size, flags, align).
        let mut phs: Vec<(u32, usize, usize, u32, u64)> = Vec::new();
        if let Some(i) = &spec.interp {
            phs.push((3, interp_off, i.len() + 1, 4, 1));
        }
        lay.load_index = phs.len();
        phs.push((1, 0, total, 5, 0x1000));
        if spec.dynamic {
            lay.dynamic_index = Some(phs.len());
            phs.push((2, dyn_off, dyns.len() * entsize, 6, 8));
        }
        for (n, (ty, o, sz, fl, al)) in phs.into_iter().enumerate() {
            let p = ehsize + n * phentsize;
            let vaddr = base + o as u64;
            if c64 {
                w.put(p, 4, u64::from(ty));
                w.put(p + 4, 4, u64::from(fl));
                w.put(p + 8, 8, o as u64);
                w.put(p + 16, 8, vaddr);
                w.put(p + 24, 8, vaddr);
                w.put(p + 32, 8, sz as u64);
                w.put(p + 40, 8, sz as u64);
                w.put(p + 48, 8, al);
            } else {
                w.put(p, 4, u64::from(ty));
                w.put(p + 4, 4, o as u64);
                w.put(p + 8, 4, vaddr);
                w.put(p + 12, 4, vaddr);
                w.put(p + 16, 4, sz as u64);
                w.put(p + 20, 4, sz as u64);
                w.put(p + 24, 4, u64::from(fl));
                w.put(p + 28, 4, al);
            }
        }
        (w.buf, lay)
    }
}

// ---------------------------------------------------------------------------------------
// resolve_small_root
// ---------------------------------------------------------------------------------------

/// Reads the fuzz input as a stream of small decisions; past the end everything is 0.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Strings the decoder can pick by index (byte < 0xc0), so that the fuzzer reaches
/// meaningful names quickly; bytes 0xc0..=0xff introduce a raw string of up to 63 bytes.
pub const DICT: &[&str] = &[
    "libc.so.6",
    "liba.so.1",
    "libb.so.1",
    "libc.so",
    "ld-linux-x86-64.so.2",
    "/lib64/ld-linux-x86-64.so.2",
    "/lib",
    "/usr/lib",
    "$ORIGIN",
    "$ORIGIN/../lib",
    "${ORIGIN}/lib:/lib",
    "$LIB",
    "$PLATFORM",
    "/lib/x86_64-linux-gnu",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "",
    "/bin/prog",
    "lib/liba.so.1",
    "linux-vdso.so.1",
    "/lib/liba.so.1",
    "glibc-hwcaps",
    "x86-64-v2",
    "/",
    "../lib",
    "liba.so.1:libb.so.1",
    "ld.so.cache",
    "ld.so.preload",
    "ld-musl-x86_64.so.1",
    "/lib/ld-musl-x86_64.so.1",
    "libx.so",
    "a",
    "loop",
    "../loop",
];

/// Directories (relative to the root) where entries are created.
pub const DIRS: &[&str] = &[
    "",
    "lib",
    "lib64",
    "usr/lib",
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "etc",
    "bin",
    "opt/app",
    "lib/glibc-hwcaps/x86-64-v2",
    "usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3",
    "lib/tls",
];

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = self.pos.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }

    pub fn string(&mut self) -> Vec<u8> {
        let b = self.byte();
        if b < 0xc0 {
            DICT[usize::from(b) % DICT.len()].as_bytes().to_vec()
        } else {
            let n = usize::from(b & 0x3f);
            self.take(n).to_vec()
        }
    }

    /// A single path component: no `/`, no NUL, not empty, `.` or `..`.
    pub fn name(&mut self) -> Vec<u8> {
        let mut s: Vec<u8> = self.string().into_iter().map(|c| if c == b'/' || c == 0 { b'_' } else { c }).collect();
        if s.is_empty() || s == b"." || s == b".." {
            s = b"x".to_vec();
        }
        s
    }

    pub fn rel_path(&mut self) -> PathBuf {
        let d = DIRS[usize::from(self.byte()) % DIRS.len()];
        let n = self.name();
        Path::new(d).join(std::ffi::OsStr::from_bytes(&n))
    }

    pub fn elf_spec(&mut self) -> elfgen::Spec {
        let f = self.byte();
        let mut s = elfgen::Spec {
            e_type: if f & 1 != 0 { elfgen::ET_EXEC } else { elfgen::ET_DYN },
            ..elfgen::Spec::default()
        };
        if f & 2 != 0 {
            s.interp = Some(self.string());
        }
        s.dynamic = f & 4 == 0;
        if f & 8 != 0 {
            s.class64 = false;
            s.machine = 3;
        }
        if f & 16 != 0 {
            s.soname = Some(self.string());
        }
        if f & 32 != 0 {
            s.rpath = Some(self.string());
        }
        if f & 64 != 0 {
            s.runpath = Some(self.string());
        }
        if f & 128 != 0 {
            let g = self.byte();
            s.flags_1 = if g & 1 != 0 { 0x800 } else { 0 } | if g & 2 != 0 { 0x0800_0000 } else { 0 };
            if g & 4 != 0 {
                s.big_endian = true;
            }
            if g & 8 != 0 {
                s.machine = 183;
            }
        }
        let n = self.byte() % 5;
        for _ in 0..n {
            s.needed.push(self.string());
        }
        s
    }
}

/// Create the parents of `rel` below `root` one at a time, refusing to go through anything
/// that is not a real directory (an earlier symlink could otherwise lead outside the root).
fn safe_parent(root: &Path, rel: &Path) -> Option<PathBuf> {
    let mut cur = root.to_path_buf();
    let parent = rel.parent()?;
    for c in parent.components() {
        let Component::Normal(c) = c else { return None };
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return None,
            Err(_) => fs::create_dir(&cur).ok()?,
        }
    }
    Some(cur)
}

fn write_new(root: &Path, rel: &Path, bytes: &[u8]) {
    if safe_parent(root, rel).is_none() {
        return;
    }
    let opened = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o755)
        .open(root.join(rel));
    if let Ok(mut f) = opened {
        let _ = f.write_all(bytes);
    }
}

/// What the decoder built, besides the files.
pub struct Scenario {
    pub settings: u8,
    pub ld_library_path: Vec<u8>,
    pub preload: Vec<u8>,
}

/// Decode the fuzz input into a tree under `root`: `/bin/prog` (an ELF skeleton with
/// fuzz-chosen names), then up to 24 operations (ELF libraries, raw files, symlinks with any
/// target, directories, FIFOs and sockets, damaged ELF files). Symlinks are created last,
/// and nothing is ever created through a symlink.
pub fn build_tree(data: &[u8], root: &Path) -> Scenario {
    let mut c = Cursor::new(data);
    let settings = c.byte();
    let ld_library_path = if settings & 2 != 0 { c.string() } else { Vec::new() };
    let preload = if settings & 4 != 0 { c.string() } else { Vec::new() };
    let mut prog = c.elf_spec();
    if prog.interp.is_none() && settings & 1 == 0 {
        prog.interp = Some(b"/lib64/ld-linux-x86-64.so.2".to_vec());
    }
    write_new(root, Path::new("bin/prog"), &elfgen::build(&prog));
    let mut links: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for _ in 0..24 {
        if c.done() {
            break;
        }
        let op = c.byte() % 7;
        let rel = c.rel_path();
        match op {
            0 => {
                let spec = c.elf_spec();
                write_new(root, &rel, &elfgen::build(&spec));
            }
            1 => {
                let n = usize::from(c.byte());
                let bytes = c.take(n).to_vec();
                write_new(root, &rel, &bytes);
            }
            2 => links.push((rel, c.string())),
            3 => {
                if safe_parent(root, &rel).is_some() {
                    let _ = fs::create_dir(root.join(&rel));
                }
            }
            4 => {
                if safe_parent(root, &rel).is_some() {
                    let p = std::ffi::CString::new(root.join(&rel).as_os_str().as_bytes()).expect("no NUL");
                    // SAFETY: a valid NUL-terminated path.
                    unsafe { libc::mkfifo(p.as_ptr(), 0o644) };
                }
            }
            5 => {
                if safe_parent(root, &rel).is_some() {
                    let _ = std::os::unix::net::UnixListener::bind(root.join(&rel));
                }
            }
            _ => {
                // A damaged ELF library: truncated, or one byte replaced.
                let spec = c.elf_spec();
                let mut bytes = elfgen::build(&spec);
                let at = usize::from(c.byte()) | usize::from(c.byte()) << 8;
                let v = c.byte();
                if v == 0 {
                    bytes.truncate(at % (bytes.len() + 1));
                } else if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = v;
                }
                write_new(root, &rel, &bytes);
            }
        }
    }
    for (rel, target) in links {
        if safe_parent(root, &rel).is_some() {
            let _ = std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), root.join(&rel));
        }
    }
    Scenario { settings, ld_library_path, preload }
}

fn resolver_for(root: &Path, s: &Scenario) -> Resolver {
    let mut b = Resolver::builder();
    b.root(root);
    let mut limits = Limits::default();
    limits.max_objects = 256;
    limits.max_file_bytes = 1 << 20;
    b.limits(limits);
    b.threads(1);
    if s.settings & 1 != 0 {
        b.cwd(Some("/".as_ref()));
    }
    if s.settings & 2 != 0 {
        b.ld_library_path(Some(std::ffi::OsStr::from_bytes(&s.ld_library_path)));
    }
    if s.settings & 4 != 0 {
        b.preload([std::ffi::OsStr::from_bytes(&s.preload)]);
    }
    if s.settings & 8 != 0 {
        b.origin(OriginMode::AsGiven);
    }
    if s.settings & 16 != 0 {
        b.secure(true);
    }
    if s.settings & 32 != 0 {
        b.cache(CacheSource::None);
    }
    if s.settings & 64 != 0 {
        b.assume_ldconfig(true);
    }
    if s.settings & 128 != 0 {
        b.hwcaps(Hwcaps::None);
    }
    b.build().expect("root is a directory")
}

/// True when `p` (an in-root path) is absolute and has no `..` component.
fn in_root_path(p: &Path) -> bool {
    p.as_os_str().as_bytes().first() == Some(&b'/') && !p.components().any(|c| c == Component::ParentDir)
}

/// The invariants every closure must satisfy over the root at `root` (canonical).
pub fn check_closure(c: &Closure, root: &Path) {
    let n = c.objects.len();
    assert!(n >= 1, "a closure holds at least the input");
    assert_eq!(c.root, root);
    for e in &c.edges {
        assert!(e.from < n && e.to < n, "edge index out of range: {e:?} with {n} objects");
        if let depclose::FoundVia::Rpath { owner } = e.via {
            assert!(owner < n, "rpath owner out of range");
        }
    }
    for m in &c.missing {
        assert!(m.from < n, "missing.from out of range");
        for a in &m.tried {
            let _ = (&a.path, &a.via, &a.rejection);
        }
    }
    if let Some(f) = &c.fatal {
        assert!(f.from < n, "fatal.from out of range");
        assert!(!f.message.is_empty());
    }
    for d in &c.diagnostics {
        assert!(d.object.is_none_or(|o| o < n), "diagnostic object out of range");
    }
    let check_location = |loc: &depclose::Location| {
        let real = &loc.realpath;
        assert!(in_root_path(real), "realpath not an absolute in-root path: {real:?}");
        let host = root.join(real.strip_prefix("/").expect("absolute"));
        let meta = fs::symlink_metadata(&host).unwrap_or_else(|e| panic!("realpath {real:?} not under the root: {e}"));
        assert!(!meta.file_type().is_symlink(), "realpath {real:?} is a symlink");
        let canon = fs::canonicalize(&host).expect("canonicalize");
        assert!(canon.starts_with(root), "realpath {real:?} resolves outside the root: {canon:?}");
        for h in &loc.hops {
            assert!(in_root_path(&h.link), "hop link not an absolute in-root path: {:?}", h.link);
            let host = root.join(h.link.strip_prefix("/").expect("absolute"));
            let m = fs::symlink_metadata(&host).unwrap_or_else(|e| panic!("hop {:?} not under the root: {e}", h.link));
            assert!(m.file_type().is_symlink(), "hop {:?} is not a symlink", h.link);
            let parent = fs::canonicalize(host.parent().expect("parent")).expect("canonicalize");
            assert!(parent.starts_with(root), "hop {:?} outside the root", h.link);
        }
    };
    for (i, o) in c.objects.iter().enumerate() {
        check_location(&o.file.location);
        for v in &o.file.variants {
            check_location(&v.location);
        }
        assert!(o.loaded_by.is_none_or(|l| l < n), "loaded_by out of range");
        if i > 0 {
            assert_ne!(o.role, depclose::Role::Input, "only objects[0] is the input");
        }
    }
    assert_eq!(c.objects[0].role, depclose::Role::Input);
    let _ = c.loaded_files();
    let _ = c.is_complete();
}

/// The symbol checks over a fuzzed closure: no panic or hang on damaged tables, indices in
/// range, the same report twice (from the cache the second time).
pub fn check_symbols(c: &Closure, r: &Resolver) {
    let cache = depclose::symcheck::SymbolCache::new();
    let first = cache.check(c, r);
    let again = cache.check(c, r);
    assert_eq!(first, again, "the symbol report changed on a second check");
    let n = c.objects.len();
    for p in &first.version_problems {
        assert!(p.provider < n && p.required_by < n);
    }
    for u in &first.undefined {
        assert!(u.object < n);
    }
    for q in &first.required {
        assert!(q.required_by < n && q.provider.is_none_or(|p| p < n));
    }
    for (i, why) in &first.unreadable {
        assert!(*i < n && !why.is_empty());
    }
    let _ = (first.ldd_lines(c), first.highest_versions(), first.is_fatal(), first.is_clean());
}

/// Build a small root from the input, resolve `/bin/prog` in it three times (twice with one
/// resolver, once with a fresh one) and check the invariants and determinism.
pub fn resolve_small_root(data: &[u8]) {
    let tmp = tempfile::Builder::new().prefix("depclose-fuzz").tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonicalize");
    let s = build_tree(data, &root);
    let r = resolver_for(&root, &s);
    let first = r.closure_in_root("/bin/prog");
    let again = r.closure_in_root("/bin/prog");
    let fresh = resolver_for(&root, &s).closure_in_root("/bin/prog");
    match (&first, &again, &fresh) {
        (Ok(a), Ok(b), Ok(c)) => {
            check_closure(a, &root);
            check_symbols(a, &r);
            assert_eq!(a, b, "same resolver, different closures");
            assert_eq!(a, c, "fresh resolver, different closure");
        }
        (Err(a), Err(b), Err(c)) => {
            let text = a.to_string();
            assert!(text.starts_with(&a.path().display().to_string()), "error does not name the file: {text}");
            assert!(!a.message().is_empty());
            assert_eq!(text, b.to_string());
            assert_eq!(text, c.to_string());
            assert_eq!(a.kind(), c.kind());
        }
        _ => panic!("non-deterministic: {first:?} / {again:?} / {fresh:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// symbols: a writer of ELF files with dynamic symbols and versions, and the target body
// ---------------------------------------------------------------------------------------

/// A tiny writer of ELF files with a dynamic symbol table, a hash table (`DT_HASH` or
/// `DT_GNU_HASH`), `DT_VERSYM`, `DT_VERNEED` and `DT_VERDEF`, in any class and byte order:
/// one `PT_LOAD` over the whole file and a `PT_DYNAMIC`; no section headers.
pub mod symgen {
    use super::elfgen::Writer;

    /// One symbol (index 0, the null symbol, is written first and is not listed).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Sym {
        pub name: Vec<u8>,
        pub value: u64,
        pub size: u64,
        /// `st_info`: `bind << 4 | type`.
        pub info: u8,
        pub other: u8,
        pub shndx: u16,
        /// The `DT_VERSYM` entry.
        pub versym: u16,
    }

    impl Sym {
        /// A defined global function with version entry `versym`.
        pub fn def(name: &str, versym: u16) -> Sym {
            Sym { name: name.into(), value: 0x1000, size: 8, info: 0x12, other: 0, shndx: 7, versym }
        }

        /// An undefined global function with version entry `versym`.
        pub fn undef(name: &str, versym: u16) -> Sym {
            Sym { name: name.into(), value: 0, size: 0, info: 0x12, other: 0, shndx: 0, versym }
        }
    }

    /// A version definition; its index is its position plus one.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Def {
        pub flags: u16,
        /// The version's name, then its parents.
        pub names: Vec<Vec<u8>>,
    }

    /// A version requirement: (`vna_name`, `vna_flags`, `vna_other`) of file `file`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Need {
        pub file: Vec<u8>,
        pub aux: Vec<(Vec<u8>, u16, u16)>,
    }

    /// What to write.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Spec {
        pub class64: bool,
        pub big_endian: bool,
        pub machine: u16,
        /// `DT_GNU_HASH` rather than `DT_HASH`.
        pub gnu_hash: bool,
        /// Whether to write `DT_VERSYM`.
        pub versym: bool,
        pub soname: Option<Vec<u8>>,
        pub needed: Vec<Vec<u8>>,
        pub syms: Vec<Sym>,
        pub defs: Vec<Def>,
        pub needs: Vec<Need>,
    }

    impl Default for Spec {
        fn default() -> Self {
            Spec {
                class64: true,
                big_endian: false,
                machine: 62,
                gnu_hash: true,
                versym: true,
                soname: None,
                needed: Vec::new(),
                syms: Vec::new(),
                defs: Vec::new(),
                needs: Vec::new(),
            }
        }
    }

    impl Spec {
        /// A library `libv.so.1` defining `f@@V_2`, `f@V_1` and `g` (global), requiring
        /// `puts@GLIBC_2.2.5` of `libc.so.6` (and a weak `GLIBC_2.34`).
        pub fn sample() -> Spec {
            Spec {
                soname: Some(b"libv.so.1".to_vec()),
                needed: vec![b"libc.so.6".to_vec()],
                syms: vec![
                    Sym::undef("puts", 4),
                    Sym::def("f", 3),
                    Sym::def("f", 0x8002),
                    Sym::def("g", 1),
                    Sym { info: 0x16, ..Sym::def("tls_var", 3) },
                    Sym { info: 0x20, ..Sym::undef("weak_ref", 1) },
                ],
                defs: vec![
                    Def { flags: 1, names: vec![b"libv.so.1".to_vec()] },
                    Def { flags: 0, names: vec![b"V_1".to_vec()] },
                    Def { flags: 0, names: vec![b"V_2".to_vec(), b"V_1".to_vec()] },
                ],
                needs: vec![Need {
                    file: b"libc.so.6".to_vec(),
                    aux: vec![(b"GLIBC_2.2.5".to_vec(), 0, 4), (b"GLIBC_2.34".to_vec(), 2, 5)],
                }],
                ..Spec::default()
            }
        }
    }

    /// The ELF hash of a name.
    pub fn elf_hash(name: &[u8]) -> u32 {
        let mut h: u32 = 0;
        for &c in name {
            h = (h << 4).wrapping_add(u32::from(c));
            let g = h & 0xf000_0000;
            if g != 0 {
                h ^= g >> 24;
            }
            h &= !g;
        }
        h
    }

    /// The GNU hash of a name.
    pub fn gnu_hash(name: &[u8]) -> u32 {
        name.iter().fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(u32::from(c)))
    }

    /// Where the tables are in a written file (file offsets; the load address is 0).
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Layout {
        pub strtab: usize,
        pub symtab: usize,
        pub hash: usize,
        pub versym: usize,
        pub verneed: usize,
        pub verdef: usize,
        pub dynamic: usize,
    }

    /// Write the file.
    pub fn build(spec: &Spec) -> Vec<u8> {
        build_with_layout(spec).0
    }

    /// Write the file and tell where its tables are.
    pub fn build_with_layout(spec: &Spec) -> (Vec<u8>, Layout) {
        let c64 = spec.class64;
        let (ehsize, phentsize, word) = if c64 { (64usize, 56usize, 8usize) } else { (52, 32, 4) };
        let mut w = Writer { buf: vec![0; ehsize + 2 * phentsize], be: spec.big_endian };
        let mut lay = Layout::default();
        let align = |w: &mut Writer, a: usize| {
            let n = w.buf.len().div_ceil(a) * a;
            w.buf.resize(n, 0);
            n
        };
        // Strings.
        let mut strtab = vec![0u8];
        let mut add = |s: &[u8]| -> u64 {
            let o = strtab.len() as u64;
            strtab.extend_from_slice(s);
            strtab.push(0);
            o
        };
        let needed: Vec<u64> = spec.needed.iter().map(|n| add(n)).collect();
        let soname = spec.soname.as_ref().map(|s| add(s));
        let names: Vec<u64> = spec.syms.iter().map(|s| add(&s.name)).collect();
        let def_names: Vec<Vec<u64>> = spec.defs.iter().map(|d| d.names.iter().map(|n| add(n)).collect()).collect();
        let need_names: Vec<(u64, Vec<u64>)> =
            spec.needs.iter().map(|n| (add(&n.file), n.aux.iter().map(|a| add(&a.0)).collect())).collect();
        lay.strtab = w.buf.len();
        w.buf.extend_from_slice(&strtab);
        // Symbols (index 0 is the null symbol).
        let symsize = if c64 { 24 } else { 16 };
        lay.symtab = align(&mut w, 8);
        let nsyms = spec.syms.len() + 1;
        w.buf.resize(lay.symtab + nsyms * symsize, 0);
        for (i, s) in spec.syms.iter().enumerate() {
            let at = lay.symtab + (i + 1) * symsize;
            w.put(at, 4, names[i]);
            if c64 {
                w.buf[at + 4] = s.info;
                w.buf[at + 5] = s.other;
                w.put(at + 6, 2, u64::from(s.shndx));
                w.put(at + 8, 8, s.value);
                w.put(at + 16, 8, s.size);
            } else {
                w.put(at + 4, 4, s.value);
                w.put(at + 8, 4, s.size);
                w.buf[at + 12] = s.info;
                w.buf[at + 13] = s.other;
                w.put(at + 14, 2, u64::from(s.shndx));
            }
        }
        // Hash table.
        lay.hash = align(&mut w, 8);
        if spec.gnu_hash {
            // One bucket holding every symbol from index 1, a bloom word of all ones.
            let at = lay.hash;
            w.put(at, 4, 1);
            w.put(at + 4, 4, 1);
            w.put(at + 8, 4, 1);
            w.put(at + 12, 4, 6);
            w.put(at + 16, word, u64::MAX);
            let b = at + 16 + word;
            w.put(b, 4, if spec.syms.is_empty() { 0 } else { 1 });
            for (i, s) in spec.syms.iter().enumerate() {
                let last = i + 1 == spec.syms.len();
                w.put(b + 4 + 4 * i, 4, u64::from((gnu_hash(&s.name) & !1) | u32::from(last)));
            }
            w.buf.resize(b + 4 + 4 * spec.syms.len(), 0);
        } else {
            // nbucket 1, nchain = number of symbols; bucket -> 1, chain i -> i + 1. The words
            // are 64-bit on 64-bit s390 (and Alpha), as glibc and binutils read them there.
            let at = lay.hash;
            let hw = if c64 && (spec.machine == 22 || spec.machine == 0x9026) { 8 } else { 4 };
            w.put(at, hw, 1);
            w.put(at + hw, hw, nsyms as u64);
            w.put(at + 2 * hw, hw, if nsyms > 1 { 1 } else { 0 });
            for i in 0..nsyms {
                w.put(at + (3 + i) * hw, hw, if i > 0 && i + 1 < nsyms { (i + 1) as u64 } else { 0 });
            }
        }
        // Versym.
        lay.versym = align(&mut w, 2);
        if spec.versym {
            w.put(lay.versym, 2, 0);
            for (i, s) in spec.syms.iter().enumerate() {
                w.put(lay.versym + 2 * (i + 1), 2, u64::from(s.versym));
            }
        }
        // Verneed: records of 16 bytes, each followed by its aux entries.
        lay.verneed = align(&mut w, 4);
        for (k, n) in spec.needs.iter().enumerate() {
            let at = w.buf.len();
            let size = 16 + 16 * n.aux.len();
            w.put(at, 2, 1);
            w.put(at + 2, 2, n.aux.len() as u64);
            w.put(at + 4, 4, need_names[k].0);
            w.put(at + 8, 4, if n.aux.is_empty() { 0 } else { 16 });
            w.put(at + 12, 4, if k + 1 == spec.needs.len() { 0 } else { size as u64 });
            for (j, (name, flags, other)) in n.aux.iter().enumerate() {
                let a = at + 16 + 16 * j;
                w.put(a, 4, u64::from(elf_hash(name)));
                w.put(a + 4, 2, u64::from(*flags));
                w.put(a + 6, 2, u64::from(*other));
                w.put(a + 8, 4, need_names[k].1[j]);
                w.put(a + 12, 4, if j + 1 == n.aux.len() { 0 } else { 16 });
            }
        }
        // Verdef: records of 20 bytes, each followed by its aux entries of 8.
        lay.verdef = align(&mut w, 4);
        for (k, d) in spec.defs.iter().enumerate() {
            let at = w.buf.len();
            let size = 20 + 8 * d.names.len();
            w.put(at, 2, 1);
            w.put(at + 2, 2, u64::from(d.flags));
            w.put(at + 4, 2, (k + 1) as u64);
            w.put(at + 6, 2, d.names.len() as u64);
            w.put(at + 8, 4, u64::from(d.names.first().map_or(0, |n| elf_hash(n))));
            w.put(at + 12, 4, 20);
            w.put(at + 16, 4, if k + 1 == spec.defs.len() { 0 } else { size as u64 });
            for (j, &name) in def_names[k].iter().enumerate() {
                let a = at + 20 + 8 * j;
                w.put(a, 4, name);
                w.put(a + 4, 4, if j + 1 == d.names.len() { 0 } else { 8 });
            }
        }
        // Dynamic section.
        let mut dyns: Vec<(u64, u64)> = needed.iter().map(|&n| (1, n)).collect();
        if let Some(s) = soname {
            dyns.push((14, s));
        }
        dyns.push((5, lay.strtab as u64));
        dyns.push((10, strtab.len() as u64));
        dyns.push((6, lay.symtab as u64));
        dyns.push((11, symsize as u64));
        dyns.push((if spec.gnu_hash { 0x6fff_fef5 } else { 4 }, lay.hash as u64));
        if spec.versym {
            dyns.push((0x6fff_fff0, lay.versym as u64));
        }
        if !spec.needs.is_empty() {
            dyns.push((0x6fff_fffe, lay.verneed as u64));
            dyns.push((0x6fff_ffff, spec.needs.len() as u64));
        }
        if !spec.defs.is_empty() {
            dyns.push((0x6fff_fffc, lay.verdef as u64));
            dyns.push((0x6fff_fffd, spec.defs.len() as u64));
        }
        dyns.push((0, 0));
        lay.dynamic = align(&mut w, 8);
        for (i, (t, v)) in dyns.iter().enumerate() {
            w.put(lay.dynamic + 2 * word * i, word, *t);
            w.put(lay.dynamic + 2 * word * i + word, word, *v);
        }
        let total = w.buf.len();
        let dynsize = dyns.len() * 2 * word;
        // Header.
        w.buf[..4].copy_from_slice(b"\x7fELF");
        w.buf[4] = if c64 { 2 } else { 1 };
        w.buf[5] = if spec.big_endian { 2 } else { 1 };
        w.buf[6] = 1;
        w.put(16, 2, 3);
        w.put(18, 2, u64::from(spec.machine));
        w.put(20, 4, 1);
        if c64 {
            w.put(32, 8, ehsize as u64);
            w.put(52, 2, ehsize as u64);
            w.put(54, 2, phentsize as u64);
            w.put(56, 2, 2);
            w.put(58, 2, 64);
        } else {
            w.put(28, 4, ehsize as u64);
            w.put(40, 2, ehsize as u64);
            w.put(42, 2, phentsize as u64);
            w.put(44, 2, 2);
            w.put(46, 2, 40);
        }
        for (n, (ty, o, sz, fl)) in [(1u32, 0usize, total, 5u32), (2, lay.dynamic, dynsize, 6)].into_iter().enumerate()
        {
            let p = ehsize + n * phentsize;
            if c64 {
                w.put(p, 4, u64::from(ty));
                w.put(p + 4, 4, u64::from(fl));
                w.put(p + 8, 8, o as u64);
                w.put(p + 16, 8, o as u64);
                w.put(p + 24, 8, o as u64);
                w.put(p + 32, 8, sz as u64);
                w.put(p + 40, 8, sz as u64);
                w.put(p + 48, 8, 8);
            } else {
                w.put(p, 4, u64::from(ty));
                w.put(p + 4, 4, o as u64);
                w.put(p + 8, 4, o as u64);
                w.put(p + 12, 4, o as u64);
                w.put(p + 16, 4, sz as u64);
                w.put(p + 20, 4, sz as u64);
                w.put(p + 24, 4, u64::from(fl));
                w.put(p + 28, 4, 8);
            }
        }
        (w.buf, lay)
    }
}

/// `symbols::read` on raw bytes: no panic, no hang, memory bounded by the input; every
/// accessor walked; smaller limits only turn a success into an error.
pub fn symbols(data: &[u8]) {
    use depclose::elf::symbols::{self, SymbolLimits};
    let full = symbols::read(data);
    match &full {
        Ok(s) => {
            assert!(elf::is_elf(data));
            // Each symbol takes at least 16 bytes of the file, each version record 8.
            assert!(s.symbols.len() <= data.len() / 16, "{} symbols from {} bytes", s.symbols.len(), data.len());
            let records: usize = s.verneed.iter().map(|n| 1 + n.entries.len()).sum::<usize>()
                + s.verdef.iter().map(|d| 1 + d.names.len()).sum::<usize>();
            assert!(records <= 2 * (data.len() / 8 + 1), "{records} version records from {} bytes", data.len());
            let mut copied = 0usize;
            for sym in &s.symbols {
                assert!(!sym.name.as_bytes().contains(&0));
                copied += sym.name.len();
                let _ = (sym.is_defined(), sym.is_hidden_version(), sym.version_index(), s.version_name(sym));
                if sym.version.is_some() {
                    assert!(s.has_versym);
                }
            }
            for n in &s.verneed {
                copied += n.file.len() + n.entries.iter().map(|a| a.name.len()).sum::<usize>();
                for a in &n.entries {
                    let _ = (a.is_weak(), s.version_name_of(a.other), s.verneed_of(a.other));
                }
            }
            for d in &s.verdef {
                copied += d.names.iter().map(|n| n.len()).sum::<usize>();
                let _ = (d.name(), d.is_base(), s.version_name_of(d.index));
            }
            assert!(copied <= 4 * data.len() + (1 << 20), "{copied} string bytes from {} bytes", data.len());
            for imp in s.imports() {
                assert!(!imp.is_defined() && !imp.name.is_empty());
                assert!(s.imports_name(imp.name.as_bytes()));
            }
            assert!(
                !s.imports_name(b"\xff not a name \xff")
                    || s.imports().any(|i| i.name.as_bytes() == b"\xff not a name \xff")
            );
            let _ = format!("{s:?}");
        }
        Err(e) => assert!(!e.reason().is_empty()),
    }
    // Lookups through the file's own hash table: bounded (chains that loop or run past the
    // table end), and what they find is a definition of that name.
    let mut names: Vec<Vec<u8>> = vec![b"f".to_vec(), b"puts".to_vec(), b"".to_vec(), b"main".to_vec()];
    if let Ok(s) = &full {
        names.extend(s.symbols.iter().take(16).map(|x| x.name.to_vec()));
    }
    let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
    if let Ok(found) = symbols::lookup_names(data, &refs) {
        assert_eq!(found.len(), refs.len());
        if let Ok(s) = &full {
            for (name, hit) in refs.iter().zip(&found) {
                if let Some(i) = hit {
                    let sym = &s.symbols[*i as usize];
                    assert_eq!(sym.name.as_bytes(), *name, "lookup found another name");
                    assert!(sym.is_defined(), "lookup found an undefined symbol");
                }
            }
        }
    }
    let mut small = SymbolLimits::default();
    small.max_symbols = 4;
    small.max_string_bytes = 64;
    if let Ok(s) = symbols::read_with_limits(data, &small) {
        assert_eq!(Ok(s), full, "smaller limits, different answer");
    }
}
// verify_image
// ---------------------------------------------------------------------------------------

/// Every file and directory under `dir` (relative paths), symlinks not followed.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The input as an image file (a tar, a tar.gz, an OCI archive: `verify_image` tells them
/// apart by content) verified with small limits, next to a canary directory. No panic or
/// hang; nothing is created or changed outside the scratch directory, which is left empty;
/// every problem names an absolute in-image path or a blob; an error names a file.
#[cfg(feature = "emit")]
pub fn verify_image(data: &[u8]) {
    use depclose::emit::{verify_image, VerifyOptions};
    let t = tempfile::tempdir().expect("temporary directory");
    let base = t.path();
    fs::create_dir(base.join("outside")).expect("mkdir");
    fs::write(base.join("outside/canary"), b"canary").expect("write");
    fs::create_dir(base.join("scratch")).expect("mkdir");
    let image = base.join("image.tar");
    fs::write(&image, data).expect("write");
    let before = listing(base);
    let mut opts = VerifyOptions::new(base.join("scratch"));
    opts.max_unpacked_bytes(8 << 20).max_entries(2048);
    match verify_image(&image, &opts) {
        Ok(r) => {
            for p in &r.problems {
                let text = p.to_string();
                assert!(!text.is_empty());
                let path = p.path.as_os_str().as_bytes();
                assert!(path.starts_with(b"/") || path.starts_with(b"blobs/") || path == b"config", "{text}");
            }
            assert_eq!(r.is_sound(), r.problems.is_empty());
        }
        Err(e) => {
            assert!(!e.message().is_empty());
            assert!(e.to_string().starts_with(&e.path().display().to_string()), "{e}");
        }
    }
    assert_eq!(listing(base), before, "files were created or removed outside the scratch directory");
    assert_eq!(fs::read(base.join("outside/canary")).expect("canary"), b"canary");
}

/// Without the `emit` feature there is nothing to verify.
#[cfg(not(feature = "emit"))]
pub fn verify_image(_data: &[u8]) {}
