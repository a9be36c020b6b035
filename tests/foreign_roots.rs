//! Foreign roots, checked against the root's own loader.
//!
//! 1. **Foreign-architecture oracle** (`arm64_root_…`, `s390x_root_…`, plus `i386`/`armhf`/`ppc64el`
//!    on demand): `scripts/make-foreign-root.sh ARCH DIR` builds a Debian 12 root out of Debian's
//!    packages for ARCH (merged /usr, an `ld.so.cache` written by the root's own `ldconfig`
//!    under qemu-user-static). Then, for **every** ELF file in that root, the set of files
//!    depclose resolves (`Resolver::builder().root(DIR)`, in-root paths) must equal what the
//!    root's own `ld.so` maps in trace mode, run under qemu inside a chroot of the root:
//!    `ld.so --verify FILE`, then `LD_TRACE_LOADED_OBJECTS=1 ld.so FILE`. Not-found names
//!    and load failures are compared too. The loader is invoked explicitly (as `ldd` does),
//!    so depclose runs with `OriginMode::AsGiven` and cwd `/`. The active glibc-hwcaps
//!    subdirectories and `$PLATFORM` of the emulated CPU are read from the loader
//!    (`ld.so --help`, `ld.so --list-diagnostics`) and given to depclose.
//!
//!    Needs root (chroot) and network access to Debian for the first run (downloads are cached
//!    in `$DEPCLOSE_ROOTS_CACHE`, default `/var/cache/depclose-roots`; the built roots live in
//!    `$DEPCLOSE_ROOTS_CACHE/roots/ARCH`). When they are not available the tests print a loud
//!    SKIPPED message and pass, unless `DEPCLOSE_REQUIRE_FOREIGN=1` (CI), where they fail.
//!    `DEPCLOSE_FOREIGN_ARCHES="i386 armhf"` runs the extra architectures too.
//!    `DEPCLOSE_ORACLE_JOBS` sets the parallelism (default 2).
//!
//! 2. **hwcaps subdirectories** (`*_hwcaps_subdirs_…`): in a hard-linked copy of the root,
//!    copies of libz.so.1 in `glibc-hwcaps/<active>/` and in every legacy hwcap subdirectory the
//!    loader searches (`ld.so --help`), with and without a cache rewritten by the root's
//!    ldconfig; the root's programs that need libz must get the copy the loader picks.
//!    Differences that are known gaps are listed in `KNOWN_HWCAPS` (and must still occur).
//!
//! 3. **ld.so.conf instead of a cache** (`arm64_ld_so_conf_…`): with the cache out of reach and
//!    `assume_ldconfig(true)`, depclose must find, for every ELF file, what the loader finds
//!    with the cache the root's ldconfig wrote from that ld.so.conf.
//!
//! 4. **Rootfs from a foreign root** (feature `cli`, `*_rootfs_runs_under_qemu`):
//!    `depclose-cli --root ROOT --dir OUT PROGRAMS…`, then every program runs under qemu in a
//!    chroot of OUT exactly as in the full root.
//!
//! 5. **Root layouts** (native x86_64, oracle `chroot ROOT /lib64/ld-linux-x86-64.so.2 --list`):
//!    a root whose `/lib64/ld-linux-x86-64.so.2` and library symlinks are *absolute* links to
//!    `/lib/...` of the root (pointing at nothing on the host); and a root with no
//!    `etc/ld.so.cache` and no `ld.so.conf`, resolved through the loader's default directories.
//!
//! Time (debug build, 2 cores, roots cached): about 2 minutes; a fresh machine adds about 40 s
//! of downloads and extraction per architecture.
#![cfg(feature = "cli")] // runs depclose-cli

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use depclose::root::Root;
use depclose::{Closure, Hwcaps, Linkage, OriginMode, Resolver};
use rayon::prelude::*;

/// Files whose result differs from the loader's for a reason that is not a depclose bug:
/// (arch, in-root path, the rule that explains it). Listed ones must still differ.
const KNOWN: &[(&str, &str, &str)] = &[];

struct Arch {
    /// Debian architecture name.
    deb: &'static str,
    /// qemu-user name; `None` when the host runs it natively.
    qemu: Option<&'static str>,
    /// The loader (`PT_INTERP` of the root's programs).
    ldso: &'static str,
    /// `e_machine`.
    machine: u16,
    elf64: bool,
}

const ARCHES: &[Arch] = &[
    Arch { deb: "arm64", qemu: Some("aarch64"), ldso: "/lib/ld-linux-aarch64.so.1", machine: 183, elf64: true },
    Arch { deb: "s390x", qemu: Some("s390x"), ldso: "/lib/ld64.so.1", machine: 22, elf64: true },
    Arch { deb: "i386", qemu: None, ldso: "/lib/ld-linux.so.2", machine: 3, elf64: false },
    Arch { deb: "armhf", qemu: Some("arm"), ldso: "/lib/ld-linux-armhf.so.3", machine: 40, elf64: false },
    Arch { deb: "ppc64el", qemu: Some("ppc64le"), ldso: "/lib64/ld64.so.2", machine: 21, elf64: true },
];

fn arch(deb: &str) -> &'static Arch {
    ARCHES.iter().find(|a| a.deb == deb).unwrap()
}

fn required() -> bool {
    std::env::var("DEPCLOSE_REQUIRE_FOREIGN").map(|v| v == "1").unwrap_or(false)
}

/// Skip loudly, or fail when the CI requires these tests.
fn skip(what: &str, why: &str) {
    if required() {
        panic!("{what}: cannot run and DEPCLOSE_REQUIRE_FOREIGN=1: {why}");
    }
    eprintln!("\n**********\n*** SKIPPED {what}: {why}\n*** (set DEPCLOSE_REQUIRE_FOREIGN=1 to make this a failure)\n**********\n");
}

