//! musl: the fixture suite of `fixtures-elf/musl/`, checked against musl's own loader, and a
//! musl program's rootfs run in a chroot.
//!
//! Each directory `fixtures-elf/musl/<case>/` pins one rule of ldso-spec.md §7 (musl). Its
//! `build.sh OUTDIR` builds the case with `musl-gcc` (Debian's musl-tools) into a fresh
//! temporary directory; its `case.json` lists the checks. The oracle is musl's loader in list
//! (`ldd`) mode, `<PT_INTERP> --list PROG`: its stdout names every object it maps, its stderr
//! every name it could not load ("Error loading shared library N: <errno> (needed by X)"),
//! and it exits 127 when anything failed. Compared with depclose:
//!
//! - the set of canonical paths of the files mapped besides the program (the loader included);
//! - the names that failed. musl prints `errno` as it stands when the search ends, so the
//!   message tells how a name failed only in some cases: "No such file or directory", "No
//!   error information", "Symbolic link loop", "Invalid argument" (…) mean no file was opened,
//!   and depclose must list the name in `missing` (once per request); "Exec format error" means
//!   the first file on the path was taken and could not be mapped (musl has no class or
//!   machine check, and does not search on): depclose must report a load failure for it,
//!   either its `fatal` or a `missing` entry whose last attempt was rejected as unloadable
//!   (wrong class or machine, an open or map error), never a plain absence or a later copy.
//!   Other messages ("Is a directory") may be either. When depclose reports a `fatal` it may
//!   stop there, while musl keeps listing: then depclose's files and missing names only need
//!   to be contained in the loader's;
//! - with `"exec": true`, the program is also run for real (in the chroot for chroot checks):
//!   it must start exactly when depclose says the closure is complete, and every name depclose
//!   reports must be one the loader complained about.
//!
//! `case.json` fields of a check (all optional but `exe`; `@OUT@` is replaced by the output
//! directory in every string):
//!
//! - `exe`: the program, relative to the output directory (in-root, absolute, for `chroot_list`);
//! - `cwd`: working directory, relative to the output directory (default: the output
//!   directory; `/` for `chroot_list`);
//! - `ld_library_path`: the `LD_LIBRARY_PATH` value (default: unset);
//! - `oracle`: `list` (default), `chroot_list` (the same inside the chroot `root`), or `exec`
//!   (only a real run: completeness and missing names are compared);
//! - `root`: for `chroot_list`, the root directory relative to the output directory;
//! - `origin`: `as_given` (default: what `--list PATH` does) or `canonical` (a real exec);
//! - `exec`: also run the program and compare completeness.
//!
//! Set `DEPCLOSE_KEEP_FIXTURES=1` to keep the built trees, `DEPCLOSE_FIXTURES_VERBOSE=1` to
//! print both sides of every check. Without musl-gcc the tests print SKIPPED and pass, unless
//! `DEPCLOSE_REQUIRE_MUSL=1` (CI).
#![cfg(feature = "cli")] // runs depclose-cli

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use depclose::root::Root;
use depclose::{Closure, Libc, OriginMode, Rejection, Resolver};
use serde_json::Value;

cases!(
    ld_library_path_first,
    rpath_and_runpath_inherited,
    runpath_preferred_over_rpath,
    first_loader_chain,
    origin_is_the_only_token,
    system_path_file,
    reserved_names,
    libc_substitution,
    first_file_is_taken,
    soname_never_consulted,
    missing_and_invalid_names,
    needed_with_slash,
    empty_element_not_cwd,
    origin_through_symlinks,
);

const LOADER: &str = "/lib/ld-musl-x86_64.so.1";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/musl")
}

