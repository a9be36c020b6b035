//! The symbol fixtures of `fixtures-elf/symbols/`, one loader rule each, checked against the
//! real loader of this machine.
//!
//! Each `fixtures-elf/symbols/<case>/build.sh OUTDIR` builds programs and libraries with gcc
//! (typically linked against one library and run against another); `case.json` lists the
//! checks: `exe` (relative to the output directory), optional `preload` (relative), and what
//! the case is about, to make sure it still exercises its rule: `expect` (substrings the
//! loader's output must contain), `absent` (substrings it must not contain), `clean` (no
//! problem at all).
//!
//! For each check the oracle is `ld.so [--preload P] EXE` with `LD_TRACE_LOADED_OBJECTS=1
//! LD_WARN=yes LD_BIND_NOW=yes` (`ldd -r`), and depclose's `symcheck` report, as `ldd -r`
//! lines, must equal the loader's problem lines on stderr line for line. The CLI's `-r` is
//! checked on the same cases: the same lines on its stderr, and exit status 1 exactly when
//! a non-weak version is missing.
#![cfg(feature = "cli")] // runs depclose-cli

#[macro_use]
mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::symcheck::SymbolCache;
use depclose::{OriginMode, Resolver};
use serde_json::Value;

const LDSO: &str = "/lib64/ld-linux-x86-64.so.2";

cases!(
    version_not_found,
    weak_version,
    no_version_information,
    defined_later_in_scope,
    hidden_version_not_chosen,
    unversioned_reference,
    weak_undefined,
    gnu_unique,
    protected_symbol,
    interposition_by_executable,
    preload_defines_first,
    copy_relocation_skips_executable,
);

fn is_problem(line: &str) -> bool {
    line.starts_with("undefined symbol: ")
        || line.contains(": version `")
        || line.contains(": weak version `")
        || line.contains(": no version information available (required by ")
}

fn loader(exe: &Path, preload: Option<&Path>, cwd: &Path) -> Vec<String> {
    let mut cmd = Command::new(LDSO);
    if let Some(p) = preload {
        cmd.arg("--preload").arg(p);
    }
    let out = cmd
        .arg(exe)
        .env_clear()
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .env("LD_WARN", "yes")
        .env("LD_BIND_NOW", "yes")
        .current_dir(cwd)
        .output()
        .expect("run ld.so");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Inconsistency detected"), "{}: the loader asserts:\n{stderr}", exe.display());
    stderr.lines().filter(|l| is_problem(l)).map(str::to_string).collect()
}