fn is_root_user() -> bool {
    // The real uid, via /proc (no libc dependency in the tests).
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn cache_dir() -> PathBuf {
    common::roots_cache()
}

/// `DEPCLOSE_FOREIGN_ARCHES`: an ignored test asked for by name must have something to test.
fn extra_arches() -> String {
    match std::env::var("DEPCLOSE_FOREIGN_ARCHES") {
        Ok(list) if !list.trim().is_empty() => list,
        _ => panic!("set DEPCLOSE_FOREIGN_ARCHES to the Debian architectures to test, e.g. \"i386 armhf\""),
    }
}

/// The oracle runs are CPU-heavy (qemu): one test at a time runs them, with `jobs()` threads.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn jobs() -> usize {
    std::env::var("DEPCLOSE_ORACLE_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(2)
}

/// Run `argv` chrooted into `root`, cwd `/`, with exactly `env` as environment.
fn run_in_chroot(root: &Path, argv: &[&str], env: &[(&str, &str)]) -> std::io::Result<Output> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let root = root.to_path_buf();
    // SAFETY: only async-signal-safe system calls (chroot, chdir) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir("/")
        });
    }
    cmd.output()
}

/// The root's loader, under qemu when the architecture is foreign.
struct Loader<'a> {
    root: &'a Path,
    arch: &'a Arch,
    qemu: Option<String>,
}

impl Loader<'_> {
    fn run(&self, args: &[&str], trace: bool) -> Output {
        let mut argv: Vec<&str> = Vec::new();
        if let Some(q) = &self.qemu {
            argv.push(q);
        }
        argv.push(self.arch.ldso);
        argv.extend_from_slice(args);
        let env: &[(&str, &str)] = if trace { &[("LD_TRACE_LOADED_OBJECTS", "1")] } else { &[] };
        run_in_chroot(self.root, &argv, env).expect("run the root's loader in a chroot")
    }
}

/// What the loader said about one file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Oracle {
    verify: i32,
    files: BTreeSet<PathBuf>,
    missing: Vec<String>,
    fatal: Option<String>,
}

/// Canonical in-root path of an in-root path, symlinks resolved inside the root.
fn canon(root: &Root, p: &str) -> PathBuf {
    root.resolve(p.as_bytes(), true).map(|w| w.realpath).unwrap_or_else(|_| PathBuf::from(p))
}

fn parse_trace(root: &Root, stdout: &str, o: &mut Oracle) {
    for line in common::parse_trace(stdout) {
        match line {
            common::TraceLine::Mapped(path) => {
                o.files.insert(canon(root, path));
            }
            common::TraceLine::NotFound(name) => o.missing.push(name.to_string()),
            common::TraceLine::Static => {}
        }
    }
    o.missing.sort();
}

fn oracle(loader: &Loader, root: &Root, file: &str) -> Oracle {
    let mut o = Oracle::default();
    let v = loader.run(&["--verify", file], false);
    o.verify = v.status.code().unwrap_or(-1);
    if o.verify != 0 && o.verify != 2 {
        return o;
    }
    let out = loader.run(&[file], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || stderr.contains("error while loading shared libraries") {
        o.fatal = Some(format!("exit {:?}: {}", out.status.code(), stderr.trim()));
    }
    parse_trace(root, &stdout, &mut o);
    o
}

/// The comparison: a description of the difference, or `None` when they agree.
fn compare(arch: &Arch, ldso_real: &Path, theirs: &Oracle, got: &Result<Closure, depclose::Error>) -> Option<String> {
    let dynamic = theirs.verify == 0 || theirs.verify == 2;
    let c = match got {
        Err(_) if !dynamic => return None,
        Err(e) => return Some(format!("depclose error: {e}")),
        Ok(c) => c,
    };
    if !dynamic {
        // The loader refuses it (static, other class or machine, not loadable); depclose must
        // not claim it loads with this loader.
        let o = &c.objects[0];
        let foreign = o.file.machine != arch.machine || (o.file.class == depclose::Class::Elf64) != arch.elf64;
        return (c.linkage == Linkage::Dynamic && !foreign)
            .then(|| format!("ld.so --verify says {} but depclose resolved it as dynamic", theirs.verify));
    }
    if let Some(f) = &theirs.fatal {
        return c.fatal.is_none().then(|| format!("loader aborts ({f}), depclose does not"));
    }
    if let Some(f) = &c.fatal {
        return Some(format!("depclose reports a load failure the loader does not: {f:?}"));
    }
    let mine: BTreeSet<PathBuf> = c.loaded_files().into_iter().map(Path::to_path_buf).collect();
    let mut mine_missing: Vec<String> = c.missing.iter().map(|m| m.name.to_string()).collect();
    mine_missing.sort();
    let mut want = theirs.files.clone();
    // The trace omits the interpreter when nothing NEEDs it; it is mapped all the same.
    if c.interpreter.is_some() && theirs.verify == 0 {
        want.insert(ldso_real.to_path_buf());
    }
    if mine == want && mine_missing == theirs.missing {
        return None;
    }
    let extra: Vec<_> = mine.difference(&want).collect();
    let lacking: Vec<_> = want.difference(&mine).collect();
    Some(format!(
        "files only depclose: {extra:?}; files only ld.so: {lacking:?}; missing depclose {mine_missing:?} vs ld.so {:?}",
        theirs.missing
    ))
}

/// Every regular file with ELF magic, as in-root paths (the test's own qemu excluded).
fn elf_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().filter_map(Result::ok) {
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(dir).unwrap();
        if rel.starts_with(".depclose") {
            continue;
        }
        let mut magic = [0u8; 4];
        if fs::File::open(e.path()).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF" {
            out.push(format!("/{}", rel.display()));
        }
    }
    out.sort();
    out
}

/// `ld.so --help`: the glibc-hwcaps subdirectories marked "supported, searched", in order.
fn active_hwcaps(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Subdirectories of glibc-hwcaps directories") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if line.contains("(supported, searched)") {
                out.push(line.split_whitespace().next().unwrap().to_string());
            }
        }
    }
    out
}

