//! The fixture suite of `fixtures-elf/`, checked against the real loader of this machine.
//!
//! Each directory `fixtures-elf/<case>/` pins one rule of ldso-spec.md §8. Its `build.sh OUTDIR`
//! builds the case into a fresh temporary directory; its `case.json` lists the checks. For each
//! check this test runs the real glibc loader in trace mode (`LD_TRACE_LOADED_OBJECTS=1`, the
//! oracle) and depclose with the same inputs, and compares:
//!
//! - the set of canonical paths of the files mapped besides the program (the vDSO left out, the
//!   `PT_INTERP` interpreter always in, as the loader maps it even when the trace omits it);
//! - the multiset of names reported `not found`;
//! - whether the loader aborted, and on which name;
//! - static / static-pie / dynamic linkage, when the oracle tells.
//!
//! Nothing is compared with a hand-written expectation: the loader is the truth.
//!
//! `case.json` fields of a check (all optional but `exe`; `@OUT@` is replaced by the output
//! directory in every string):
//!
//! - `exe`: the program, relative to the output directory (in-root for `chroot`);
//! - `cwd`: working directory, relative to the output directory (default: the output directory;
//!   `/` for `chroot`);
//! - `ld_library_path`: the `LD_LIBRARY_PATH` value (default: unset);
//! - `oracle`: `exec` (default: a real exec of the program, origin from the kernel), `ldso`
//!   (explicit `ld.so [ldso_args] PROG`), `ldd`, or `chroot` (a real exec inside `root`);
//! - `ldso_args`: extra arguments for `ldso` (`--glibc-hwcaps-mask none`);
//! - `origin`: `canonical` (default) or `as_given`, depclose's `OriginMode`;
//! - `hwcaps`: `host` (default), `none`, or an x86-64 level number;
//! - `root`: for `chroot`, the root directory relative to the output directory.
//!
//! Set `DEPCLOSE_KEEP_FIXTURES=1` to keep the built trees (their paths are printed), and
//! `DEPCLOSE_FIXTURES_VERBOSE=1` to print both outcomes of every check.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use depclose::{Hwcaps, Linkage, OriginMode, Resolver};
use serde_json::Value;

cases!(
    rpath_inherited_through_chain,
    runpath_not_inherited,
    requester_runpath_disables_every_rpath,
    runpath_part_way_up_the_chain,
    rpath_and_runpath_on_one_object,
    first_loader_chain_decides_inheritance,
    ld_library_path_between_rpath_and_runpath,
    ld_library_path_origin_is_the_executable,
    empty_path_element_is_cwd,
    relative_rpath_is_cwd_relative,
    executable_origin_through_symlink,
    library_origin_is_symlink_location,
    library_origin_through_symlinked_dir,
    lib_token_is_debian_multiarch,
    platform_token,
    unknown_tokens_stay_literal,
    nodeflib_skips_default_dirs,
    wrong_machine_skipped,
    wrong_class_skipped,
    fatal_candidate_aborts_search,
    symlink_loop_abandons_the_list,
    breadth_first_order_picks_the_copy,
    same_file_by_path_and_soname,
    symlink_chain_is_one_object,
    request_matches_loaded_soname,
    same_soname_different_files,
    needed_with_slash,
    needed_relative_to_cwd,
    glibc_hwcaps_origin_is_subdir,
    legacy_hwcaps_subdirs,
    dependency_cycle,
    library_needs_itself,
    missing_libraries,
    filter_in_dynamic_order,
    needed_executable_soname_and_empty,
    needed_interpreter_by_soname,
    static_and_nostdlib_executables,
    chroot_with_own_ld_so_cache,
);

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf")
}

/// Every case directory has a test, and every test a directory.
#[test]
fn every_fixture_dir_has_a_test() {
    let mut dirs = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.path().join("build.sh").is_file() {
            dirs.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let tests: BTreeSet<String> = CASES.iter().map(|s| s.to_string()).collect();
    assert_eq!(dirs, tests, "fixtures-elf/*/build.sh and the cases! list differ");
}

/// What the loader did, as seen by the oracle or predicted by depclose.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Canonical (in-root) paths of mapped files, the program excluded.
    files: BTreeSet<PathBuf>,
    /// Names not found, one per request, sorted.
    missing: Vec<String>,
    /// Set when the loader aborted.
    fatal: Option<Fatal>,
    linkage: Option<Linkage>,
}