/// `depclose-cli -r EXE`: its `ldd -r` lines on stderr and its exit status.
fn cli(exe: &Path) -> (Vec<String>, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_depclose-cli"));
    cmd.arg("-r").arg("--ld-library-path").arg("");
    let out = cmd.arg(exe).env_remove("LD_LIBRARY_PATH").output().expect("run depclose-cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    (stderr.lines().filter(|l| is_problem(l)).map(str::to_string).collect(), out.status.code().unwrap_or(-1))
}

fn run_case(name: &str) {
    let case_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/symbols").join(name);
    let (_tmp, out, json) = common::build_case(&case_dir, "depclose-symfix");
    let cache = SymbolCache::new();
    let checks = json["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for check in checks {
        let exe = out.join(check["exe"].as_str().expect("exe"));
        let preload: Option<PathBuf> = check["preload"].as_str().map(|p| out.join(p));
        let theirs = loader(&exe, preload.as_deref(), &out);

        // The fixture still shows its rule.
        let text = theirs.join("\n");
        for want in check["expect"].as_array().into_iter().flatten() {
            let want = want.as_str().unwrap();
            assert!(text.contains(want), "{name}: the loader no longer prints {want:?}:\n{text}");
        }
        for not in check["absent"].as_array().into_iter().flatten() {
            let not = not.as_str().unwrap();
            assert!(!text.contains(not), "{name}: the loader prints {not:?}:\n{text}");
        }
        if check["clean"] == Value::Bool(true) {
            assert!(theirs.is_empty(), "{name}: the loader reports problems:\n{text}");
        }

        let mut b = Resolver::builder();
        b.origin(OriginMode::AsGiven).cwd(Some(out.as_ref()));
        if let Some(p) = &preload {
            b.preload([p.as_os_str()]);
        }
        let resolver = b.build().unwrap();
        let closure = resolver.closure(&exe).unwrap();
        let report = cache.check(&closure, &resolver);
        let ours = report.ldd_lines(&closure);
        assert_eq!(ours, theirs, "{name}: {}: depclose (left) and ld.so (right) differ", exe.display());
        let fatal = theirs.iter().any(|l| l.contains(": version `"));
        assert_eq!(report.is_fatal(), fatal, "{name}: fatal");

        // The CLI has no preload option: the library covers preloads.
        if preload.is_none() {
            let (lines, code) = cli(&exe);
            assert_eq!(lines, theirs, "{name}: depclose-cli -r (left) and ld.so (right) differ");
            assert_eq!(code, i32::from(fatal), "{name}: depclose-cli -r exit status");
        }
    }
}

#[test]
fn every_case_directory_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/symbols");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("build.sh").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}

fn cli_args(args: &[&std::ffi::OsStr]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run depclose-cli");
    (String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code().unwrap_or(-1))
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
}

/// "Built here, run there": a program linked here against libv.so.1 with V_1 and V_2,
/// checked with `--root` against a root whose libv.so.1 has only V_1 (the program itself
/// outside the root). The lines are those the root's loader prints when the program runs in
/// it (a chroot; only the program's path differs), and the exit status is 1.
#[test]
fn built_here_run_there_with_root() {
    if common::hermetic_skip("root (chroot)") {
        return;
    }
    let case_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/symbols/version_not_found");
    let (_tmp, out, _) = common::build_case(&case_dir, "depclose-symroot");
    let prog = out.join("here/prog");
    std::fs::create_dir_all(prog.parent().unwrap()).unwrap();
    let gcc = Command::new("gcc")
        .arg("-o")
        .arg(&prog)
        .arg(out.join("main.c"))
        .arg(format!("-L{}", out.join("new").display()))
        .arg("-l:libv.so.1")
        .status()
        .unwrap();
    assert!(gcc.success());
    // The root: the host's loader and C library, and the old libv.so.1.
    let root = out.join("root");
    let real = |p: &str| std::fs::canonicalize(p).unwrap();
    copy(&real(LDSO), &root.join("lib64/ld-linux-x86-64.so.2"));
    copy(&real("/lib/x86_64-linux-gnu/libc.so.6"), &root.join("lib/x86_64-linux-gnu/libc.so.6"));
    copy(&out.join("old/libv.so.1"), &root.join("usr/lib/libv.so.1"));
    copy(&prog, &root.join("prog"));

    // The loader run inside the root (chroot between fork and exec: a chroot(1) binary
    // would itself be traced by the environment).
    let croot = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).unwrap();
    let mut cmd = Command::new("/lib64/ld-linux-x86-64.so.2");
    cmd.arg("/prog").env_clear().env("LD_TRACE_LOADED_OBJECTS", "1").env("LD_WARN", "yes").env("LD_BIND_NOW", "yes");
    // SAFETY: only async-signal-safe calls (chroot, chdir) between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if libc::chroot(croot.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let oracle = cmd.output().expect("chroot (needs root)");
    assert!(oracle.status.success(), "the loader in the root: {}", String::from_utf8_lossy(&oracle.stderr));
    let host = prog.to_string_lossy().into_owned();
    let want: Vec<String> = String::from_utf8_lossy(&oracle.stderr)
        .lines()
        .filter(|l| is_problem(l))
        .map(|l| l.replace("/prog", &host))
        .collect();
    assert_eq!(
        want,
        [
            format!("{host}: /usr/lib/libv.so.1: version `V_2' not found (required by {host})"),
            format!("undefined symbol: f, version V_2\t({host})"),
        ],
        "the root's loader"
    );

    let (stderr, code) = cli_args(&[OsStr::new("--root"), root.as_os_str(), OsStr::new("-r"), prog.as_os_str()]);
    let got: Vec<&str> = stderr.lines().filter(|l| is_problem(l)).collect();
    assert_eq!(got, want, "depclose-cli --root -r:\n{stderr}");
    assert_eq!(code, 1, "a missing version is fatal:\n{stderr}");

    // The same program against the new library (its rpath): no problem, and --require
    // passes and fails at the right thresholds.
    let here = out.join("bin/prog");
    let newprog = out.join("here/prog-new");
    let gcc = Command::new("gcc")
        .arg("-o")
        .arg(&newprog)
        .arg(out.join("main.c"))
        .arg(format!("-L{}", out.join("new").display()))
        .arg("-l:libv.so.1")
        .arg(format!("-Wl,-rpath,{}", out.join("new").display()))
        .status()
        .unwrap();
    assert!(gcc.success());
    let _ = here;
    let run = |policy: &str| cli_args(&[OsStr::new("--require"), OsStr::new(policy), newprog.as_os_str()]);
    let (e, c) = run("V<=2");
    assert_eq!(c, 0, "V<=2:\n{e}");
    let (e, c) = run("v<=1.9");
    assert_eq!(c, 1, "v<=1.9:\n{e}");
    assert!(e.contains("needs V_2 of libv.so.1, above V<=1.9: f"), "{e}");
    let (e, c) = run("glibc<=2.34");
    assert_eq!(c, 0, "glibc<=2.34 (the program needs GLIBC_2.34 for __libc_start_main):\n{e}");
    let (e, c) = run("GLIBC<=2.33");
    assert_eq!(c, 1, "GLIBC<=2.33:\n{e}");
    assert!(e.contains("needs GLIBC_2.34 of libc.so.6, above GLIBC<=2.33: __libc_start_main"), "{e}");
    let (e, c) = run("glibc=2.28");
    assert_eq!(c, 2, "a malformed policy is a usage error:\n{e}");
}