/// `ld.so --list-diagnostics`: `dl_platform="…"` (absent or `0x0` when the kernel gives none).
fn platform(diag: &str) -> Option<String> {
    diag.lines().find_map(|l| l.strip_prefix("dl_platform=\"").and_then(|r| r.strip_suffix('"')).map(str::to_string))
}

/// Build (or reuse) the root for `deb` with the script; `None` after a skip.
fn build_root(deb: &str) -> Option<PathBuf> {
    let what = format!("foreign root {deb}");
    if !is_root_user() {
        skip(&what, "needs root (chroot, apt-get)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-foreign-root.sh");
    let dest = cache_dir().join("roots").join(deb);
    let t = Instant::now();
    let out = common::make_foreign_root(deb, &dest).expect("run make-foreign-root.sh");
    if !out.status.success() {
        skip(
            &what,
            &format!(
                "{} failed:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        );
        return None;
    }
    eprintln!("{what}: root ready in {:.1}s at {}", t.elapsed().as_secs_f64(), dest.display());
    Some(dest)
}

/// The loader's answers for every ELF file of a root, computed once per test process.
struct OracleRun {
    dir: PathBuf,
    files: Vec<String>,
    theirs: Vec<Oracle>,
    hwcaps: Vec<String>,
    platform: Option<String>,
    ldso_real: PathBuf,
    seconds: f64,
}

/// Oracle runs per architecture, computed once.
type Runs = Vec<(&'static str, Option<std::sync::Arc<OracleRun>>)>;
static RUNS: std::sync::Mutex<Runs> = std::sync::Mutex::new(Vec::new());

/// Build the root and run its loader on every ELF file (once per process); `None` after a skip.
fn oracle_run(deb: &'static str) -> Option<std::sync::Arc<OracleRun>> {
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = runs.iter().find(|(d, _)| *d == deb) {
        return r.clone();
    }
    let r = compute_oracle_run(deb).map(std::sync::Arc::new);
    runs.push((deb, r.clone()));
    r
}

fn compute_oracle_run(deb: &str) -> Option<OracleRun> {
    let _heavy = heavy();
    let arch = arch(deb);
    let dir = build_root(deb)?;
    let qemu = arch.qemu.map(|q| format!("/.depclose/qemu-{q}-static"));
    if let Some(q) = &qemu {
        assert!(dir.join(&q[1..]).is_file(), "{q} missing from the root");
    }
    let loader = Loader { root: &dir, arch, qemu };
    // The loader must run at all (qemu, chroot).
    let help = loader.run(&["--help"], false);
    if !help.status.success() {
        skip(
            &format!("foreign root {deb}"),
            &format!("the root's loader does not run: {}", String::from_utf8_lossy(&help.stderr)),
        );
        return None;
    }
    let hwcaps = active_hwcaps(&String::from_utf8_lossy(&help.stdout));
    let diag = loader.run(&["--list-diagnostics"], false);
    let platform = platform(&String::from_utf8_lossy(&diag.stdout));
    eprintln!("{deb}: active glibc-hwcaps {hwcaps:?}, platform {platform:?}");
    let root = Root::new(&dir).unwrap();
    let files = elf_files(&dir);
    assert!(files.len() > 200, "expected hundreds of ELF files in the {deb} root, found {}", files.len());
    let ldso_real = canon(&root, arch.ldso);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs()).build().unwrap();
    let t = Instant::now();
    let theirs: Vec<Oracle> = pool.install(|| files.par_iter().map(|f| oracle(&loader, &root, f)).collect());
    let seconds = t.elapsed().as_secs_f64();
    Some(OracleRun { dir: dir.clone(), files, theirs, hwcaps, platform, ldso_real, seconds })
}

/// A resolver for the root, set up like the loader under qemu; `tweak` adjusts it.
fn run_resolver(run: &OracleRun, tweak: impl FnOnce(&mut depclose::ResolverBuilder)) -> Resolver {
    let mut b = Resolver::builder();
    b.root(&run.dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).threads(1);
    b.hwcaps(if run.hwcaps.is_empty() { Hwcaps::None } else { Hwcaps::Subdirs(run.hwcaps.clone()) });
    if let Some(p) = &run.platform {
        b.platform(Some(p.as_ref()));
    }
    tweak(&mut b);
    b.build().unwrap()
}

fn check_foreign_root(deb: &'static str) {
    let arch = arch(deb);
    let Some(run) = oracle_run(deb) else { return };
    let resolver = run_resolver(&run, |_| {});
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs()).build().unwrap();
    let t = Instant::now();
    let ours: Vec<_> = pool.install(|| run.files.par_iter().map(|f| resolver.closure_in_root(f)).collect());
    let t_ours = t.elapsed();
    let (files, theirs, ldso_real) = (&run.files, &run.theirs, &run.ldso_real);
    let t_theirs = std::time::Duration::from_secs_f64(run.seconds);

    let mut unexplained = Vec::new();
    let mut explained = BTreeSet::new();
    let mut compared = 0;
    for ((file, t), o) in files.iter().zip(theirs).zip(&ours) {
        if t.verify == 0 || t.verify == 2 {
            compared += 1;
        }
        if let Some(diff) = compare(arch, ldso_real, t, o) {
            if KNOWN.iter().any(|(a, p, _)| *a == deb && p == file) {
                explained.insert(file.clone());
            } else {
                unexplained.push(format!("{file}: {diff}"));
            }
        }
    }
    let stale: Vec<_> =
        KNOWN.iter().filter(|(a, p, _)| *a == deb && !explained.contains(*p)).map(|(_, p, _)| p).collect();
    eprintln!(
        "{deb} root: {} ELF files, {compared} loadable by {}, {} unexplained differences, {} explained; \
         depclose {:.1}s, loader under qemu {:.1}s",
        files.len(),
        arch.ldso,
        unexplained.len(),
        explained.len(),
        t_ours.as_secs_f64(),
        t_theirs.as_secs_f64()
    );
    assert!(compared > 100, "the {deb} loader accepted only {compared} files: is the oracle working?");
    // The root exercises what it was built for (see make-foreign-root.sh): a library only the
    // cache knows, RUNPATH directories, absolute links through /etc/alternatives.
    let seen: BTreeSet<&PathBuf> = theirs.iter().flat_map(|o| &o.files).collect();
    for (what, needle) in [
        ("a library found only through ld.so.cache", "/usr/local/lib/"),
        ("a library found through systemd's RUNPATH", "/systemd/libsystemd-shared"),
        ("a library reached through /etc/alternatives", "/blas/libblas.so.3"),
    ] {
        assert!(
            seen.iter().any(|p| p.to_string_lossy().contains(needle)),
            "no file of the {deb} root loads {what} ({needle}): the oracle or the root is broken"
        );
    }
    assert!(
        unexplained.is_empty(),
        "{} files of the {deb} root differ from its loader:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(stale.is_empty(), "KNOWN lists files that now agree: {stale:?}");
}

#[test]
fn arm64_root_matches_its_loader_for_every_elf_file() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_root("arm64");
}

/// Big-endian, 64-bit.
#[test]
fn s390x_root_matches_its_loader_for_every_elf_file() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_root("s390x");
}

/// Extra architectures, on demand: `DEPCLOSE_FOREIGN_ARCHES="i386 armhf ppc64el" cargo test
/// --all-features --test foreign_roots -- --include-ignored extra_arches`. Ignored (reported
/// as such, not as passed) otherwise.
#[test]
#[ignore = "needs DEPCLOSE_FOREIGN_ARCHES (e.g. \"i386 armhf\") and --include-ignored"]
fn extra_arches_match_their_loader_for_every_elf_file() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    let list = extra_arches();
    for deb in list.split_whitespace() {
        check_foreign_root(ARCHES.iter().find(|a| a.deb == deb).expect("unknown architecture").deb);
    }
}