impl Outcome {
    fn describe(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let _ = writeln!(s, "      {}", f.display());
        }
        for m in &self.missing {
            let _ = writeln!(s, "      {m} => not found");
        }
        if let Some(f) = &self.fatal {
            let _ = writeln!(s, "      FATAL {} ({}): {}", f.name, f.path.display(), f.message);
        }
        let _ = writeln!(s, "      linkage {:?}", self.linkage);
        s
    }
}

/// An aborted load. glibc's message names the request (`libx.so: cannot dynamically load …`) or,
/// when a candidate file failed the header checks, the candidate's path; the oracle side fills
/// both fields from that one string.
#[derive(Debug, PartialEq, Eq)]
struct Fatal {
    name: String,
    path: PathBuf,
    message: String,
}

enum OracleKind {
    Exec,
    LdSo,
    Ldd,
    Chroot,
}

struct Check {
    label: String,
    exe: PathBuf,
    cwd: PathBuf,
    ld_library_path: Option<String>,
    oracle: OracleKind,
    ldso_args: Vec<String>,
    origin: OriginMode,
    hwcaps: Hwcaps,
    /// Host directory that plays `/`.
    root: PathBuf,
}

fn parse_check(v: &Value, out: &Path, index: usize) -> Check {
    let s = |key: &str| v.get(key).and_then(Value::as_str).map(|s| s.replace("@OUT@", out.to_str().unwrap()));
    let exe = s("exe").expect("check without \"exe\"");
    let oracle = match s("oracle").as_deref() {
        None | Some("exec") => OracleKind::Exec,
        Some("ldso") => OracleKind::LdSo,
        Some("ldd") => OracleKind::Ldd,
        Some("chroot") => OracleKind::Chroot,
        Some(other) => panic!("unknown oracle {other:?}"),
    };
    let chroot = matches!(oracle, OracleKind::Chroot);
    let root = if chroot { out.join(s("root").expect("chroot check without \"root\"")) } else { PathBuf::from("/") };
    let exe = if chroot { PathBuf::from(&exe) } else { out.join(&exe) };
    let cwd = match s("cwd") {
        Some(c) if chroot => PathBuf::from(c),
        Some(c) => out.join(c),
        None if chroot => PathBuf::from("/"),
        None => out.to_path_buf(),
    };
    let origin = match s("origin").as_deref() {
        None | Some("canonical") => OriginMode::Canonical,
        Some("as_given") => OriginMode::AsGiven,
        Some(other) => panic!("unknown origin {other:?}"),
    };
    let hwcaps = match v.get("hwcaps") {
        None => Hwcaps::Host,
        Some(Value::String(h)) if h == "host" => Hwcaps::Host,
        Some(Value::String(h)) if h == "none" => Hwcaps::None,
        Some(Value::Number(n)) => Hwcaps::X86_64Level(n.as_u64().unwrap() as u8),
        Some(other) => panic!("unknown hwcaps {other}"),
    };
    let ldso_args = v
        .get("ldso_args")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let label = s("name").unwrap_or_else(|| format!("check {index} ({exe})", exe = s("exe").unwrap()));
    Check { label, exe, cwd, ld_library_path: s("ld_library_path"), oracle, ldso_args, origin, hwcaps, root }
}

