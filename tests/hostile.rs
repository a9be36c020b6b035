//! Hostile input: each case has a documented result, either an `Err` whose `Display` names the
//! file and the problem, or a `Closure` with defined `objects` / `missing` / `fatal`, and runs
//! within a time limit on its own thread (a FIFO where a library is expected must not block).
//!
//! Safety properties tested here: nothing is executed; no path outside the root is read (a
//! library that exists only outside the root is never found, whatever leads to it); nothing
//! is written (the root is unchanged). With feature `cli`: the tarball's members are relative
//! and never climb out, `--dir` does not write through symlinks, outputs stay where asked.
//!
//! ELF files are written by the fuzz crate's tiny ELF writer (`fuzz/src/lib.rs`), or by `gcc`
//! where a real toolchain's output matters (truncation, constructors).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use depclose::{CacheSource, Closure, Error, ErrorKind, Hwcaps, Limits, Rejection, Resolver, Role};

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use bodies::elfgen::{self, Spec};

const INTERP: &str = "/lib64/ld-linux-x86-64.so.2";
/// Default time limit of one case (a debug build on a busy machine).
const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Run `f` on its own thread; fail if it panics or takes longer than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?} (blocked or too slow)"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked after {:?}", start.elapsed()),
    }
}

/// A temporary root and helpers to fill it.
struct Tree {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let tmp = tempfile::Builder::new().prefix("depclose-hostile").tempdir().expect("tempdir");
        let root = fs::canonicalize(tmp.path()).expect("canonicalize");
        Tree { tmp, root }
    }

    fn host(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    fn parent(&self, rel: &str) -> PathBuf {
        let p = self.host(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        p
    }

    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.parent(rel);
        fs::write(&p, bytes).expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    fn elf(&self, rel: &str, spec: &Spec) -> PathBuf {
        self.file(rel, &elfgen::build(spec))
    }

    fn lib(&self, rel: &str, soname: &str, needed: &[&str]) -> PathBuf {
        self.elf(rel, &Spec::lib(soname, needed))
    }

    /// `/bin/prog` needing `needed`, and a stand-in interpreter.
    fn prog(&self, needed: &[&str]) -> PathBuf {
        self.lib(INTERP, "ld-linux-x86-64.so.2", &[]);
        self.elf("/bin/prog", &Spec::exe(INTERP, needed))
    }

    fn symlink(&self, rel: &str, target: impl AsRef<OsStr>) {
        let p = self.parent(rel);
        symlink(Path::new(target.as_ref()), p).expect("symlink");
    }

    fn dir(&self, rel: &str) {
        fs::create_dir_all(self.host(rel)).expect("mkdir");
    }

    fn fifo(&self, rel: &str) {
        let p = self.parent(rel);
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    }

    /// A character device (1, 3), like /dev/null; `false` when not allowed (not root).
    fn chardev(&self, rel: &str) -> bool {
        let p = self.parent(rel);
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 3)) == 0 }
    }

    fn socket(&self, rel: &str) {
        let p = self.parent(rel);
        let l = std::os::unix::net::UnixListener::bind(&p).expect("bind");
        drop(l);
    }

    /// A resolver over this root: default directories `/lib` and `/usr/lib`, no cache
    /// unless the root has one, no glibc-hwcaps subdirectories.
    fn resolver(&self) -> Resolver {
        self.resolver_with(|_| {})
    }

    fn resolver_with(&self, f: impl FnOnce(&mut depclose::ResolverBuilder)) -> Resolver {
        let mut b = Resolver::builder();
        b.root(&self.root).default_dirs(Some(&["/lib".as_ref(), "/usr/lib".as_ref()])).hwcaps(Hwcaps::None).threads(1);
        f(&mut b);
        b.build().expect("build")
    }

    /// `closure_in_root(path)` on its own thread, bounded.
    fn resolve(&self, path: &str) -> Result<Closure, Error> {
        let r = self.resolver();
        self.resolve_with(r, path)
    }

    fn resolve_with(&self, r: Resolver, path: &str) -> Result<Closure, Error> {
        let path = path.to_string();
        let root = self.root.clone();
        let res = bounded(LIMIT, move || r.closure_in_root(&path));
        if let Ok(c) = &res {
            bodies::check_closure(c, &root);
        }
        res
    }
}

fn realpaths(c: &Closure) -> Vec<String> {
    c.objects.iter().map(|o| o.file.location.realpath.display().to_string()).collect()
}

fn missing_names(c: &Closure) -> Vec<Vec<u8>> {
    c.missing.iter().map(|m| m.name.to_vec()).collect()
}

/// The error names the file (its `Display` starts with the path) and says `what`.
fn assert_err(res: Result<Closure, Error>, file: &Path, kinds: &[ErrorKind], what: &str) -> Error {
    let e = match res {
        Ok(c) => panic!("expected an error about {}, got a closure: {:?}", file.display(), realpaths(&c)),
        Err(e) => e,
    };
    let text = e.to_string();
    assert!(text.starts_with(&file.display().to_string()), "error does not name {}: {text}", file.display());
    assert!(text.contains(what), "error does not say {what:?}: {text}");
    assert!(kinds.contains(&e.kind()), "unexpected kind {:?}: {text}", e.kind());
    e
}

/// The closure stops with a fatal load error on `path` (in-root) saying `what`.
fn assert_fatal(c: &Closure, path: &str, what: &str) {
    let f = c.fatal.as_ref().unwrap_or_else(|| panic!("expected a fatal error on {path}: {c:?}"));
    assert_eq!(f.path, Path::new(path), "fatal on the wrong file: {f:?}");
    assert!(f.message.contains(what), "fatal message {:?} does not say {what:?}", f.message);
}

fn assert_missing_with(c: &Closure, name: &str, rejection: &Rejection) {
    let m = c
        .missing
        .iter()
        .find(|m| m.name.as_bytes() == name.as_bytes())
        .unwrap_or_else(|| panic!("{name} not reported missing: {:?}", missing_names(c)));
    assert!(
        m.tried.iter().any(|a| a.rejection == *rejection),
        "{name}: no attempt rejected as {rejection:?}: {:?}",
        m.tried
    );
}

fn gcc() -> &'static str {
    "gcc"
}

/// Compile C source into `out` with `args` (given after the source, so `-l` options work).
fn cc(src: &str, out: &Path, args: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = dir.path().join("src.c");
    fs::write(&c, src).expect("write");
    let st = Command::new(gcc()).arg("-o").arg(out).arg(&c).args(args).status().expect("gcc runs");
    assert!(st.success(), "gcc failed");
}

fn patch(bytes: &mut [u8], off: usize, width: usize, v: u64) {
    bytes[off..off + width].copy_from_slice(&v.to_le_bytes()[..width]);
}

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