/// The issue's "or its ld.so.conf when it has no cache": with the cache out of reach and
/// `assume_ldconfig`, depclose reads the root's /etc/ld.so.conf (includes and all) and must
/// find what the loader finds with the cache that the root's own ldconfig wrote from it.
#[test]
fn arm64_ld_so_conf_stands_in_for_a_missing_cache() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    let Some(run) = oracle_run("arm64") else { return };
    let arch = arch("arm64");
    let resolver = run_resolver(&run, |b| {
        b.cache(depclose::CacheSource::Path("/.depclose/no-such-ld.so.cache".into())).assume_ldconfig(true);
    });
    let mut differences = Vec::new();
    for (file, t) in run.files.iter().zip(&run.theirs) {
        if let Some(diff) = compare(arch, &run.ldso_real, t, &resolver.closure_in_root(file)) {
            differences.push(format!("{file}: {diff}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} files resolve differently from ld.so.conf than through the cache ldconfig wrote from it:\n{}",
        differences.len(),
        differences.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// `ld.so --help`: the legacy hwcap subdirectories marked "searched", in the printed order
/// (the platform first when it has one).
fn legacy_subdirs(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Legacy HWCAP subdirectories") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if line.contains("searched)") {
                out.push(line.split_whitespace().next().unwrap().to_string());
            }
        }
    }
    out
}