fn run_case(name: &str) {
    let case_dir = fixtures_dir().join(name);
    let (tmp, out, json) = common::build_case(&case_dir, &format!("{name}."));
    let checks = json["checks"].as_array().expect("case.json: \"checks\" array");
    let mut failures = String::new();
    for (i, v) in checks.iter().enumerate() {
        let check = parse_check(v, &out, i);
        let (oracle, raw) = run_oracle(&check);
        let predicted = run_depclose(&check);
        if std::env::var_os("DEPCLOSE_FIXTURES_VERBOSE").is_some() {
            match &predicted {
                Ok(p) => {
                    eprintln!("[{name}] {}\n  loader:\n{}  depclose:\n{}", check.label, oracle.describe(), p.describe())
                }
                Err(e) => eprintln!("[{name}] {}: depclose error {e}", check.label),
            }
        }
        match predicted {
            Ok(predicted) if agrees(&oracle, &predicted) => {}
            Ok(predicted) => {
                let _ = write!(
                    failures,
                    "\n  [{name}] {}: depclose disagrees with the loader\n    loader:\n{}    depclose:\n{}    \
                     loader output:\n{}",
                    check.label,
                    oracle.describe(),
                    predicted.describe(),
                    indent(&raw)
                );
            }
            Err(e) => {
                let _ = write!(
                    failures,
                    "\n  [{name}] {}: depclose error: {e}\n    loader:\n{}    loader output:\n{}",
                    check.label,
                    oracle.describe(),
                    indent(&raw)
                );
            }
        }
    }
    if std::env::var_os("DEPCLOSE_KEEP_FIXTURES").is_some() {
        eprintln!("{name}: kept {}", tmp.keep().display());
    }
    assert!(failures.is_empty(), "fixture {name} failed:{failures}");
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      | {l}\n")).collect()
}

/// On an abort, only the abort is compared (the trace prints nothing then): the name or path
/// glibc reports must be depclose's request name or offending file. Messages are printed but
/// their wording is not compared.
fn agrees(oracle: &Outcome, predicted: &Outcome) -> bool {
    match (&oracle.fatal, &predicted.fatal) {
        (None, None) => oracle == predicted,
        (Some(o), Some(p)) => (o.name == p.name || o.path == p.path) && oracle.linkage == predicted.linkage,
        _ => false,
    }
}

fn run_depclose(check: &Check) -> Result<Outcome, depclose::Error> {
    let resolver = Resolver::builder()
        .root(&check.root)
        .ld_library_path(check.ld_library_path.as_deref().map(std::ffi::OsStr::new))
        .cwd(Some(check.cwd.as_ref()))
        .hwcaps(check.hwcaps.clone())
        .origin(check.origin)
        .build()?;
    let closure = match check.oracle {
        OracleKind::Chroot => resolver.closure_in_root(&check.exe)?,
        _ => resolver.closure(&check.exe)?,
    };
    let files = closure.loaded_files().into_iter().map(Path::to_path_buf).collect();
    let mut missing: Vec<String> = closure.missing.iter().map(|m| m.name.to_string_lossy().into_owned()).collect();
    missing.sort();
    let fatal = closure.fatal.as_ref().map(|f| Fatal {
        name: f.name.to_string_lossy().into_owned(),
        path: canonical_in_root(&check.root, &check.cwd, &f.path).unwrap_or_else(|| f.path.clone()),
        message: f.message.clone(),
    });
    Ok(Outcome { files, missing, fatal, linkage: Some(closure.linkage) })
}