#[test]
fn limits_have_sane_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_objects, 65_536);
    assert_eq!(l.max_symlink_hops, 40);
    assert_eq!(l.max_file_bytes, 4 << 30);
    assert_eq!(l.max_dynamic_entries, 65_536);
}

// ---------------------------------------------------------------------------------------
// Damaged ELF files
// ---------------------------------------------------------------------------------------

/// A real ELF file truncated at every length: `elf::parse` never panics; resolving it as the
/// input gives a closure or an error naming it; as a library, the closure either loads it or
/// stops with a fatal error naming it. Never a panic, a hang or a missing entry.
#[test]
fn real_elf_truncated_at_every_length() {
    // The ELF reader on every prefix of /bin/true.
    let data = fs::read("/bin/true").expect("/bin/true");
    bounded(Duration::from_secs(60), move || {
        for n in 0..=data.len() {
            if let Ok(i) = depclose::elf::parse(&data[..n]) {
                assert_eq!(i.class, depclose::Class::Elf64);
            }
        }
    });

    // A small gcc-built library, truncated at every length, as the library and as the input.
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    let lib = t.tmp.path().join("full.so");
    cc("int f(void) { return 1; }\n", &lib, &["-shared", "-fPIC", "-nostdlib", "-s", "-Wl,-soname,liba.so.1"]);
    let full = fs::read(&lib).expect("read");
    let root = t.root.clone();
    let counts = bounded(Duration::from_secs(120), move || {
        let (mut loaded, mut fatal) = (0, 0);
        let liba = root.join("lib/liba.so.1");
        let input = root.join("bin/input");
        fs::create_dir_all(root.join("lib")).expect("mkdir");
        for n in 0..=full.len() {
            fs::write(&liba, &full[..n]).expect("write");
            fs::write(&input, &full[..n]).expect("write");
            // A fresh resolver each time: facts are cached by (device, inode).
            let r = Resolver::builder()
                .root(&root)
                .default_dirs(Some(&["/lib".as_ref()]))
                .hwcaps(Hwcaps::None)
                .build()
                .expect("build");
            let c = r.closure_in_root("/bin/prog").expect("the program itself is fine");
            assert!(c.missing.is_empty(), "length {n}: {:?}", c.missing);
            match &c.fatal {
                Some(f) => {
                    assert_eq!(f.path, Path::new("/lib/liba.so.1"), "length {n}");
                    assert!(!f.message.is_empty());
                    fatal += 1;
                }
                None => {
                    assert!(
                        c.objects.iter().any(|o| o.file.location.realpath == Path::new("/lib/liba.so.1")),
                        "length {n}"
                    );
                    loaded += 1;
                }
            }
            match r.closure_in_root("/bin/input") {
                Ok(c) => bodies::check_closure(&c, &root),
                Err(e) => assert!(e.to_string().starts_with(&input.display().to_string()), "length {n}: {e}"),
            }
        }
        (loaded, fatal)
    });
    // The whole file loads; an empty or header-less one is fatal.
    assert!(counts.0 >= 1 && counts.1 >= 64, "{counts:?}");
}

/// Program-header counts and offsets that overflow or point past the end: an error naming
/// the file, never an allocation sized by the header.
#[test]
fn program_header_counts_that_overflow() {
    let good = elfgen::build(&Spec::exe(INTERP, &["libc.so.6"]));
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        ("phnum", Box::new(|b| patch(b, 56, 2, 0xffff)), "program headers past end of file"),
        ("phoff", Box::new(|b| patch(b, 32, 8, u64::MAX - 8)), "program header"),
        ("phoff-far", Box::new(|b| patch(b, 32, 8, 1 << 40)), "program headers past end of file"),
        ("phentsize", Box::new(|b| patch(b, 54, 2, 0xffff)), "program header entry size"),
    ];
    for (name, f, what) in cases {
        let t = Tree::new();
        let mut bytes = good.clone();
        f(&mut bytes);
        let p = t.file("/bin/prog", &bytes);
        assert_err(t.resolve("/bin/prog"), &p, &[ErrorKind::Malformed], what);
        assert!(depclose::elf::parse(&bytes).is_err(), "{name}");
    }

    // 32-bit: e_phoff at the very end of the 32-bit range.
    let mut s = Spec::exe("/lib/ld-linux.so.2", &["libc.so.6"]);
    s.class64 = false;
    s.machine = 3;
    let mut b = elfgen::build(&s);
    patch(&mut b, 28, 4, 0xffff_fff0);
    let t = Tree::new();
    let p = t.file("/bin/prog", &b);
    assert_err(t.resolve("/bin/prog"), &p, &[ErrorKind::Malformed], "program headers past end of file");
}

/// `PT_DYNAMIC` sizes and offsets that overflow, and more dynamic entries than the limit.
#[test]
fn dynamic_counts_that_overflow() {
    let (good, lay) = elfgen::build_with_layout(&Spec::exe(INTERP, &["libc.so.6"]));
    let dph = lay.phoff + lay.dynamic_index.expect("dynamic") * lay.phentsize;
    for (off, v) in [(dph + 32, u64::MAX), (dph + 8, u64::MAX - 1), (dph + 8, 1 << 40)] {
        let mut b = good.clone();
        patch(&mut b, off, 8, v);
        let t = Tree::new();
        let p = t.file("/bin/prog", &b);
        assert_err(t.resolve("/bin/prog"), &p, &[ErrorKind::Malformed], "PT_DYNAMIC outside the file");
    }

    // 100 DT_NEEDED entries with a limit of 16 dynamic entries.
    let t = Tree::new();
    let names: Vec<String> = (0..100).map(|i| format!("lib{i}.so")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = t.prog(&refs);
    let r = t.resolver_with(|b| {
        let mut l = Limits::default();
        l.max_dynamic_entries = 16;
        b.limits(l);
    });
    assert_err(
        t.resolve_with(r, "/bin/prog"),
        &p,
        &[ErrorKind::Malformed, ErrorKind::LimitExceeded],
        "too many dynamic entries",
    );
    // The same program with the default limit: a closure with 100 missing names.
    let c = t.resolve("/bin/prog").expect("closure");
    assert_eq!(c.missing.len(), 100);
}

/// A `DT_NEEDED` offset past the end of the string table: an error naming the input; as a
/// library, the loader's abort (`fatal`) naming the library.
#[test]
fn string_offsets_past_the_end() {
    let bad = |soname: &str| {
        let (mut b, lay) = elfgen::build_with_layout(&Spec::lib(soname, &["libc.so.6"]));
        // The first dynamic entry is the DT_NEEDED.
        patch(&mut b, lay.dyn_off + 8, 8, 0xffff_ffff);
        b
    };
    let t = Tree::new();
    let p = t.file("/bin/input", &bad("libinput.so"));
    assert_err(t.resolve("/bin/input"), &p, &[ErrorKind::Malformed], "dynamic string offset past the string table");

    t.prog(&["liba.so.1"]);
    t.file("/lib/liba.so.1", &bad("liba.so.1"));
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "dynamic string offset past the string table");

    // DT_STRSZ cutting the last string short: unterminated.
    let (mut b, lay) = elfgen::build_with_layout(&Spec::lib("libx.so", &["libc.so.6"]));
    let strsz_entry = lay.dyn_off + (lay.dyn_count - 2) * lay.dyn_entsize;
    patch(&mut b, strsz_entry + 8, 8, 5);
    let t = Tree::new();
    let p = t.file("/bin/input", &b);
    assert_err(t.resolve("/bin/input"), &p, &[ErrorKind::Malformed], "dynamic string");
}