/// glibc-hwcaps and legacy hwcap subdirectories in a foreign root: copies of libz.so.1 are put
/// in `<libdir>/glibc-hwcaps/<active>/`, `<libdir>/<legacy name>/`, `<libdir>/<platform>/` and
/// `<libdir>/tls/` (one at a time, then all together), with the root's own ldconfig rerun
/// (cache) and without a cache; the programs of the root that need libz must resolve to the
/// copy the loader picks. The root is a hard-linked copy of the Debian root.
fn check_hwcaps_subdirs(deb: &str) -> Vec<String> {
    let _heavy = heavy();
    let arch = arch(deb);
    let Some(dir) = build_root(deb) else { return Vec::new() };
    let qemu = arch.qemu.map(|q| format!("/.depclose/qemu-{q}-static"));
    let work = cache_dir().join("work").join(format!("{deb}-hwcaps-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(work.parent().unwrap()).unwrap();
    let st = Command::new("cp").arg("-al").arg(&dir).arg(&work).status().unwrap();
    assert!(st.success(), "cp -al {} {}", dir.display(), work.display());
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(work.clone());

    let loader = Loader { root: &work, arch, qemu: qemu.clone() };
    let help = loader.run(&["--help"], false);
    if !help.status.success() {
        skip(&format!("hwcaps subdirs {deb}"), "the root's loader does not run");
        return Vec::new();
    }
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let hwcaps = active_hwcaps(&help);
    let legacy = legacy_subdirs(&help);
    let platform = platform(&String::from_utf8_lossy(&loader.run(&["--list-diagnostics"], false).stdout));
    eprintln!("{deb}: glibc-hwcaps {hwcaps:?}, legacy subdirectories {legacy:?}, platform {platform:?}");

    let root = Root::new(&work).unwrap();
    let zlib = canon(&root, &format!("{}/../libz.so.1", arch.ldso.rsplit_once('/').unwrap().0));
    let zlib = if root.resolve(zlib.as_os_str().as_encoded_bytes(), true).is_ok() {
        zlib
    } else {
        // The loader is not beside the libraries (/lib/ld-linux-aarch64.so.1): use the triplet dir.
        let real_ldso = canon(&root, arch.ldso);
        real_ldso.parent().unwrap().join("libz.so.1")
    };
    let zlib_real = canon(&root, zlib.to_str().unwrap());
    let libdir = zlib.parent().unwrap().to_path_buf();
    // Programs that need libz (per depclose on the pristine root, checked against the loader below).
    let base = {
        let mut b = Resolver::builder();
        b.root(&work).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).hwcaps(Hwcaps::None);
        b.build().unwrap()
    };
    let users: Vec<String> = elf_files(&work)
        .into_iter()
        .filter(|f| f.contains("/bin/"))
        .filter(|f| base.closure_in_root(f).map(|c| c.loaded_files().contains(&zlib_real.as_path())).unwrap_or(false))
        .take(6)
        .collect();
    assert!(!users.is_empty(), "no program of the {deb} root needs libz");

    let mut variants: Vec<Vec<String>> = Vec::new();
    if let Some(h) = hwcaps.first() {
        variants.push(vec![format!("glibc-hwcaps/{h}")]);
    }
    for l in &legacy {
        variants.push(vec![l.clone()]);
    }
    let mut all: Vec<String> = hwcaps.first().map(|h| vec![format!("glibc-hwcaps/{h}")]).unwrap_or_default();
    all.extend(legacy.iter().cloned());
    if all.len() > 1 {
        variants.push(all);
    }

    let ldso_real = canon(&root, arch.ldso);
    let mut differences = Vec::new();
    for subdirs in &variants {
        for sub in subdirs {
            let d = work.join(libdir.strip_prefix("/").unwrap()).join(sub);
            fs::create_dir_all(&d).unwrap();
            fs::copy(work.join(zlib_real.strip_prefix("/").unwrap()), d.join("libz.so.1")).unwrap();
        }
        for cache in [true, false] {
            let cache_file = work.join("etc/ld.so.cache");
            let _ = fs::remove_file(&cache_file);
            if cache {
                let mut argv: Vec<&str> = qemu.iter().map(String::as_str).collect();
                argv.push("/sbin/ldconfig");
                let o = run_in_chroot(&work, &argv, &[]).unwrap();
                assert!(o.status.success(), "ldconfig in {}: {}", work.display(), String::from_utf8_lossy(&o.stderr));
            }
            let root = Root::new(&work).unwrap();
            let mut b = Resolver::builder();
            b.root(&work).origin(OriginMode::AsGiven).cwd(Some("/".as_ref()));
            b.hwcaps(if hwcaps.is_empty() { Hwcaps::None } else { Hwcaps::Subdirs(hwcaps.clone()) });
            if let Some(p) = &platform {
                b.platform(Some(p.as_ref()));
            }
            let resolver = b.build().unwrap();
            for f in &users {
                let theirs = oracle(&loader, &root, f);
                let ours = resolver.closure_in_root(f);
                if let Some(d) = compare(arch, &ldso_real, &theirs, &ours) {
                    let line = format!(
                        "libz.so.1 in {subdirs:?}, {}: {f}: {d}",
                        if cache { "ld.so.cache" } else { "no cache" }
                    );
                    differences.push((subdirs.clone(), cache, line));
                }
            }
        }
        for sub in subdirs {
            fs::remove_file(work.join(libdir.strip_prefix("/").unwrap()).join(sub).join("libz.so.1")).unwrap();
        }
    }
    eprintln!(
        "{deb}: hwcaps subdirectories: {} variants x 2 caches x {} programs, {} differences",
        variants.len(),
        users.len(),
        differences.len()
    );
    // Known differences: (arch, subdirectory, cache) per KNOWN_HWCAPS; each must still occur.
    let mut unexplained = Vec::new();
    let mut seen_known = BTreeSet::new();
    for (subdirs, cache, line) in differences {
        let key = subdirs.join("+");
        let known =
            KNOWN_HWCAPS.iter().position(|(a, sub, c, _)| *a == deb && *sub == key && c.is_none_or(|c| c == cache));
        match known {
            Some(i) => {
                seen_known.insert(i);
            }
            None => unexplained.push(line),
        }
    }
    let stale: Vec<_> = KNOWN_HWCAPS
        .iter()
        .enumerate()
        .filter(|(i, (a, sub, _, _))| {
            *a == deb && !seen_known.contains(i) && variants.iter().any(|v| v.join("+") == *sub)
        })
        .map(|(_, k)| k)
        .collect();
    let mut problems = Vec::new();
    if !unexplained.is_empty() {
        problems.push(format!("{deb}: depclose picks another copy than the loader:\n{}", unexplained.join("\n")));
    }
    if !stale.is_empty() {
        problems.push(format!("{deb}: KNOWN_HWCAPS entries that now agree: {stale:?}"));
    }
    problems
}

/// Known differences: (arch, the variant's subdirectories joined by '+', Some(with cache) or
/// None for both, reason). The searched legacy names come from `ld.so --help` under qemu 7.2
/// (its default CPU models).
const KNOWN_HWCAPS: &[(&str, &str, Option<bool>, &str)] = &[
    ("arm64", "atomics", None, LEGACY),
    ("s390x", "vxe", None, LEGACY),
    ("s390x", "vx", None, LEGACY),
    ("s390x", "eimm", None, LEGACY),
    ("s390x", "ldisp", None, LEGACY),
    ("s390x", "zarch", None, LEGACY),
    ("ppc64el", "altivec", None, LEGACY),
    ("ppc64el", "dfp", None, LEGACY),
    ("armhf", "neon", None, LEGACY),
    ("armhf", "vfp", None, LEGACY),
    ("armhf", "v8l+tls+neon+vfp", Some(true), LEGACY),
    ("i386", "sse2", None, LEGACY),
    (
        "i386",
        "i686",
        Some(true),
        "ldconfig 2.36 gives cache entries under i686/ the platform bit 1<<49 (_dl_x86_platforms \
         index 1); depclose maps only haswell and xeon_phi to platform bits, so it rejects the entry",
    ),
];

const LEGACY: &str = "glibc 2.36 searches legacy hwcap subdirectories named after HWCAP_IMPORTANT bits \
    (aarch64 atomics; s390x zarch, ldisp, eimm, vx, vxe; ppc altivec, dfp; arm vfp, neon; i386 sse2) \
    and takes cache entries carrying those bits; depclose knows only x86_64's names";

fn assert_hwcaps(arches: &[&str]) {
    let problems: Vec<String> = arches.iter().flat_map(|a| check_hwcaps_subdirs(a)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn arm64_hwcaps_subdirs_match_the_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    assert_hwcaps(&["arm64"]);
}

#[test]
fn s390x_hwcaps_subdirs_match_the_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    assert_hwcaps(&["s390x"]);
}

/// `DEPCLOSE_FOREIGN_ARCHES="i386 armhf ppc64el"`, as above.
#[test]
#[ignore = "needs DEPCLOSE_FOREIGN_ARCHES (e.g. \"i386 armhf\") and --include-ignored"]
fn extra_arches_hwcaps_subdirs_match_the_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    let list = extra_arches();
    assert_hwcaps(&list.split_whitespace().collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// Root layouts, native x86_64.

const HOST_LDSO: &str = "/lib64/ld-linux-x86-64.so.2";

/// Copy a host file (following symlinks) to `root` + `at`, creating parents.
fn put(root: &Path, at: &str, from: &Path) {
    let dst = root.join(at.trim_start_matches('/'));
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    fs::copy(from, &dst).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), dst.display()));
}