/// Every case directory has a test, and every test a directory.
#[test]
fn every_musl_fixture_dir_has_a_test() {
    let mut dirs = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.path().join("build.sh").is_file() {
            dirs.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let tests: BTreeSet<String> = CASES.iter().map(|s| s.to_string()).collect();
    assert_eq!(dirs, tests, "fixtures-elf/musl/*/build.sh and the cases! list differ");
}

/// musl-gcc and the loader are there; otherwise skip loudly (fail under DEPCLOSE_REQUIRE_MUSL=1).
fn musl_available(what: &str) -> bool {
    let gcc = Command::new("musl-gcc").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    let ok = gcc && Path::new(LOADER).exists() && Command::new("patchelf").arg("--version").output().is_ok();
    if !ok {
        let why = "needs musl-tools (musl-gcc, /lib/ld-musl-x86_64.so.1) and patchelf";
        if std::env::var("DEPCLOSE_REQUIRE_MUSL").map(|v| v == "1").unwrap_or(false) {
            panic!("{what}: {why}");
        }
        eprintln!("\n**********\n*** SKIPPED {what}: {why}\n**********\n");
    }
    ok
}

fn is_root_user() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OracleKind {
    List,
    ChrootList,
    Exec,
}

struct Check {
    label: String,
    /// Host path, or in-root path for chroot checks.
    exe: PathBuf,
    /// Host path, or in-root path for chroot checks.
    cwd: PathBuf,
    ld_library_path: Option<String>,
    oracle: OracleKind,
    origin: OriginMode,
    exec: bool,
    /// Host directory that plays `/`.
    root: PathBuf,
}

impl Check {
    fn chroot(&self) -> bool {
        self.oracle == OracleKind::ChrootList
    }
}

fn parse_check(v: &Value, out: &Path, index: usize) -> Check {
    let s = |key: &str| v.get(key).and_then(Value::as_str).map(|s| s.replace("@OUT@", out.to_str().unwrap()));
    let exe = s("exe").expect("check without \"exe\"");
    let oracle = match s("oracle").as_deref() {
        None | Some("list") => OracleKind::List,
        Some("chroot_list") => OracleKind::ChrootList,
        Some("exec") => OracleKind::Exec,
        Some(other) => panic!("unknown oracle {other:?}"),
    };
    let chroot = oracle == OracleKind::ChrootList;
    let root = if chroot { out.join(s("root").expect("chroot check without \"root\"")) } else { PathBuf::from("/") };
    let exe_path = if chroot { PathBuf::from(&exe) } else { out.join(&exe) };
    let cwd = match s("cwd") {
        Some(c) if chroot => PathBuf::from(c),
        Some(c) => out.join(c),
        None if chroot => PathBuf::from("/"),
        None => out.to_path_buf(),
    };
    let origin = match s("origin").as_deref() {
        None | Some("as_given") => OriginMode::AsGiven,
        Some("canonical") => OriginMode::Canonical,
        Some(other) => panic!("unknown origin {other:?}"),
    };
    let exec = v.get("exec").and_then(Value::as_bool).unwrap_or(false);
    let label = s("name").unwrap_or_else(|| format!("check {index} ({exe})"));
    Check { label, exe: exe_path, cwd, ld_library_path: s("ld_library_path"), oracle, origin, exec, root }
}

/// What the loader did, or what depclose predicts, in comparable terms.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    /// Canonical in-root paths of the mapped files, the program excluded.
    files: BTreeSet<PathBuf>,
    /// depclose only: names not found, one per request, sorted.
    missing: Vec<String>,
    /// depclose only: the names in `missing` whose search ended on a file that could not be
    /// loaded (last attempt rejected as wrong class or machine, or with an open/map error).
    missing_unloadable: Vec<String>,
    /// The loader: every "Error loading shared library" (name, message), in order.
    /// depclose: its `fatal` (name, message), if any.
    failed: Vec<(String, String)>,
}

impl Outcome {
    fn describe(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let _ = writeln!(s, "      {}", f.display());
        }
        for m in &self.missing {
            if self.missing_unloadable.contains(m) {
                let _ = writeln!(s, "      {m} => cannot be loaded");
            } else {
                let _ = writeln!(s, "      {m} => not found");
            }
        }
        for (n, m) in &self.failed {
            let _ = writeln!(s, "      FAILED {n}: {m}");
        }
        s
    }
}