/// `--format json -r` carries the report structurally (a top-level `symbols` array, one per
/// closure) and leaves the rest of the document as it is without `-r`; `tree` ends with the
/// `needs:` summary and the problems.
#[test]
fn json_and_tree_carry_the_reports() {
    let case_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/symbols/version_not_found");
    let (_tmp, out, _) = common::build_case(&case_dir, "depclose-symjson");
    let exe = out.join("bin/prog");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
            .args(args)
            .arg(&exe)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .expect("run depclose-cli");
        (String::from_utf8(o.stdout).unwrap(), o.status.code().unwrap_or(-1))
    };
    let (plain, c0) = run(&["--format", "json"]);
    let (with, c1) = run(&["--format", "json", "-r"]);
    assert_eq!((c0, c1), (0, 1));
    let plain: Value = serde_json::from_str(&plain).unwrap();
    let mut with: Value = serde_json::from_str(&with).unwrap();
    assert!(plain.get("symbols").is_none());
    let symbols = with.as_object_mut().unwrap().remove("symbols").expect("a symbols array");
    assert_eq!(plain, with, "the rest of the document is unchanged");
    let r = &symbols[0];
    assert_eq!(r["version_problems"][0]["kind"], "not_found");
    assert_eq!(r["version_problems"][0]["version"], "V_2");
    assert_eq!(r["version_problems"][0]["required_by"], 0);
    assert_eq!(r["undefined"][0]["name"], "f");
    assert_eq!(r["undefined"][0]["version"], "V_2");
    let req = r["required"].as_array().unwrap();
    let v2 = req.iter().find(|q| q["version"] == "V_2").expect("V_2 required");
    assert_eq!(v2["file"], "libv.so.1");
    assert_eq!(v2["symbols"], serde_json::json!(["f"]));

    let (tree, _) = run(&["--format", "tree", "-r"]);
    assert!(tree.contains("\nneeds: GLIBC_2.34, V_2\n"), "{tree}");
    assert!(tree.contains("! undefined symbol: f, version V_2 ("), "{tree}");
}