/// `DT_STRTAB` pointing outside every `PT_LOAD`.
#[test]
fn strtab_outside_every_load_segment() {
    let (mut b, lay) = elfgen::build_with_layout(&Spec::exe(INTERP, &["libc.so.6"]));
    let strtab_entry = lay.dyn_off + (lay.dyn_count - 3) * lay.dyn_entsize;
    assert_eq!(b[strtab_entry], 5, "DT_STRTAB");
    patch(&mut b, strtab_entry + 8, 8, 0x7000_0000);
    let t = Tree::new();
    let p = t.file("/bin/prog", &b);
    assert_err(t.resolve("/bin/prog"), &p, &[ErrorKind::Malformed], "DT_STRTAB outside every PT_LOAD segment");
}

/// 32-bit and big-endian files: a 32-bit program gets its 32-bit library even when a 64-bit
/// one comes first (the 64-bit one is skipped as `WrongClass`); a big-endian PowerPC program
/// gets its big-endian library; a little-endian program that meets a big-endian library of
/// its class stops with glibc's "data encoding" error.
#[test]
fn class32_and_big_endian_files() {
    // 32-bit.
    let t = Tree::new();
    let mut exe = Spec::exe("/lib/ld-linux.so.2", &["liba.so.1"]);
    exe.class64 = false;
    exe.machine = 3;
    t.elf("/bin/prog", &exe);
    let mut ld = Spec::lib("ld-linux.so.2", &[]);
    ld.class64 = false;
    ld.machine = 3;
    t.elf("/lib/ld-linux.so.2", &ld);
    t.lib("/lib/liba.so.1", "liba.so.1", &[]);
    let mut lib32 = Spec::lib("liba.so.1", &[]);
    lib32.class64 = false;
    lib32.machine = 3;
    t.elf("/usr/lib/liba.so.1", &lib32);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(c.is_complete(), "{c:?}");
    let a = c.objects.iter().find(|o| o.names.iter().any(|n| *n == "liba.so.1")).expect("liba loaded");
    assert_eq!(a.file.location.realpath, Path::new("/usr/lib/liba.so.1"));
    assert_eq!(a.file.class, depclose::Class::Elf32);

    // Big-endian ppc64.
    let t = Tree::new();
    let be = |s: &mut Spec| {
        s.big_endian = true;
        s.machine = 21;
    };
    let mut exe = Spec::exe("/lib64/ld64.so.2", &["liba.so.1"]);
    be(&mut exe);
    t.elf("/bin/prog", &exe);
    let mut ld = Spec::lib("ld64.so.2", &[]);
    be(&mut ld);
    t.elf("/lib64/ld64.so.2", &ld);
    let mut a = Spec::lib("liba.so.1", &[]);
    be(&mut a);
    t.elf("/lib/liba.so.1", &a);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(c.is_complete(), "{c:?}");
    assert!(c.objects.iter().all(|o| o.file.machine == 21));
    assert!(realpaths(&c).contains(&"/lib/liba.so.1".to_string()));

    // A big-endian x86-64 library for a little-endian program.
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    let mut a = Spec::lib("liba.so.1", &[]);
    a.big_endian = true;
    t.elf("/lib/liba.so.1", &a);
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "data encoding not little-endian");
}

/// Names that are not UTF-8 are bytes end to end: found by their exact bytes, reported
/// missing by their exact bytes, and the closure still serialises (lossily) to JSON.
#[test]
fn non_utf8_names() {
    let t = Tree::new();
    let found: &[u8] = b"lib\xff\xfe.so";
    let lost: &[u8] = b"libmiss\x80.so";
    let mut exe = Spec::exe(INTERP, &[]);
    exe.needed = vec![found.to_vec(), lost.to_vec()];
    exe.rpath = Some(b"/opt/\xc3\x28".to_vec());
    t.lib(INTERP, "ld-linux-x86-64.so.2", &[]);
    t.elf("/bin/prog", &exe);
    let dir = t.root.join(OsStr::from_bytes(b"opt/\xc3\x28"));
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(OsStr::from_bytes(found)), elfgen::build(&Spec::lib("libu.so", &[]))).expect("write");
    let c = t.resolve("/bin/prog").expect("closure");
    let o = c.objects.iter().find(|o| o.names.iter().any(|n| n.as_bytes() == found)).expect("found by bytes");
    assert_eq!(o.file.location.realpath.as_os_str().as_bytes(), b"/opt/\xc3\x28/lib\xff\xfe.so");
    assert_eq!(missing_names(&c), vec![lost.to_vec()]);
    let json = serde_json::to_string(&c).expect("serialises");
    assert!(json.contains("libmiss\u{fffd}.so"));
}

// ---------------------------------------------------------------------------------------
// Graph shapes
// ---------------------------------------------------------------------------------------

/// A 10,000-deep `DT_NEEDED` chain: every library loaded, in order, in bounded time; with
/// `max_objects` below the chain's length, an error naming the input.
#[test]
fn needed_chain_10000_deep() {
    const N: usize = 10_000;
    let t = Tree::new();
    t.prog(&["lib0.so"]);
    for i in 0..N {
        let name = format!("lib{i}.so");
        let next = format!("lib{}.so", i + 1);
        let needed: Vec<&str> = if i + 1 < N { vec![next.as_str()] } else { vec![] };
        t.lib(&format!("/lib/{name}"), &name, &needed);
    }
    let r = t.resolver();
    let root = t.root.clone();
    let c = bounded(Duration::from_secs(120), move || r.closure_in_root("/bin/prog")).expect("closure");
    bodies::check_closure(&c, &root);
    assert!(c.is_complete());
    assert_eq!(c.objects.len(), N + 2, "the program, the interpreter, {N} libraries");
    assert_eq!(c.objects.last().expect("objects").file.location.realpath, Path::new(&format!("/lib/lib{}.so", N - 1)));

    let p = t.host("/bin/prog");
    let r = t.resolver_with(|b| {
        let mut l = Limits::default();
        l.max_objects = 100;
        b.limits(l);
    });
    assert_err(t.resolve_with(r, "/bin/prog"), &p, &[ErrorKind::LimitExceeded], "more than 100 objects");
}