/// Canonical in-root path of `p` (relative to the in-root `cwd`), inside `root`.
fn canonical(root: &Root, cwd: &Path, p: &str) -> Option<PathBuf> {
    let abs = if p.starts_with('/') { PathBuf::from(p) } else { cwd.join(p) };
    root.resolve(abs.as_os_str().as_encoded_bytes(), true).ok().map(|w| w.realpath)
}

/// Run `cmd` chrooted into `root` with working directory `cwd` (in-root).
fn in_chroot(cmd: &mut Command, root: &Path, cwd: &Path) {
    let root = root.to_path_buf();
    let cwd = cwd.to_path_buf();
    // SAFETY: only async-signal-safe system calls (chroot, chdir) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir(&cwd)
        });
    }
}

fn command(check: &Check, program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    if let Some(p) = &check.ld_library_path {
        cmd.env("LD_LIBRARY_PATH", p);
    }
    if check.chroot() {
        in_chroot(&mut cmd, &check.root, &check.cwd);
    } else {
        cmd.current_dir(&check.cwd);
    }
    cmd
}

/// "Error loading shared library N: MSG (needed by X)" lines of musl's stderr.
fn load_errors(stderr: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("Error loading shared library ") {
            let rest = rest.rsplit_once(" (needed by ").map_or(rest, |(r, _)| r);
            let (name, msg) = rest.rsplit_once(": ").unwrap_or((rest, ""));
            v.push((name.to_string(), msg.to_string()));
        }
    }
    v
}

/// How a musl load error is read. musl prints `errno` as it is when the search ends, so a
/// name that no search found can show a stale value ("No error information" after an empty
/// path file, "Is a directory" after reading a path file that is a directory); only some
/// messages tell which way it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorClass {
    /// No file was opened for the name: depclose must report it `missing`.
    NotFound,
    /// A file was opened and could not be loaded (`ENOEXEC` is only set by `map_library`):
    /// depclose must report a load failure (`fatal`).
    Unloadable,
    /// Either; the message alone does not tell.
    Either,
}

fn classify(msg: &str) -> ErrorClass {
    match msg {
        "No such file or directory"
        | "No error information"
        | "Symbolic link loop"
        | "Invalid argument"
        | "Not a directory"
        | "Permission denied"
        | "File name too long" => ErrorClass::NotFound,
        "Exec format error" => ErrorClass::Unloadable,
        _ => ErrorClass::Either,
    }
}

fn split_errors(errors: Vec<(String, String)>, o: &mut Outcome) {
    o.failed = errors;
}