fn symlink(root: &Path, at: &str, target: &str) {
    let dst = root.join(at.trim_start_matches('/'));
    fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, dst).unwrap();
}

/// The host libraries a program needs, by name and canonical host path (`ldd`-style trace).
fn host_libs(prog: &str) -> Vec<(String, PathBuf)> {
    let out = Command::new(HOST_LDSO).arg(prog).env_clear().env("LD_TRACE_LOADED_OBJECTS", "1").output().unwrap();
    let mut v = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((name, rest)) = line.trim().split_once(" => ") {
            if let Some((p, _)) = rest.rsplit_once(" (0x") {
                v.push((name.to_string(), fs::canonicalize(p.trim()).unwrap()));
            }
        }
    }
    v
}

/// `chroot ROOT /lib64/ld-linux-x86-64.so.2 --list PROG` (real loader, missing libraries fatal).
fn chroot_list(root: &Path, prog: &str, ldso: &str) -> (Oracle, String) {
    let r = Root::new(root).unwrap();
    let out = run_in_chroot(root, &[ldso, "--list", prog], &[]).expect("chroot");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut o = Oracle { verify: 0, ..Default::default() };
    if !out.status.success() {
        o.fatal = Some(format!("exit {:?}: {}", out.status.code(), stderr.trim()));
    }
    parse_trace(&r, &stdout, &mut o);
    (o, format!("{stdout}{stderr}"))
}

fn native_oracle_available() -> bool {
    if !is_root_user() {
        skip("root layout tests", "needs root (chroot)");
        return false;
    }
    if !Path::new(HOST_LDSO).exists() || !cfg!(target_arch = "x86_64") {
        skip("root layout tests", "needs an x86_64 glibc host");
        return false;
    }
    true
}

/// A copy of a host program and its libraries under an unmerged layout whose links are
/// absolute and point at files the host does not have (every copied file gets a `root-`
/// prefix), so a resolver that followed them on the host would find nothing:
///
/// - `/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/root-ld-linux-x86-64.so.2`;
/// - for every other library, `/usr/lib/x86_64-linux-gnu/<soname> ->
///   /lib/x86_64-linux-gnu/root-<file>` (absolute, found in the second default directory);
/// - for the others, `/lib/x86_64-linux-gnu/<soname> -> root-<file>` (relative).
///
/// Returns (soname, host file) of the libraries.
fn layout_root(dir: &Path, prog: &str) -> Vec<(String, PathBuf)> {
    let libs = host_libs(prog);
    assert!(libs.len() >= 2, "{prog} needs at least two libraries on this host");
    put(dir, "/lib/x86_64-linux-gnu/root-ld-linux-x86-64.so.2", Path::new(HOST_LDSO));
    symlink(dir, "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/root-ld-linux-x86-64.so.2");
    put(dir, "/usr/bin/prog", Path::new(prog));
    for (i, (name, real)) in libs.iter().enumerate() {
        let file = format!("root-{}", real.file_name().unwrap().to_str().unwrap());
        assert!(!Path::new("/lib/x86_64-linux-gnu").join(&file).exists());
        put(dir, &format!("/lib/x86_64-linux-gnu/{file}"), real);
        if i % 2 == 0 {
            symlink(dir, &format!("/usr/lib/x86_64-linux-gnu/{name}"), &format!("/lib/x86_64-linux-gnu/{file}"));
        } else {
            symlink(dir, &format!("/lib/x86_64-linux-gnu/{name}"), &file);
        }
    }
    libs
}

fn compare_with_chroot(dir: &Path, prog: &str, resolver: &Resolver) -> Result<(), String> {
    let (theirs, raw) = chroot_list(dir, prog, "/lib64/ld-linux-x86-64.so.2");
    let ours = resolver.closure_in_root(prog);
    let r = Root::new(dir).unwrap();
    let ldso_real = canon(&r, "/lib64/ld-linux-x86-64.so.2");
    let host = Arch { deb: "amd64", qemu: None, ldso: HOST_LDSO, machine: 62, elf64: true };
    match compare(&host, &ldso_real, &theirs, &ours) {
        None => Ok(()),
        Some(d) => Err(format!("{prog} in {}: {d}\nloader said:\n{raw}", dir.display())),
    }
}