/// A dependency cycle: each library once; the edge back is `AlreadyLoaded`.
#[test]
fn dependency_cycle() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.lib("/lib/liba.so.1", "liba.so.1", &["libb.so.1"]);
    t.lib("/lib/libb.so.1", "libb.so.1", &["liba.so.1"]);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(c.is_complete());
    assert_eq!(realpaths(&c), vec!["/bin/prog", INTERP, "/lib/liba.so.1", "/lib/libb.so.1"]);
    let back = c.edges.iter().find(|e| e.from == 3 && e.name == "liba.so.1").expect("edge b -> a");
    assert_eq!(back.to, 2);
    assert_eq!(back.via, depclose::FoundVia::AlreadyLoaded);
}

/// A library that needs itself: one object, an `AlreadyLoaded` edge to itself.
#[test]
fn library_that_needs_itself() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.lib("/lib/liba.so.1", "liba.so.1", &["liba.so.1"]);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(c.is_complete());
    assert_eq!(c.objects.len(), 3);
    let e = c.edges.iter().find(|e| e.from == 2).expect("self edge");
    assert_eq!((e.to, &e.via), (2, &depclose::FoundVia::AlreadyLoaded));
}

// ---------------------------------------------------------------------------------------
// Symlinks
// ---------------------------------------------------------------------------------------

/// Symlink loops: a library behind one is missing with `SymlinkLoop`; an input behind one is
/// an `Io` error naming it; a chain longer than `max_symlink_hops` counts as a loop.
#[test]
fn symlink_loops() {
    let t = Tree::new();
    t.prog(&["liba.so.1", "libb.so.1"]);
    t.symlink("/lib/liba.so.1", "liba.so.1");
    t.symlink("/lib/libb.so.1", "libb2.so");
    t.symlink("/lib/libb2.so", "/lib/libb.so.1");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_missing_with(&c, "liba.so.1", &Rejection::SymlinkLoop);
    assert_missing_with(&c, "libb.so.1", &Rejection::SymlinkLoop);

    t.symlink("/bin/loop", "loop");
    let p = t.host("/bin/loop");
    assert_err(t.resolve("/bin/loop"), &p, &[ErrorKind::Io], "symbolic links");

    // A chain of 6 links to a real library, with a limit of 5 hops.
    let t = Tree::new();
    t.prog(&["libc1.so"]);
    t.lib("/lib/real.so", "libc1.so", &[]);
    t.symlink("/lib/libc6.so", "real.so");
    for i in 1..6 {
        t.symlink(&format!("/lib/libc{i}.so"), format!("libc{}.so", i + 1));
    }
    assert!(t.resolve("/bin/prog").expect("closure").is_complete(), "6 hops are fine by default");
    let r = t.resolver_with(|b| {
        let mut l = Limits::default();
        l.max_symlink_hops = 5;
        b.limits(l);
    });
    let c = t.resolve_with(r, "/bin/prog").expect("closure");
    assert_missing_with(&c, "libc1.so", &Rejection::SymlinkLoop);
}

/// A library that exists only outside the root is never found, whatever leads there: an
/// absolute symlink, a `../../..` symlink, an absolute `DT_NEEDED`, `DT_RPATH`, `DT_RUNPATH`
/// with `$ORIGIN/../../..`, `LD_LIBRARY_PATH`, a preload, the root's `ld.so.cache`, the
/// interpreter. The host's own `/etc/ld.so.cache` and `/lib` are not consulted either.
#[test]
fn nothing_outside_the_root_is_found() {
    let outside = tempfile::Builder::new().prefix("depclose-outside").tempdir().expect("tempdir");
    let out_dir = fs::canonicalize(outside.path()).expect("canonicalize");
    for n in ["libabs.so", "librel.so", "libneeded.so", "librpath.so", "librunpath.so", "libllp.so", "libpre.so"] {
        fs::write(out_dir.join(n), elfgen::build(&Spec::lib(n, &[]))).expect("write");
    }
    fs::write(out_dir.join("libcache.so"), elfgen::build(&Spec::lib("libcache.so", &[]))).expect("write");
    let out = out_dir.display().to_string();
    let ups = "../".repeat(out_dir.components().count() + 8);

    let t = Tree::new();
    t.lib(INTERP, "ld-linux-x86-64.so.2", &[]);
    let host_needed = format!("{out}/libneeded.so");
    let mut exe = Spec::exe(INTERP, &["libabs.so", "librel.so", &host_needed, "librpath.so", "libllp.so"]);
    exe.needed.extend([b"libcache.so".to_vec(), b"libc.so.6".to_vec(), b"libetc.so".to_vec()]);
    exe.rpath = Some(out.as_bytes().to_vec());
    t.elf("/bin/prog", &exe);
    // A library with a RUNPATH that climbs out with $ORIGIN.
    let mut viaorigin = Spec::lib("libo.so", &["librunpath.so"]);
    viaorigin.runpath = Some(format!("$ORIGIN/{ups}{out}").into_bytes());
    t.elf("/lib/libo.so", &viaorigin);
    t.symlink("/lib/libabs.so", format!("{out}/libabs.so"));
    t.symlink("/lib/librel.so", format!("{ups}{}", out.trim_start_matches('/')).to_string() + "/librel.so");
    t.symlink("/lib/libetc.so", "/etc/passwd");
    t.file("/etc/ld.so.cache", &tiny_cache("libcache.so", &format!("{out}/libcache.so")));

    let mut exe2 = Spec::exe("/does/not/exist/ld.so", &["libo.so"]);
    exe2.interp = Some(format!("{out}/libabs.so").into_bytes());
    t.elf("/bin/prog2", &exe2);

    let r = t.resolver_with(|b| {
        b.ld_library_path(Some(out.as_ref())).preload([format!("{out}/libpre.so")]).cache(CacheSource::Root);
    });
    let c = t.resolve_with(r.clone(), "/bin/prog").expect("closure");
    for name in ["libabs.so", "librel.so", host_needed.as_str(), "librpath.so", "libllp.so", "libcache.so", "libc.so.6"]
    {
        assert!(missing_names(&c).contains(&name.as_bytes().to_vec()), "{name} found outside the root: {c:?}");
    }
    assert_missing_with(&c, "libetc.so", &Rejection::NotFound);
    // The cache of the root was read: its entry was tried, inside the root.
    let m = c.missing.iter().find(|m| m.name == "libcache.so").expect("missing");
    assert!(m.tried.iter().any(|a| a.via == depclose::FoundVia::LdCache), "{:?}", m.tried);
    for p in realpaths(&c) {
        assert!(!p.contains("depclose-outside"), "{p}");
    }
    assert!(c.objects.iter().all(|o| o.role != Role::Preload), "the preload outside the root was loaded");

    let c = t.resolve_with(r, "/bin/prog2").expect("closure");
    assert!(missing_names(&c).contains(&b"librunpath.so".to_vec()), "{c:?}");
    assert!(c.objects.iter().all(|o| o.role != Role::Interpreter), "interpreter outside the root: {c:?}");
}