/// The `PT_INTERP` string of an ELF64 little-endian file.
fn pt_interp(path: &Path) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 || data[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes(data[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32::from_le_bytes(data[ph..ph + 4].try_into().unwrap()) == 3 {
            let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
            let s = &data[off..off + size];
            let s = s.split(|&b| b == 0).next().unwrap();
            return Some(String::from_utf8_lossy(s).into_owned());
        }
    }
    None
}

fn host_path(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// `<PT_INTERP> --list PROG`; returns the outcome and the raw output.
fn run_list(check: &Check) -> (Outcome, String) {
    let root = Root::new(&check.root).unwrap();
    let interp = pt_interp(&host_path(&check.root, &check.exe)).expect("the program has a PT_INTERP");
    let mut cmd = command(check, Path::new(&interp));
    cmd.arg("--list").arg(&check.exe);
    let out = cmd.output().unwrap_or_else(|e| panic!("{}: cannot run {interp}: {e}", check.label));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let raw = format!("{stdout}{stderr}[exit: {}]", out.status);
    let mut o = Outcome::default();
    for line in stdout.lines() {
        let line = line.trim();
        let Some(line) = line.rfind(" (0x").map(|i| &line[..i]) else { continue };
        let path = line.split_once(" => ").map_or(line, |(_, p)| p);
        let p = canonical(&root, &check.cwd, path)
            .unwrap_or_else(|| panic!("{}: the loader printed {path:?}, which does not resolve\n{raw}", check.label));
        o.files.insert(p);
    }
    let errors = load_errors(&stderr);
    let code = out.status.code();
    assert_eq!(
        code == Some(0),
        errors.is_empty(),
        "{}: exit status and error lines disagree (unexpected loader output?)\n{raw}",
        check.label
    );
    split_errors(errors, &mut o);
    (o, raw)
}

/// A real run: whether it started (exit 0 with the fixture's greeting) and the error lines.
fn run_exec(check: &Check) -> (bool, Outcome, String) {
    let out: Output =
        command(check, &check.exe).output().unwrap_or_else(|e| panic!("{}: cannot run: {e}", check.label));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let raw = format!("{stdout}{stderr}[exit: {}]", out.status);
    let started = out.status.success() && stdout.contains("depclose musl fixture");
    let mut o = Outcome::default();
    split_errors(load_errors(&stderr), &mut o);
    (started, o, raw)
}

fn run_depclose(check: &Check, origin: OriginMode) -> Result<Closure, depclose::Error> {
    let resolver = Resolver::builder()
        .root(&check.root)
        .ld_library_path(check.ld_library_path.as_deref().map(std::ffi::OsStr::new))
        .cwd(Some(check.cwd.as_ref()))
        .origin(origin)
        .build()?;
    if check.chroot() {
        resolver.closure_in_root(&check.exe)
    } else {
        resolver.closure(&check.exe)
    }
}

fn predicted(c: &Closure) -> Outcome {
    let mut o = Outcome {
        files: c.loaded_files().into_iter().map(Path::to_path_buf).collect(),
        missing: c.missing.iter().map(|m| m.name.to_string_lossy().into_owned()).collect(),
        missing_unloadable: c
            .missing
            .iter()
            .filter(|m| {
                m.tried.last().is_some_and(|a| {
                    matches!(a.rejection, Rejection::WrongClass | Rejection::WrongMachine | Rejection::OpenError(_))
                })
            })
            .map(|m| m.name.to_string_lossy().into_owned())
            .collect(),
        failed: Vec::new(),
    };
    o.missing.sort();
    if let Some(f) = &c.fatal {
        o.failed.push((f.name.to_string_lossy().into_owned(), format!("{} ({})", f.message, f.path.display())));
    }
    o
}

/// Agreement for a list check (see the module documentation). `oracle.failed` holds every
/// error line; `ours.missing` and `ours.failed` (at most one: depclose's `fatal`) are
/// depclose's.
fn agrees(oracle: &Outcome, ours: &Outcome) -> bool {
    let class = |m: &str| classify(m);
    let mut not_found: Vec<&str> = Vec::new();
    let mut unloadable: Vec<&str> = Vec::new();
    let mut either: Vec<&str> = Vec::new();
    for (n, m) in &oracle.failed {
        match class(m) {
            ErrorClass::NotFound => not_found.push(n),
            ErrorClass::Unloadable => unloadable.push(n),
            ErrorClass::Either => either.push(n),
        }
    }
    let mut ours_missing: Vec<&str> = ours.missing.iter().map(String::as_str).collect();
    ours_missing.sort();
    match ours.failed.first() {
        None => {
            // A file that musl took and could not map may be reported in `missing`, as long as
            // depclose says the search ended on an unloadable file rather than on nothing.
            let mut want: Vec<&str> = not_found.iter().chain(&either).chain(&unloadable).copied().collect();
            want.sort();
            unloadable.iter().all(|n| ours.missing_unloadable.iter().any(|m| m == n))
                && ours_missing == want
                && oracle.files == ours.files
        }
        Some((name, _)) => {
            // depclose may stop at its first load failure; musl keeps going.
            let mut pool: Vec<&str> = not_found.iter().chain(&either).copied().collect();
            let contained = ours_missing.iter().all(|m| match pool.iter().position(|p| p == m) {
                Some(i) => {
                    pool.swap_remove(i);
                    true
                }
                None => false,
            });
            contained
                && (unloadable.contains(&name.as_str()) || either.contains(&name.as_str()))
                && ours.files.is_subset(&oracle.files)
        }
    }
}

fn run_case(name: &str) {
    if !musl_available(&format!("musl fixture {name}")) {
        return;
    }
    let case_dir = fixtures_dir().join(name);
    let (tmp, out, json) = common::build_case(&case_dir, &format!("musl-{name}."));
    let checks = json["checks"].as_array().expect("case.json: \"checks\" array");
    let verbose = std::env::var_os("DEPCLOSE_FIXTURES_VERBOSE").is_some();
    let mut failures = String::new();
    for (i, v) in checks.iter().enumerate() {
        let check = parse_check(v, &out, i);
        if check.chroot() && !is_root_user() {
            eprintln!("*** SKIPPED [{name}] {}: chroot needs root", check.label);
            continue;
        }
        let ours = run_depclose(&check, check.origin);
        if let Ok(c) = &ours {
            if c.libc != Libc::Musl {
                let _ =
                    write!(failures, "\n  [{name}] {}: depclose applied {:?} rules, not musl's", check.label, c.libc);
            }
        }
        // The list oracle.
        if check.oracle != OracleKind::Exec {
            let (theirs, raw) = run_list(&check);
            match &ours {
                Ok(c) => {
                    let p = predicted(c);
                    if verbose {
                        eprintln!(
                            "[{name}] {}\n  loader:\n{}  depclose:\n{}",
                            check.label,
                            theirs.describe(),
                            p.describe()
                        );
                    }
                    if !agrees(&theirs, &p) {
                        let _ = write!(
                            failures,
                            "\n  [{name}] {}: depclose disagrees with musl's loader\n    loader:\n{}    depclose:\n{}    \
                             loader output:\n{}",
                            check.label,
                            theirs.describe(),
                            p.describe(),
                            indent(&raw)
                        );
                    }
                }
                Err(e) => {
                    let _ = write!(
                        failures,
                        "\n  [{name}] {}: depclose error: {e}\n    loader output:\n{}",
                        check.label,
                        indent(&raw)
                    );
                }
            }
        }
        // The real run.
        if check.exec || check.oracle == OracleKind::Exec {
            let origin = if check.oracle == OracleKind::Exec { check.origin } else { OriginMode::Canonical };
            let (started, theirs, raw) = run_exec(&check);
            match run_depclose(&check, origin) {
                Ok(c) => {
                    let p = predicted(&c);
                    let names: Vec<&String> = theirs.failed.iter().map(|(n, _)| n).collect();
                    let ours_named =
                        p.missing.iter().chain(p.failed.iter().map(|(n, _)| n)).all(|n| names.contains(&n));
                    if started != c.is_complete() || !ours_named {
                        let _ = write!(
                            failures,
                            "\n  [{name}] {} (real run): the program {} but depclose says complete={}; load errors: run {:?}, \
                             depclose missing {:?} fatal {:?}\n    output:\n{}",
                            check.label,
                            if started { "started" } else { "did not start" },
                            c.is_complete(),
                            theirs.failed,
                            p.missing,
                            p.failed,
                            indent(&raw)
                        );
                    }
                }
                Err(e) => {
                    let _ = write!(failures, "\n  [{name}] {} (real run): depclose error: {e}", check.label);
                }
            }
        }
    }
    if std::env::var_os("DEPCLOSE_KEEP_FIXTURES").is_some() {
        eprintln!("{name}: kept {}", tmp.keep().display());
    }
    assert!(failures.is_empty(), "musl fixture {name} failed:{failures}");
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      | {l}\n")).collect()
}

// ---------------------------------------------------------------------------------------------
// A musl program's rootfs, run in a chroot.

/// Build a musl program that needs a shared library (which uses libc and needs a private
/// helper through `$ORIGIN`), emit its rootfs with `depclose-cli PROG --tar`, extract it into
/// an empty directory, chroot, run: the program must print what the libraries compute.
///
/// The executable's own path string is absolute on purpose: musl computes the executable's
/// `$ORIGIN` from `readlink("/proc/self/exe")` and drops its `$ORIGIN` elements when that fails,
/// as it does in a bare chroot without /proc (a container runtime mounts /proc). A library's
/// `$ORIGIN` comes from the path it was opened by and works anywhere.
#[cfg(feature = "cli")]
#[test]
fn musl_program_rootfs_runs_in_a_chroot() {
    if !musl_available("musl rootfs") {
        return;
    }
    if !is_root_user() {
        eprintln!("*** SKIPPED musl rootfs: chroot needs root");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("musl-rootfs.").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("helper.c"), "#include <string.h>\nsize_t helper(const char *s) { return strlen(s); }\n")
        .unwrap();
    std::fs::write(
        src.join("greet.c"),
        "#include <stdio.h>\n#include <stddef.h>\nsize_t helper(const char *);\n\
         int greet(const char *who) { return printf(\"hello, %s (%zu)\\n\", who, helper(who)); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("main.c"),
        "int greet(const char *);\nint main(void) { return greet(\"musl rootfs\") > 0 ? 0 : 1; }\n",
    )
    .unwrap();
    let app = dir.join("opt/app");
    std::fs::create_dir_all(app.join("lib/private")).unwrap();
    std::fs::create_dir_all(app.join("bin")).unwrap();
    let sh = |args: &[&str]| {
        let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let helper = app.join("lib/private/libhelper.so");
    let lib = app.join("lib/libgreet.so.1");
    let prog = app.join("bin/greet");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    sh(&["musl-gcc", "-shared", "-fPIC", "-Wl,-soname,libhelper.so", "-o", &s(&helper), &s(&src.join("helper.c"))]);
    sh(&[
        "musl-gcc",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libgreet.so.1",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/private",
        "-o",
        &s(&lib),
        &s(&src.join("greet.c")),
        &s(&helper),
    ]);
    sh(&[
        "musl-gcc",
        "-o",
        &s(&prog),
        &s(&src.join("main.c")),
        &s(&lib),
        &format!("-Wl,-rpath,{}", s(&app.join("lib"))),
    ]);
    // The program runs on the host.
    let host = Command::new(&prog).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&host.stdout), "hello, musl rootfs (11)\n");

    let tar = dir.join("rootfs.tar");
    let cli = env!("CARGO_BIN_EXE_depclose-cli");
    let o = Command::new(cli).arg(&prog).arg("--tar").arg(&tar).output().unwrap();
    assert!(
        o.status.success(),
        "depclose-cli {} --tar {} failed: {}{}",
        prog.display(),
        tar.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    sh(&["tar", "-xf", tar.to_str().unwrap(), "-C", rootfs.to_str().unwrap()]);
    let listing = Command::new("find").arg(&rootfs).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    // The program is addressed in the rootfs by its path on the host.
    let mut cmd = Command::new(&prog);
    cmd.env_clear();
    in_chroot(&mut cmd, &rootfs, Path::new("/"));
    let run = cmd.output().unwrap();
    assert!(
        run.status.success() && String::from_utf8_lossy(&run.stdout) == "hello, musl rootfs (11)\n",
        "the rootfs does not run the program: {}{}[{}]\nrootfs:\n{listing}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        run.status
    );
    // Nothing from glibc got in.
    assert!(!listing.contains("x86_64-linux-gnu"), "glibc files in a musl rootfs:\n{listing}");
}