/// Criterion 3a: absolute symlinks inside the root resolve inside the root.
#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    if !native_oracle_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let libs = layout_root(dir, "/usr/bin/ls");
    // The root's own cache, written by the host's ldconfig for this root (-r).
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/ld.so.conf"), "/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n").unwrap();
    let st = Command::new("/sbin/ldconfig").arg("-r").arg(dir).arg("-X").status().unwrap();
    assert!(st.success(), "ldconfig -r failed");
    let resolver = Resolver::builder().root(dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).build().unwrap();
    compare_with_chroot(dir, "/usr/bin/prog", &resolver).unwrap();
    let c = resolver.closure_in_root("/usr/bin/prog").unwrap();
    assert!(c.is_complete(), "{:?}", c.missing);
    let interp = c.objects.iter().find(|o| o.role == depclose::Role::Interpreter).expect("interpreter object");
    assert_eq!(interp.file.location.realpath, Path::new("/lib/x86_64-linux-gnu/root-ld-linux-x86-64.so.2"));
    assert!(
        interp
            .file
            .location
            .hops
            .iter()
            .any(|h| h.target == Path::new("/lib/x86_64-linux-gnu/root-ld-linux-x86-64.so.2")),
        "the absolute /lib64 link is a hop: {:?}",
        interp.file.location.hops
    );
    assert_eq!(c.loaded_files().len(), libs.len() + 1);

    // Same without a cache: only the default directories, reached through the absolute links.
    fs::remove_file(dir.join("etc/ld.so.cache")).unwrap();
    let resolver = Resolver::builder().root(dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).build().unwrap();
    compare_with_chroot(dir, "/usr/bin/prog", &resolver).unwrap();
}