/// A new-format `ld.so.cache` with one x86-64 entry `key => value`.
fn tiny_cache(key: &str, value: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"glibc-ld.so.cache1.1");
    let strings_at = 48 + 24;
    let key_off = strings_at as u32;
    let value_off = key_off + key.len() as u32 + 1;
    let len_strings = key.len() + value.len() + 2;
    b.extend_from_slice(&1u32.to_le_bytes()); // nlibs
    b.extend_from_slice(&(len_strings as u32).to_le_bytes());
    b.push(2); // flags: little-endian
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&0u32.to_le_bytes()); // extension offset
    b.extend_from_slice(&[0; 12]); // unused
    assert_eq!(b.len(), 48);
    b.extend_from_slice(&0x0303i32.to_le_bytes());
    b.extend_from_slice(&key_off.to_le_bytes());
    b.extend_from_slice(&value_off.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // osversion
    b.extend_from_slice(&0u64.to_le_bytes()); // hwcap
    b.extend_from_slice(key.as_bytes());
    b.push(0);
    b.extend_from_slice(value.as_bytes());
    b.push(0);
    b
}

// ---------------------------------------------------------------------------------------
// Files that are not regular files, or not readable
// ---------------------------------------------------------------------------------------

/// A directory, a FIFO, a device node and a socket where a library is expected. None blocks.
/// Directory: fatal `cannot read file data: Is a directory` (glibc's read fails). FIFO and
/// device: fatal "not a regular file" (glibc would block or read the device; depclose never
/// opens them). Socket: `open` fails with ENXIO, the name is missing with that error.
#[test]
fn special_files_where_a_library_is_expected() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.dir("/lib/liba.so.1");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "Is a directory");

    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.fifo("/lib/liba.so.1");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "not a regular file");

    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    if t.chardev("/lib/liba.so.1") {
        let c = t.resolve("/bin/prog").expect("closure");
        assert_fatal(&c, "/lib/liba.so.1", "not a regular file");
    }

    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.socket("/lib/liba.so.1");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_missing_with(&c, "liba.so.1", &Rejection::OpenError(libc::ENXIO));
}

/// FIFOs as the input, the interpreter, `/etc/ld.so.cache` and `/etc/ld.so.preload`: nothing
/// blocks. The input is an error naming it; the others are skipped like unusable files.
#[test]
fn fifos_in_every_other_place() {
    let t = Tree::new();
    t.fifo("/bin/fifo");
    let p = t.host("/bin/fifo");
    assert_err(t.resolve("/bin/fifo"), &p, &[ErrorKind::Io, ErrorKind::NotElf], "");

    let t = Tree::new();
    t.elf("/bin/prog", &Spec::exe(INTERP, &["liba.so.1"]));
    t.fifo(INTERP);
    t.fifo("/etc/ld.so.cache");
    t.fifo("/etc/ld.so.preload");
    t.lib("/lib/liba.so.1", "liba.so.1", &[]);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(realpaths(&c).contains(&"/lib/liba.so.1".to_string()), "{c:?}");
}

/// An input outside the root (a file named on the command line) that is a FIFO: an error
/// naming it, without blocking.
#[test]
fn fifo_input_outside_the_root_does_not_block() {
    let t = Tree::new();
    let other = tempfile::tempdir().expect("tempdir");
    let fifo = other.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let r = t.resolver();
    let f = fifo.clone();
    let res = bounded(LIMIT, move || r.closure(&f));
    assert_err(res, &fifo, &[ErrorKind::Io, ErrorKind::NotElf], "");
}

/// An empty file: as a library, glibc's "file too short" abort; as the input, `NotElf`.
#[test]
fn empty_files() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    t.file("/lib/liba.so.1", b"");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "file too short");

    let p = t.file("/bin/empty", b"");
    assert_err(t.resolve("/bin/empty"), &p, &[ErrorKind::NotElf], "not an ELF file");
}