/// Runs the real loader; returns what it did and its raw output.
fn run_oracle(check: &Check) -> (Outcome, String) {
    let host_exe = host_path(&check.root, &check.exe);
    let interp = pt_interp(&host_exe);
    let mut cmd = match check.oracle {
        OracleKind::Exec => Command::new(&check.exe),
        OracleKind::LdSo => {
            let ldso = interp.clone().unwrap_or_else(|| PathBuf::from("/lib64/ld-linux-x86-64.so.2"));
            let mut c = Command::new(ldso);
            c.args(&check.ldso_args).arg(&check.exe);
            c
        }
        OracleKind::Ldd => {
            let mut c = Command::new("ldd");
            c.arg(&check.exe);
            c
        }
        OracleKind::Chroot => {
            let root = CString::new(check.root.as_os_str().as_bytes()).unwrap();
            let cwd = CString::new(check.cwd.as_os_str().as_bytes()).unwrap();
            let mut c = Command::new(&check.exe);
            // SAFETY: only async-signal-safe calls (chroot, chdir) between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    if libc::chroot(root.as_ptr()) != 0 || libc::chdir(cwd.as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            c
        }
    };
    if !matches!(check.oracle, OracleKind::Chroot) {
        cmd.current_dir(&check.cwd);
    }
    cmd.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    if !matches!(check.oracle, OracleKind::Ldd) {
        cmd.env("LD_TRACE_LOADED_OBJECTS", "1");
    }
    if let Some(p) = &check.ld_library_path {
        cmd.env("LD_LIBRARY_PATH", p);
    }
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run the oracle for {}: {e}", check.exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let raw = format!("{stdout}{stderr}[exit: {}]", output.status);

    let mut files = BTreeSet::new();
    let mut missing = Vec::new();
    let mut fatal = None;
    let mut linkage = Linkage::Dynamic;
    for line in stdout.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "statically linked" {
            linkage = if interp.is_some() { Linkage::Dynamic } else { Linkage::StaticPie };
            continue;
        }
        if let Some(name) = line.strip_suffix(" => not found") {
            missing.push(name.to_string());
            continue;
        }
        let Some(line) = line.rfind(" (0x").map(|i| &line[..i]) else {
            panic!("{}: unexpected oracle line {line:?}\n{raw}", check.label);
        };
        let (name, path) = match line.split_once(" => ") {
            Some((n, p)) => (n, p),
            None => (line, line),
        };
        if name.starts_with("linux-vdso") || name.starts_with("linux-gate") {
            continue;
        }
        files.insert(
            canonical_in_root(&check.root, &check.cwd, Path::new(path)).unwrap_or_else(|| {
                panic!("{}: the oracle printed {path:?}, which does not resolve\n{raw}", check.label)
            }),
        );
    }
    for line in stderr.lines() {
        if line.contains("not a dynamic executable") {
            linkage = Linkage::Static;
        } else if let Some((_, rest)) = line.split_once("error while loading shared libraries: ") {
            let (name, msg) = rest.split_once(": ").unwrap_or((rest, ""));
            let path = canonical_in_root(&check.root, &check.cwd, Path::new(name)).unwrap_or_else(|| name.into());
            fatal = Some(Fatal { name: name.to_string(), path, message: msg.to_string() });
        }
    }
    if let (Some(interp), Linkage::Dynamic) = (&interp, linkage) {
        // The loader maps its interpreter even when no trace line shows it.
        if let Some(p) = canonical_in_root(&check.root, &check.cwd, interp) {
            files.insert(p);
        }
    }
    missing.sort();
    (Outcome { files, missing, fatal, linkage: Some(linkage) }, raw)
}

/// `root` + in-root absolute `p`.
fn host_path(root: &Path, p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    root.join(rel)
}

/// The canonical in-root path of `p` (relative paths against the in-root `cwd`), resolving
/// symlinks the way the kernel does inside a chroot at `root`. `None` if it does not exist.
fn canonical_in_root(root: &Path, cwd: &Path, p: &Path) -> Option<PathBuf> {
    let mut todo: Vec<PathBuf> = Vec::new();
    let start = if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    // Components still to walk, in reverse so that pop() yields the next one.
    for c in start.components().rev() {
        if let Component::Normal(n) = c {
            todo.push(PathBuf::from(n));
        } else if c == Component::ParentDir {
            todo.push(PathBuf::from(".."));
        }
    }
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c.as_os_str() == OsStr::new("..") {
            cur.pop();
            continue;
        }
        let next = cur.join(&c);
        let meta = std::fs::symlink_metadata(host_path(root, &next)).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(host_path(root, &next)).ok()?;
            if target.is_absolute() {
                cur = PathBuf::from("/");
            }
            for t in target.components().rev() {
                match t {
                    Component::Normal(n) => todo.push(PathBuf::from(n)),
                    Component::ParentDir => todo.push(PathBuf::from("..")),
                    _ => {}
                }
            }
        } else {
            cur = next;
        }
    }
    Some(cur)
}

/// The `PT_INTERP` string of an ELF64 little-endian file, if any.
fn pt_interp(path: &Path) -> Option<PathBuf> {
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
            return Some(PathBuf::from(OsStr::from_bytes(s)));
        }
    }
    None
}