/// Criterion 3b: a root with no `etc/ld.so.cache` and no `ld.so.conf` resolves through the
/// defaults; a library only in a directory that ld.so.conf would list is not found, and a
/// RUNPATH reaching through an absolute directory link works.
#[test]
fn root_without_cache_or_conf_resolves_through_defaults() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    if !native_oracle_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let libs = layout_root(dir, "/usr/bin/ls");
    assert!(!dir.join("etc").exists());
    let resolver = Resolver::builder().root(dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).build().unwrap();
    compare_with_chroot(dir, "/usr/bin/prog", &resolver).unwrap();

    // Move one library out of the default directories into /opt/lib (what ld.so.conf would
    // name): both sides report it missing (the loader fatally, in --list mode).
    let (name, real) = libs.iter().find(|(n, _)| !n.starts_with("libc.so")).unwrap().clone();
    let file = format!("root-{}", real.file_name().unwrap().to_str().unwrap());
    for d in ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"] {
        let _ = fs::remove_file(dir.join(d).join(&name));
        let _ = fs::remove_file(dir.join(d).join(&file));
    }
    put(dir, &format!("/opt/lib/{name}"), &real);
    // A fresh resolver: a resolver caches what it has read of the tree.
    let resolver = Resolver::builder().root(dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).build().unwrap();
    let c = resolver.closure_in_root("/usr/bin/prog").unwrap();
    assert_eq!(c.missing.iter().map(|m| m.name.to_string()).collect::<Vec<_>>(), vec![name.clone()]);
    let (theirs, raw) = chroot_list(dir, "/usr/bin/prog", "/lib64/ld-linux-x86-64.so.2");
    assert!(theirs.fatal.is_some() && raw.contains(&name), "the loader should fail on {name}: {raw}");

    // A program with RUNPATH /opt/app/lib, where /opt/app/lib is an absolute link to
    // /srv/applib: found inside the root.
    put(dir, &format!("/srv/applib/{name}"), &real);
    symlink(dir, "/opt/app/lib", "/srv/applib");
    put(dir, "/usr/bin/prog2", Path::new("/usr/bin/ls"));
    let st = Command::new("patchelf").args(["--set-rpath", "/opt/app/lib"]).arg(dir.join("usr/bin/prog2")).status();
    match st {
        Ok(s) if s.success() => {
            let resolver =
                Resolver::builder().root(dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).build().unwrap();
            compare_with_chroot(dir, "/usr/bin/prog2", &resolver).unwrap();
            let c = resolver.closure_in_root("/usr/bin/prog2").unwrap();
            assert!(c.is_complete(), "{:?}", c.missing);
            assert!(c.loaded_files().contains(&Path::new("/srv/applib").join(&name).as_path()));
        }
        _ => skip("RUNPATH through an absolute directory link", "patchelf is not installed"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rootfs from a foreign root.

/// Programs of the Debian root and arguments that make them print something and exit.
#[cfg(feature = "cli")]
const RUN: &[&[&str]] = &[
    &["/usr/bin/curl", "--version"],
    &["/usr/bin/sqlite3", "-version"],
    &["/usr/bin/bash", "-c", "echo hello from bash"],
    &["/usr/bin/openssl", "version"],
    &["/usr/bin/zstd", "--version"],
    &["/usr/bin/systemctl", "--version"],
    &["/usr/bin/ls", "-d", "/"],
];

/// "All rootfs outputs work the same from a foreign root": `depclose-cli --root ROOT --dir OUT
/// PROGRAMS…`, then each program runs under qemu in a chroot of OUT and prints exactly what it
/// prints in the full root. OUT holds only what depclose chose (plus the test's qemu).
#[cfg(feature = "cli")]
fn check_foreign_rootfs(deb: &str) {
    let arch = arch(deb);
    let Some(dir) = build_root(deb) else { return };
    let _heavy = heavy();
    let tmp =
        tempfile::Builder::new().prefix(&format!("rootfs-{deb}.")).tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = tmp.path().join("rootfs");
    let cli = env!("CARGO_BIN_EXE_depclose-cli");
    let mut cmd = Command::new(cli);
    cmd.arg("--root").arg(&dir).arg("--dir").arg(&out);
    for r in RUN {
        cmd.arg(r[0]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "depclose-cli --root {} --dir … failed: {}{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let qemu = arch.qemu.map(|q| format!("/.depclose/qemu-{q}-static"));
    if let Some(q) = &qemu {
        fs::create_dir_all(out.join(".depclose")).unwrap();
        fs::copy(dir.join(&q[1..]), out.join(&q[1..])).unwrap();
    }
    let files =
        walkdir::WalkDir::new(&out).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).count();
    let mut failures = Vec::new();
    for r in RUN {
        let argv: Vec<&str> = qemu.iter().map(String::as_str).chain(r.iter().copied()).collect();
        let want = run_in_chroot(&dir, &argv, &[("PATH", "/usr/bin")]).unwrap();
        let got = run_in_chroot(&out, &argv, &[("PATH", "/usr/bin")]).unwrap();
        assert!(want.status.success(), "{r:?} fails in the full {deb} root: {}", String::from_utf8_lossy(&want.stderr));
        if got.status.code() != want.status.code() || got.stdout != want.stdout {
            failures.push(format!(
                "{r:?}: full root: {:?} {:?}; rootfs: {:?} {:?} {}",
                want.status.code(),
                String::from_utf8_lossy(&want.stdout).lines().next().unwrap_or(""),
                got.status.code(),
                String::from_utf8_lossy(&got.stdout).lines().next().unwrap_or(""),
                String::from_utf8_lossy(&got.stderr).trim()
            ));
        }
    }
    eprintln!("{deb}: rootfs of {} programs: {files} files, {} failures", RUN.len(), failures.len());
    assert!(failures.is_empty(), "{deb} rootfs made by depclose does not run its programs:\n{}", failures.join("\n"));
}

#[cfg(feature = "cli")]
#[test]
fn arm64_rootfs_runs_under_qemu() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_rootfs("arm64");
}

#[cfg(feature = "cli")]
#[test]
fn s390x_rootfs_runs_under_qemu() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_rootfs("s390x");
}

/// Runtime files in a foreign root come from that root, found by the strings of its own
/// libraries: its zoneinfo, gconv modules, CA bundle and libgcc_s (checked in the manifest,
/// with the evidence naming the root's libc), and the programs use them under qemu in a
/// chroot of the rootfs (`TZ=Europe/Paris date`, `iconv`).
#[cfg(feature = "cli")]
fn check_foreign_runtime(deb: &str) {
    let arch = arch(deb);
    let Some(dir) = build_root(deb) else { return };
    let _heavy = heavy();
    let tmp =
        tempfile::Builder::new().prefix(&format!("runtime-{deb}.")).tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = tmp.path().join("rootfs");
    let manifest = tmp.path().join("m.json");
    let progs = ["/usr/bin/date", "/usr/bin/iconv", "/usr/bin/curl", "/usr/bin/zstd"];
    let o = Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
        .arg("--root")
        .arg(&dir)
        .arg("--dir")
        .arg(&out)
        .arg("--manifest")
        .arg(&manifest)
        .args(progs)
        .output()
        .unwrap();
    assert!(o.status.success(), "depclose-cli --root {}: {}", dir.display(), String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    let root = Root::new(&dir).unwrap();
    let libc = canon(&root, &format!("/lib/{}/libc.so.6", triplet(&dir)));
    let reasons = |path: &str| -> Vec<serde_json::Value> {
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("{deb}: {path} is not in the rootfs"))["reasons"]
            .as_array()
            .unwrap()
            .clone()
    };
    let t = triplet(&dir);
    for (path, pack) in [
        ("/usr/share/zoneinfo/Europe/Paris".to_string(), "tzdata"),
        (format!("/usr/lib/{t}/gconv/gconv-modules"), "gconv"),
        (format!("/usr/lib/{t}/gconv/UTF-16.so"), "gconv"),
        ("/etc/ssl/certs/ca-certificates.crt".to_string(), "ca"),
    ] {
        let rs = reasons(&path);
        assert!(rs.iter().any(|r| r["kind"] == "runtime" && r["pack"] == pack), "{deb}: {path}: {rs:?}");
        if pack != "ca" {
            let by_libc = rs.iter().any(|r| r["located"]["object"] == libc.to_str().unwrap());
            assert!(by_libc, "{deb}: {path} is located by the root's own libc {}: {rs:?}", libc.display());
        }
    }
    let gcc =
        fs::read_dir(dir.join(format!("usr/lib/{t}"))).unwrap().flatten().any(|e| e.file_name() == "libgcc_s.so.1");
    if gcc {
        let rs = reasons(&format!("/usr/lib/{t}/libgcc_s.so.1"));
        assert!(rs.iter().any(|r| r["kind"] == "dlopen"), "{deb}: libgcc_s.so.1 is dlopened by libc: {rs:?}");
    }
    let qemu = arch.qemu.map(|q| format!("/.depclose/qemu-{q}-static"));
    if let Some(q) = &qemu {
        fs::create_dir_all(out.join(".depclose")).unwrap();
        fs::copy(dir.join(&q[1..]), out.join(&q[1..])).unwrap();
    }
    let run = |args: &[&str], env: &[(&str, &str)]| -> Output {
        let argv: Vec<&str> = qemu.iter().map(String::as_str).chain(args.iter().copied()).collect();
        run_in_chroot(&out, &argv, env).unwrap()
    };
    let got = run(&["/usr/bin/date", "+%Z"], &[("TZ", "Europe/Paris")]);
    let zone = String::from_utf8_lossy(&got.stdout).trim().to_string();
    assert!(zone == "CET" || zone == "CEST", "{deb}: TZ=Europe/Paris date: {zone:?} {got:?}");
    // UTF-16 is a gconv module, not built in: it must come from the root's gconv directory.
    let modules = format!("/usr/lib/{t}/gconv/gconv-modules");
    let got = run(&["/usr/bin/iconv", "-f", "UTF-8", "-t", "UTF-16LE", &modules], &[]);
    assert!(got.status.success(), "{deb}: iconv to UTF-16LE: {}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(got.stdout.len(), 2 * fs::metadata(dir.join(&modules[1..])).unwrap().len() as usize, "{deb}: iconv");
}

/// The multiarch directory of a Debian root (`aarch64-linux-gnu`).
#[cfg(feature = "cli")]
fn triplet(dir: &Path) -> String {
    fs::read_dir(dir.join("usr/lib"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with("-linux-gnu") && dir.join("usr/lib").join(n).join("libc.so.6").exists())
        .expect("a multiarch directory with libc.so.6")
}

#[cfg(feature = "cli")]
#[test]
fn arm64_runtime_files_come_from_the_root() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_runtime("arm64");
}

#[cfg(feature = "cli")]
#[test]
fn s390x_runtime_files_come_from_the_root() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_foreign_runtime("s390x");
}