/// An unreadable file (mode 000, looked at with an unprivileged file-system uid): as a
/// library, `PermissionDenied` and the search goes on to the next directory (as glibc does
/// on EACCES); as the input, an `Io` error naming it.
#[test]
fn unreadable_files() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    let lib = t.lib("/lib/liba.so.1", "liba.so.1", &[]);
    t.lib("/usr/lib/liba.so.1", "liba.so.1", &[]);
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o000)).expect("chmod");
    let input = t.file("/bin/secret", &elfgen::build(&Spec::exe(INTERP, &[])));
    fs::set_permissions(&input, fs::Permissions::from_mode(0o000)).expect("chmod");
    for d in ["", "/bin", "/lib", "/lib64", "/usr", "/usr/lib"] {
        fs::set_permissions(t.host(d), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let r = t.resolver();
    let root = t.root.clone();
    let (c, e) = bounded(LIMIT, move || {
        // Only this thread loses the privilege: setfsuid is per thread, and it drops
        // CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this thread's effective set.
        // SAFETY: plain system call.
        unsafe { libc::setfsuid(65534) };
        (r.closure_in_root("/bin/prog"), r.closure_in_root("/bin/secret"))
    });
    let c = c.expect("closure");
    bodies::check_closure(&c, &root);
    assert!(c.is_complete(), "{c:?}");
    assert!(realpaths(&c).contains(&"/usr/lib/liba.so.1".to_string()));
    let e = assert_err(e, &input, &[ErrorKind::Io], "Permission denied");
    assert_eq!(e.io_error().and_then(|e| e.raw_os_error()), Some(libc::EACCES));
}

/// A very large sparse file: over the byte limit (default 4 GiB, or a configured one) it is
/// never read: as a library, a fatal error naming it; as the input, `LimitExceeded`. Under
/// the limit only the parts the loader reads are touched (a 1 GiB sparse library loads fast).
#[test]
fn very_large_sparse_files() {
    let t = Tree::new();
    t.prog(&["liba.so.1"]);
    let lib = t.lib("/lib/liba.so.1", "liba.so.1", &[]);
    fs::OpenOptions::new().write(true).open(&lib).expect("open").set_len(1 << 30).expect("sparse");
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(c.is_complete(), "{c:?}");

    fs::OpenOptions::new().write(true).open(&lib).expect("open").set_len(5 << 30).expect("sparse");
    let c = t.resolve("/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "limit");

    let r = t.resolver_with(|b| {
        let mut l = Limits::default();
        l.max_file_bytes = 1 << 20;
        b.limits(l);
    });
    fs::OpenOptions::new().write(true).open(&lib).expect("open").set_len(2 << 20).expect("sparse");
    let c = t.resolve_with(r, "/bin/prog").expect("closure");
    assert_fatal(&c, "/lib/liba.so.1", "limit");

    let input = t.host("/bin/prog");
    fs::OpenOptions::new().write(true).open(&input).expect("open").set_len(5 << 30).expect("sparse");
    assert_err(t.resolve("/bin/prog"), &input, &[ErrorKind::LimitExceeded], "limit");
}

// ---------------------------------------------------------------------------------------
// Safety properties
// ---------------------------------------------------------------------------------------

/// Nothing is executed: a program and a library whose constructors (and `main`) would create
/// marker files, a real interpreter copied into the root, a shell script as the input. No
/// marker appears.
#[test]
fn nothing_is_executed() {
    let t = Tree::new();
    let markers = tempfile::tempdir().expect("tempdir");
    let m = markers.path().display().to_string();
    let ctor = |name: &str| {
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void mark(void) {{ \
             FILE *f = fopen(\"{m}/{name}\", \"w\"); if (f) fclose(f); }}\n"
        )
    };
    fs::create_dir_all(t.host("/usr/lib")).expect("mkdir");
    fs::create_dir_all(t.host("/bin")).expect("mkdir");
    let lib = t.host("/usr/lib/libmark.so");
    cc(&(ctor("lib") + "int mark_lib(void) { return 1; }\n"), &lib, &["-shared", "-fPIC", "-Wl,-soname,libmark.so"]);
    let prog = t.host("/bin/prog");
    let main = ctor("prog") + "int mark_lib(void);\nint main(void) { return mark_lib(); }\n";
    cc(&main, &prog, &["-L", &t.host("/usr/lib").display().to_string(), "-lmark"]);
    // The real loader and libc, so that the program could actually run inside the root.
    for f in [INTERP, "/lib/x86_64-linux-gnu/libc.so.6"] {
        let real = fs::canonicalize(f).expect("host file");
        let dst = t.parent(f);
        fs::copy(real, dst).expect("copy");
    }
    let script = t.file("/bin/script", format!("#!/bin/sh\ntouch {m}/script\n").as_bytes());

    let c = t.resolve("/bin/prog").expect("closure");
    assert!(realpaths(&c).contains(&"/usr/lib/libmark.so".to_string()), "{c:?}");
    let r = t.resolver();
    let p = prog.clone();
    let host_closure = bounded(LIMIT, move || r.closure(&p)).expect("closure");
    assert_eq!(host_closure.objects.len(), c.objects.len());
    assert_err(t.resolve("/bin/script"), &script, &[ErrorKind::NotElf], "not an ELF file");
    let left: Vec<_> = fs::read_dir(markers.path()).expect("read_dir").collect();
    assert!(left.is_empty(), "something was executed: {left:?}");
}

/// A listing of every entry under `dir` (path, type, size, mode, mtime, link target).
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir(dir) {
        let m = fs::symlink_metadata(&e).expect("lstat");
        let link = fs::read_link(&e).ok();
        out.push(format!(
            "{} {:?} {} {:o} {:?} {:?}",
            e.display(),
            m.file_type(),
            m.len(),
            m.permissions().mode(),
            m.modified().ok(),
            link
        ));
    }
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        i += 1;
        let is_dir = fs::symlink_metadata(&p).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            for e in fs::read_dir(&p).expect("read_dir") {
                out.push(e.expect("entry").path());
            }
        }
    }
    out
}

/// Resolving writes nothing: every entry of the root is unchanged (type, size, mode, mtime).
#[test]
fn nothing_is_written() {
    let t = Tree::new();
    t.prog(&["liba.so.1", "libmissing.so"]);
    t.lib("/lib/liba.so.1", "liba.so.1", &["libb.so.1"]);
    t.symlink("/lib/libb.so.1", "../usr/lib/libb.so.1.0");
    t.lib("/usr/lib/libb.so.1.0", "libb.so.1", &[]);
    t.file("/etc/ld.so.cache", &tiny_cache("liba.so.1", "/lib/liba.so.1"));
    t.file("/etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n/usr/lib\n");
    let before = snapshot(&t.root);
    let c = t.resolve("/bin/prog").expect("closure");
    assert_eq!(c.objects.len(), 4);
    let r = t.resolver_with(|b| {
        b.assume_ldconfig(true).cache(CacheSource::None);
    });
    t.resolve_with(r, "/bin/prog").expect("closure");
    assert_eq!(snapshot(&t.root), before);
}

// ---------------------------------------------------------------------------------------
// Command-line tool
// ---------------------------------------------------------------------------------------

#[cfg(feature = "cli")]
mod cli {
    use super::*;

    fn cli() -> Command {
        Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
    }

    /// A root whose closure crosses absolute and climbing symlinks.
    fn linky_root() -> Tree {
        let t = Tree::new();
        // A Debian layout: the default directories are then /lib/<triplet>, /usr/lib/<triplet>,
        // /lib and /usr/lib.
        t.dir("/usr/lib/x86_64-linux-gnu");
        t.prog(&["liba.so.1", "libb.so.1", "libc.so.1"]);
        t.lib("/usr/lib/liba.so.1.0", "liba.so.1", &[]);
        t.symlink("/lib/liba.so.1", "/usr/lib/liba.so.1.0");
        t.lib("/usr/lib/libb.so.1.0", "libb.so.1", &[]);
        t.symlink("/lib/libb.so.1", "../../../../../../../usr/lib/libb.so.1.0");
        t.lib("/opt/real/libc.so.1", "libc.so.1", &[]);
        t.symlink("/opt/link", "real");
        t.symlink("/lib/libc.so.1", "../opt/link/../real/libc.so.1");
        t
    }

    /// Tar members are relative and never contain `..`; relative link targets never climb
    /// above the archive's root (resolved lexically from the link's directory); absolute link
    /// targets name a member of the archive (they are resolved inside the rootfs).
    #[test]
    fn tar_members_stay_inside_the_archive() {
        let t = linky_root();
        let out = tempfile::tempdir().expect("tempdir");
        let tar = out.path().join("rootfs.tar");
        let st = cli().arg("--root").arg(&t.root).arg("--tar").arg(&tar).arg("/bin/prog").status().expect("runs");
        assert_eq!(st.code(), Some(0));
        let mut ar = tar::Archive::new(fs::File::open(&tar).expect("tar written"));
        let mut names = Vec::new();
        let mut links = Vec::new();
        for e in ar.entries().expect("entries") {
            let e = e.expect("entry");
            let p = e.path().expect("path").into_owned();
            assert!(!p.is_absolute(), "absolute member {}", p.display());
            assert!(!p.components().any(|c| c == std::path::Component::ParentDir), "member with ..: {}", p.display());
            if let Some(target) = e.link_name().expect("link name") {
                links.push((p.clone(), target.into_owned()));
            }
            names.push(p);
        }
        assert!(!links.is_empty(), "the closure crosses symlinks: they must be in the archive");
        for (link, target) in links {
            if target.is_absolute() {
                let rel = target.strip_prefix("/").expect("absolute");
                assert!(
                    names.iter().any(|n| n.as_path() == rel || n.as_path() == rel.join("")),
                    "{}",
                    target.display()
                );
                continue;
            }
            let mut depth: i64 = link.parent().map_or(0, |p| p.components().count() as i64);
            for c in target.components() {
                match c {
                    std::path::Component::ParentDir => depth -= 1,
                    std::path::Component::Normal(_) => depth += 1,
                    _ => {}
                }
                assert!(depth >= 0, "{} -> {} climbs out of the archive", link.display(), target.display());
            }
        }
    }

    /// `--dir` into a destination that is a symlink, or that holds symlinks, never writes
    /// through them: the place they point to stays empty.
    #[test]
    fn dir_does_not_follow_symlinks_in_the_destination() {
        let t = linky_root();
        let out = tempfile::tempdir().expect("tempdir");
        let victim = out.path().join("victim");
        fs::create_dir(&victim).expect("mkdir");

        // The destination itself is a symlink to an empty directory.
        let dest = out.path().join("dest");
        symlink(&victim, &dest).expect("symlink");
        let _ = cli().arg("--root").arg(&t.root).arg("--dir").arg(&dest).arg("/bin/prog").output().expect("runs");
        assert_eq!(fs::read_dir(&victim).expect("read_dir").count(), 0, "wrote through the destination symlink");

        // The destination holds symlinks where the rootfs has directories.
        let dest = out.path().join("dest2");
        fs::create_dir(&dest).expect("mkdir");
        for d in ["usr", "lib", "bin", "lib64", "opt"] {
            symlink(&victim, dest.join(d)).expect("symlink");
        }
        let _ = cli().arg("--root").arg(&t.root).arg("--dir").arg(&dest).arg("/bin/prog").output().expect("runs");
        assert_eq!(fs::read_dir(&victim).expect("read_dir").count(), 0, "wrote through a symlink in the destination");
    }

    /// Nothing is written outside the output paths: the root, the working directory and the
    /// output's directory hold nothing new besides the outputs.
    #[test]
    fn nothing_written_outside_the_outputs() {
        let t = linky_root();
        let out = tempfile::tempdir().expect("tempdir");
        let cwd = tempfile::tempdir().expect("tempdir");
        let before = snapshot(&t.root);
        let st = cli()
            .current_dir(cwd.path())
            .arg("--root")
            .arg(&t.root)
            .arg("--tar")
            .arg(out.path().join("r.tar.gz"))
            .arg("--dir")
            .arg(out.path().join("d"))
            .arg("--manifest")
            .arg(out.path().join("m.json"))
            .arg("/bin/prog")
            .status()
            .expect("runs");
        assert_eq!(st.code(), Some(0));
        assert_eq!(snapshot(&t.root), before, "the root changed");
        assert_eq!(fs::read_dir(cwd.path()).expect("read_dir").count(), 0, "wrote into the working directory");
        let mut names: Vec<_> =
            fs::read_dir(out.path()).expect("read_dir").map(|e| e.expect("entry").file_name()).collect();
        names.sort();
        assert_eq!(names, ["d", "m.json", "r.tar.gz"]);
    }

    /// File-system paths named by the tool's system calls (`strace -e trace=%file`), and how
    /// many `execve` calls it made. `None` when strace is not available.
    fn traced_paths(args: &[&OsStr]) -> Option<(Vec<String>, usize)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("trace");
        let st = Command::new("strace")
            .args(["-f", "-qq", "-s", "8192", "-e", "trace=%file", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_depclose-cli"))
            .args(args)
            .output()
            .ok()?;
        if !log.exists() {
            return None;
        }
        let _ = st;
        let text = fs::read_to_string(&log).expect("trace");
        let mut paths = Vec::new();
        let mut execs = 0;
        for line in text.lines() {
            if line.contains(" execve(") || line.starts_with("execve(") {
                execs += 1;
                continue;
            }
            // Quoted absolute path arguments; readlink's second string is the link's
            // content and symlink's first is the new link's target: neither is accessed.
            let mut quoted = Vec::new();
            let mut rest = line;
            while let Some(i) = rest.find('"') {
                let tail = &rest[i + 1..];
                let end = tail.find('"').unwrap_or(tail.len());
                quoted.push(tail[..end].to_string());
                rest = tail.get(end + 1..).unwrap_or("");
            }
            if line.contains("readlink") {
                quoted.truncate(1);
            } else if line.contains("symlink") && !quoted.is_empty() {
                quoted.remove(0);
            }
            paths.extend(quoted.into_iter().filter(|q| q.starts_with('/')));
        }
        Some((paths, execs))
    }

    /// The tool reads nothing outside `--root` (besides what the dynamic loader and the Rust
    /// runtime open before `main`, learned from a `--version` run, and `/proc`, `/sys` and
    /// `/dev`), writes only its outputs, and executes nothing (one `execve`: its own).
    #[test]
    fn no_path_outside_the_root_is_touched() {
        let t = linky_root();
        let out = tempfile::tempdir().expect("tempdir");
        let out_dir = fs::canonicalize(out.path()).expect("canonicalize");
        let Some((baseline, _)) = traced_paths(&[OsStr::new("--version")]) else {
            eprintln!("strace not available: skipped");
            return;
        };
        let tar = out_dir.join("r.tar");
        let args: Vec<&OsStr> = vec![
            OsStr::new("--root"),
            t.root.as_os_str(),
            OsStr::new("--tar"),
            tar.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("json"),
            OsStr::new("/bin/prog"),
        ];
        let (paths, execs) = traced_paths(&args).expect("strace ran before");
        assert_eq!(execs, 1, "the tool executed something");
        let root = t.root.display().to_string();
        let outp = out_dir.display().to_string();
        let allowed = |p: &str| {
            // The root's and the output's ancestors (canonicalised by the tool).
            t.root.starts_with(p)
                || out_dir.starts_with(p)
                || p.starts_with(&format!("{root}/"))
                || p == root
                || p.starts_with(&format!("{outp}/"))
                || p == outp
                || ["/proc/", "/sys/", "/dev/"].iter().any(|d| p.starts_with(d))
                || baseline.iter().any(|b| b == p)
        };
        assert!(paths.iter().any(|p| p.starts_with(&format!("{root}/"))), "the trace saw no file of the root");
        let outside: Vec<&String> = paths.iter().filter(|p| !allowed(p)).collect();
        assert!(outside.is_empty(), "paths outside the root: {outside:?}");
        assert!(tar.exists());
    }

    /// An input FIFO named on the command line does not block the tool.
    #[test]
    fn fifo_input_does_not_block_the_tool() {
        let t = Tree::new();
        t.fifo("/bin/fifo");
        let root = t.root.clone();
        let st = bounded(LIMIT, move || {
            cli().arg("--root").arg(&root).arg("/bin/fifo").output().expect("runs").status.code()
        });
        assert_eq!(st, Some(2));
    }
}

/// An interpreter file crafted against the scan for its compiled-in directories (a long run
/// of `/x/` strings that never names a `lib` directory): the closure still comes in bounded
/// time.
#[test]
fn hostile_interpreter_image() {
    let t = Tree::new();
    t.elf("/bin/prog", &Spec::exe(INTERP, &["liba.so.1"]));
    let mut image = elfgen::build(&Spec::lib("ld-linux-x86-64.so.2", &[]));
    for _ in 0..(1 << 20) / 4 {
        image.extend_from_slice(b"/x/\0");
    }
    t.file(INTERP, &image);
    t.lib("/lib/liba.so.1", "liba.so.1", &[]);
    let c = t.resolve("/bin/prog").expect("closure");
    assert!(realpaths(&c).contains(&INTERP.to_string()), "{c:?}");
}

/// An `ld.so.conf` whose include pattern alternates `*` and `..` (each `*/..` pair multiplies
/// the candidates by the number of entries in `/`): `directories` returns in bounded time.
#[test]
fn ld_so_conf_include_glob_explosion() {
    let t = Tree::new();
    for d in ["etc", "usr", "lib", "bin", "opt", "var"] {
        t.dir(d);
    }
    let line = format!("include {}\n/usr\n", "/*/..".repeat(12));
    t.file("/etc/ld.so.conf", line.as_bytes());
    let root = depclose::root::Root::new(&t.root).expect("root");
    let dirs = bounded(LIMIT, move || depclose::ld_so_conf::directories(&root, b"/etc/ld.so.conf"));
    assert_eq!(dirs, vec![depclose::Bytes::from("/usr")]);
}

/// Many `DT_NEEDED` entries that all point at one long string: the parsed facts must stay
/// within a small multiple of the file's size (the `ld.so.cache` reader has such a bound);
/// otherwise a 2 MiB file (65,536 entries, one 1 MiB string) asks for 64 GiB.
#[test]
fn dynamic_strings_do_not_amplify_memory() {
    const ENTRIES: usize = 2048;
    const STRING: usize = 64 << 10;
    let (mut b, lay) = elfgen::build_with_layout(&Spec::lib("liba.so", &["x"]));
    // Rewrite: PT_LOAD and the string table stay; a new dynamic table of ENTRIES DT_NEEDED
    // entries at the end, all at offset 1 of a new string table holding one long string.
    let str_off = b.len();
    b.extend_from_slice(&[b'a'; STRING]);
    b.push(0);
    while b.len() % 8 != 0 {
        b.push(0);
    }
    let dyn_off = b.len();
    for _ in 0..ENTRIES {
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
    }
    for (tag, val) in [(5u64, str_off as u64), (10, STRING as u64 + 1), (0, 0)] {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&val.to_le_bytes());
    }
    let len = b.len() as u64;
    let load = lay.phoff + lay.load_index * lay.phentsize;
    patch(&mut b, load + 32, 8, len);
    patch(&mut b, load + 40, 8, len);
    let dph = lay.phoff + lay.dynamic_index.expect("dynamic") * lay.phentsize;
    patch(&mut b, dph + 8, 8, dyn_off as u64);
    patch(&mut b, dph + 16, 8, dyn_off as u64);
    patch(&mut b, dph + 24, 8, dyn_off as u64);
    patch(&mut b, dph + 32, 8, len - dyn_off as u64);
    patch(&mut b, dph + 40, 8, len - dyn_off as u64);
    let copied: usize = match depclose::elf::parse(&b) {
        Ok(info) => info.dynamic.map_or(0, |d| d.needed.iter().map(|n| n.as_bytes().len()).sum()),
        Err(_) => 0,
    };
    assert!(
        copied as u64 <= 16 * len + (64 << 10),
        "a {len}-byte file became {copied} bytes of DT_NEEDED strings ({}x)",
        copied as u64 / len
    );
}

/// A resolver's shared caches must not change results: the same closure computed twice by
/// one resolver, and once by a fresh resolver, is identical (diagnostics included). Found by
/// `resolve_small_root` (`fixtures-elf/fuzz/crash-d42c1eab…`): a relative `DT_RPATH` with
/// no working directory configured.
#[test]
fn shared_caches_do_not_change_results() {
    let t = Tree::new();
    let mut exe = Spec::exe(INTERP, &["libx.so", "liby.so"]);
    exe.rpath = Some(b"lib".to_vec());
    t.lib(INTERP, "ld-linux-x86-64.so.2", &[]);
    t.elf("/bin/prog", &exe);
    t.lib("/lib/liby.so", "liby.so", &["libx.so"]);
    let r = t.resolver();
    let first = t.resolve_with(r.clone(), "/bin/prog").expect("closure");
    let second = t.resolve_with(r, "/bin/prog").expect("closure");
    let fresh = t.resolve("/bin/prog").expect("closure");
    assert_eq!(first, fresh);
    assert_eq!(first, second, "the second closure of one resolver differs");
}

/// The same with a symlink loop: a search answered from the resolver's cache must leave the
/// same state behind as the search it stands for (glibc's per-directory status: here
/// `/usr/lib` is found missing while searching `libx.so`, so the search for `libb.so.1`,
/// which cannot come from the cache after the loop's ELOOP, must skip it every time). Found
/// by `resolve_small_root` (`fixtures-elf/fuzz/crash-12e9fb07…`).
#[test]
fn shared_caches_do_not_change_results_after_a_loop() {
    let t = Tree::new();
    t.prog(&["libx.so", "liba.so.1", "libb.so.1"]);
    t.symlink("/lib/liba.so.1", "liba.so.1");
    let r = t.resolver();
    let first = t.resolve_with(r.clone(), "/bin/prog").expect("closure");
    let second = t.resolve_with(r, "/bin/prog").expect("closure");
    let fresh = t.resolve("/bin/prog").expect("closure");
    assert_eq!(first, fresh);
    assert_eq!(first.missing, second.missing, "the second closure of one resolver searched differently");
    assert_eq!(first, second);
}
