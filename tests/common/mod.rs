//! Helpers shared by the integration tests that ask a real loader.
#![allow(dead_code, unused_macros)] // each test crate uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod chroot;

/// Where the foreign-architecture roots (`roots/ARCH`) and the Debian packages they are made
/// of are kept (about 380 MB): `DEPCLOSE_ROOTS_CACHE`, else `depclose-roots` in the target
/// directory (the one above the test binary's `debug/deps/`), so that `cargo clean` removes
/// it. The same value is given to `scripts/make-foreign-root.sh`.
pub fn roots_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("DEPCLOSE_ROOTS_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/TEST-HASH -> target
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("depclose-roots")
}

/// `scripts/make-foreign-root.sh ARCH DEST`, with the tests' package cache.
pub fn make_foreign_root(arch: &str, dest: &Path) -> std::io::Result<std::process::Output> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-foreign-root.sh");
    Command::new("bash").arg(script).arg(arch).arg(dest).env("DEPCLOSE_ROOTS_CACHE", roots_cache()).output()
}

/// One `#[test]` per fixture case, each calling the crate's `run_case(name)`, and `CASES`,
/// the list of names (checked against the case directories).
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if $crate::common::hermetic_skip("the fixture build tools (patchelf, musl-gcc) and root (chroot)") {
                    return;
                }
                run_case(stringify!($name));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

/// One line of a loader's trace-mode output (`LD_TRACE_LOADED_OBJECTS=1`, `ld.so --list`,
/// musl's `ldd`).
#[derive(Debug, PartialEq, Eq)]
pub enum TraceLine<'a> {
    /// `name => /path (0x…)` or `/path (0x…)`: a mapped file (the path as printed).
    Mapped(&'a str),
    /// `name => not found`.
    NotFound(&'a str),
    /// `statically linked`.
    Static,
}

/// The lines of a trace that say something about files; others (vDSO names without a path,
/// blank lines) are dropped.
pub fn parse_trace(stdout: &str) -> Vec<TraceLine<'_>> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let line = line.trim();
        if line == "statically linked" {
            out.push(TraceLine::Static);
        } else if let Some((name, rest)) = line.split_once(" => ") {
            if rest.trim() == "not found" {
                out.push(TraceLine::NotFound(name));
            } else {
                let path = rest.rsplit_once(" (0x").map_or(rest, |(p, _)| p).trim();
                if path.starts_with('/') {
                    out.push(TraceLine::Mapped(path));
                }
            }
        } else if let Some((path, _)) = line.rsplit_once(" (0x") {
            if path.starts_with('/') {
                out.push(TraceLine::Mapped(path));
            }
        }
    }
    out
}

/// Build the fixture case in `case_dir` (its `build.sh OUTDIR`) into a fresh directory under
/// the target's temporary directory; returns the directory (kept alive by the guard), its
/// canonical path and the case's `case.json`.
pub fn build_case(case_dir: &Path, prefix: &str) -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let tmp =
        tempfile::Builder::new().prefix(prefix).tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let out = tmp.path().canonicalize().unwrap();
    let build = Command::new("bash")
        .arg(case_dir.join("build.sh"))
        .arg(&out)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("cannot run bash");
    assert!(
        build.status.success(),
        "{}: build.sh failed ({}):\n{}{}",
        case_dir.display(),
        build.status,
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let json = std::fs::read_to_string(case_dir.join("case.json")).expect("case.json");
    let json: serde_json::Value = serde_json::from_str(&json).expect("case.json is not valid JSON");
    (tmp, out, json)
}

/// The depclose-cli under test (`DEPCLOSE_CLI` runs another build of it, to show a test
/// failing on older code), with the loader and reproducibility variables cleared.
#[cfg(feature = "cli")]
pub fn cli() -> Command {
    let bin = std::env::var_os("DEPCLOSE_CLI").map(PathBuf::from);
    let mut c = Command::new(bin.unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_depclose-cli"))));
    c.env_remove("LD_LIBRARY_PATH").env_remove("SOURCE_DATE_EPOCH");
    c
}

/// Run `c` to completion.
pub fn run(c: &mut Command) -> Output {
    c.output().expect("run depclose-cli")
}

/// Standard output, lossily as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error, lossily as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of `/bin/true` in `dir` that also needs `libnotthere.so.1`, a library that exists
/// nowhere (patchelf adds the `DT_NEEDED`). In the hermetic tier without patchelf, a program
/// that does nothing, linked by the C compiler against a `libnotthere.so.1` removed afterwards.
pub fn exe_needing_missing_lib(dir: &Path) -> PathBuf {
    let exe = dir.join("needs-missing");
    let hermetic = std::env::var_os("DEPCLOSE_HERMETIC").is_some_and(|v| v == "1");
    if hermetic && Command::new("patchelf").arg("--version").output().is_err() {
        let stub = dir.join("libnotthere.so.1");
        let c = dir.join("needs-missing.c");
        std::fs::write(&c, "int main(void) { return 0; }\n").unwrap();
        let o = Command::new("cc")
            .args(["-shared", "-Wl,-soname,libnotthere.so.1", "-o"])
            .arg(&stub)
            .arg(&c)
            .output()
            .expect("cc");
        assert!(o.status.success(), "cc: {}", String::from_utf8_lossy(&o.stderr));
        let o =
            Command::new("cc").arg("-o").arg(&exe).arg(&c).arg("-Wl,--no-as-needed").arg(&stub).output().expect("cc");
        assert!(o.status.success(), "cc: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::remove_file(&stub).unwrap();
        std::fs::remove_file(&c).unwrap();
        return exe;
    }
    std::fs::copy("/bin/true", &exe).unwrap();
    let st = Command::new("patchelf").arg("--add-needed").arg("libnotthere.so.1").arg(&exe).status();
    assert!(st.map(|s| s.success()).unwrap_or(false), "patchelf is needed (apt-get install patchelf)");
    exe
}

/// podman with its storage (vfs) under `dir`, so that the host's store is left alone.
pub fn podman(dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new("podman")
        .arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"])
        .args(args)
        .current_dir(dir)
        .output()
}

/// The hermetic tier (`DEPCLOSE_HERMETIC=1`, as `scripts/test.sh --hermetic` sets it): no root,
/// no Debian packages beyond a Rust toolchain's C compiler and binutils, no network. A test
/// that needs more calls this first, `if common::hermetic_skip("WHAT") { return; }`: in that
/// tier it prints `skipped: needs WHAT` (on the real stderr, past the test harness's capture)
/// and returns true.
pub fn hermetic_skip(needs: &str) -> bool {
    let hermetic = std::env::var_os("DEPCLOSE_HERMETIC").is_some_and(|v| v == "1");
    if hermetic {
        use std::io::Write;
        let name = std::thread::current().name().unwrap_or("test").to_string();
        let _ = writeln!(std::io::stderr(), "{name}: skipped: needs {needs}");
    }
    hermetic
}

/// In the hermetic tier, true (after printing `skipped: needs FILE`) when one of `files` (the
/// programs or libraries of Debian packages a test takes as its inputs: redis-server, curl,
/// python3, ...) is missing; the test then returns. Outside that tier, false: the test runs,
/// and fails on a missing file as before.
pub fn hermetic_skip_without(files: &[&str]) -> bool {
    match files.iter().find(|f| !Path::new(f).exists()) {
        Some(f) => hermetic_skip(f),
        None => false,
    }
}
