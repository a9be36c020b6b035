//! Differential test against the real loader, every file: for every ELF file under
//! /usr/bin, /usr/sbin, /usr/lib and /usr/libexec, the set of files depclose resolves equals
//! the set the host's glibc `ld.so` maps in trace mode (`ld.so --verify FILE`, then
//! `LD_TRACE_LOADED_OBJECTS=1 ld.so FILE`), "not found" names and load failures included.
//!
//! The oracle is an explicit `ld.so FILE` invocation (what `ldd` runs), so depclose is run in
//! the matching mode: `OriginMode::AsGiven` (the input's `$ORIGIN` and name are the path as
//! typed, glibc 2.36 `rtld.c`). Any remaining difference must be listed in `KNOWN` with the
//! loader rule that explains it; an unlisted difference or a listed one that no longer
//! occurs fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::{Closure, Hwcaps, Linkage, OriginMode, Resolver};
use rayon::prelude::*;

const LDSO: &str = "/lib64/ld-linux-x86-64.so.2";
const DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"];

/// Files whose result differs from the loader's for a reason that is not a depclose bug.
/// (path, the rule that explains it)
const KNOWN: &[(&str, &str)] = &[];

/// What the loader said about one file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Oracle {
    verify: i32,
    files: BTreeSet<PathBuf>,
    missing: Vec<String>,
    fatal: bool,
    statically_linked: bool,
}

fn elf_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in DIRS {
        for e in walkdir::WalkDir::new(d).follow_links(false).into_iter().filter_map(Result::ok) {
            if !e.file_type().is_file() {
                continue;
            }
            let mut magic = [0u8; 4];
            if fs::File::open(e.path()).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF" {
                out.push(e.path().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn oracle(file: &Path) -> Oracle {
    let mut o = Oracle::default();
    let v = Command::new(LDSO).arg("--verify").arg(file).env_clear().output().expect("run ld.so --verify");
    o.verify = v.status.code().unwrap_or(-1);
    if o.verify != 0 && o.verify != 2 {
        return o;
    }
    let out = Command::new(LDSO)
        .arg(file)
        .env_clear()
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .current_dir("/")
        .output()
        .expect("run ld.so in trace mode");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || stderr.contains("error while loading shared libraries") {
        o.fatal = true;
    }
    for line in common::parse_trace(&stdout) {
        match line {
            common::TraceLine::Static => o.statically_linked = true,
            common::TraceLine::NotFound(name) => o.missing.push(name.to_string()),
            common::TraceLine::Mapped(path) => {
                o.files.insert(fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path)));
            }
        }
    }
    o.missing.sort();
    o
}

/// What depclose says, in the oracle's terms.
fn ours(c: &Closure) -> Oracle {
    let mut missing: Vec<String> = c.missing.iter().map(|m| m.name.to_string()).collect();
    missing.sort();
    Oracle {
        verify: 0,
        files: c.loaded_files().into_iter().map(|p| p.to_path_buf()).collect(),
        missing,
        fatal: c.fatal.is_some(),
        statically_linked: c.linkage != Linkage::Dynamic,
    }
}

/// The comparison: a description of the difference, or `None` when they agree.
fn compare(theirs: &Oracle, got: &Result<Closure, depclose::Error>) -> Option<String> {
    let dynamic = theirs.verify == 0 || theirs.verify == 2;
    let c = match got {
        Err(_) if !dynamic => return None,
        Err(e) => return Some(format!("depclose error: {e}")),
        Ok(c) => c,
    };
    if !dynamic {
        // ld.so refuses it (static, other class or machine, not loadable); depclose must not
        // claim it loads with this loader.
        let foreign = c.objects[0].file.machine != 62 || c.objects[0].file.class != depclose::Class::Elf64;
        return (c.linkage == Linkage::Dynamic && !foreign)
            .then(|| format!("ld.so --verify says {} but depclose resolved it as dynamic", theirs.verify));
    }
    let mut mine = ours(c);
    if theirs.fatal {
        return (!mine.fatal).then(|| format!("loader aborts, depclose does not: {:?}", mine.files));
    }
    if mine.fatal {
        return Some(format!("depclose reports a load failure the loader does not: {:?}", c.fatal));
    }
    let mut want = Oracle { verify: theirs.verify, ..Default::default() };
    want.files = theirs.files.clone();
    want.missing = theirs.missing.clone();
    // The trace omits the interpreter when nothing NEEDs it; it is mapped all the same.
    if c.interpreter.is_some() && theirs.verify == 0 {
        if let Ok(p) = fs::canonicalize(LDSO) {
            want.files.insert(p);
        }
    }
    mine.verify = theirs.verify;
    mine.statically_linked = false;
    if mine.files == want.files && mine.missing == want.missing {
        return None;
    }
    let extra: Vec<_> = mine.files.difference(&want.files).collect();
    let lacking: Vec<_> = want.files.difference(&mine.files).collect();
    Some(format!(
        "files only depclose: {extra:?}; files only ld.so: {lacking:?}; missing depclose {:?} vs ld.so {:?}",
        mine.missing, want.missing
    ))
}

#[test]
fn every_elf_file_under_usr_matches_the_loader() {
    if common::hermetic_skip("the oracle tier: the host's ld.so over every ELF file of /usr (slow)") {
        return;
    }
    if !Path::new(LDSO).exists() {
        panic!("{LDSO} is required: this test compares against the host's glibc loader");
    }
    let files = elf_files();
    assert!(files.len() > 500, "expected thousands of ELF files under /usr, found {}", files.len());
    let resolver =
        Resolver::builder().origin(OriginMode::AsGiven).hwcaps(Hwcaps::Host).cwd(Some("/".as_ref())).build().unwrap();
    let ours = resolver.closures(&files);
    let theirs: Vec<Oracle> = files.par_iter().map(|f| oracle(f)).collect();

    let known: BTreeMap<&str, &str> = KNOWN.iter().copied().collect();
    let mut unexplained = Vec::new();
    let mut explained = BTreeSet::new();
    let mut compared = 0usize;
    for ((file, t), o) in files.iter().zip(&theirs).zip(&ours) {
        if t.verify == 0 || t.verify == 2 {
            compared += 1;
        }
        if let Some(diff) = compare(t, o) {
            let name = file.to_string_lossy();
            if known.contains_key(name.as_ref()) {
                explained.insert(name.into_owned());
            } else {
                unexplained.push(format!("{name}: {diff}"));
            }
        }
    }
    let stale: Vec<_> = known.keys().filter(|k| !explained.contains(**k)).collect();
    eprintln!(
        "system oracle: {} ELF files, {} loadable by {LDSO}, {} unexplained differences, {} explained",
        files.len(),
        compared,
        unexplained.len(),
        explained.len()
    );
    assert!(unexplained.is_empty(), "{} files differ from the loader:\n{}", unexplained.len(), unexplained.join("\n"));
    assert!(stale.is_empty(), "KNOWN lists files that now agree: {stale:?}");
}

/// The shared caches of a batch (parsed files, search outcomes, and closures shared between
/// inputs that differ only in their own object) change no result: in the default mode, where
/// closures are shared between inputs with the same `DT_NEEDED` list, every closure of one
/// batch equals the closure a fresh resolver computes for that file alone.
#[test]
fn batch_closures_equal_fresh_resolvers_closures() {
    let files: Vec<PathBuf> = elf_files().into_iter().step_by(2).collect();
    assert!(files.len() > 250, "expected hundreds of ELF files under /usr, found {}", files.len());
    let build = || Resolver::builder().hwcaps(Hwcaps::Host).cwd(Some("/".as_ref())).build().unwrap();
    let batch = build().closures(&files);
    let mut shared_needed = BTreeMap::<Vec<String>, usize>::new();
    let mut differ = Vec::new();
    for (file, got) in files.iter().zip(&batch) {
        let alone = build().closure(file);
        match (got, &alone) {
            (Ok(a), Ok(b)) => {
                if a != b {
                    differ.push(file.display().to_string());
                }
                let needed = a.input_object().file.needed.iter().map(|n| n.to_string()).collect();
                *shared_needed.entry(needed).or_default() += 1;
            }
            (Err(a), Err(b)) if a.to_string() == b.to_string() => {}
            _ => differ.push(format!("{}: {:?} vs {:?}", file.display(), got.as_ref().err(), alone.as_ref().err())),
        }
    }
    // The comparison covers sharing: many inputs have a DT_NEEDED list another input has.
    let repeated: usize = shared_needed.values().filter(|&&n| n > 1).sum();
    eprintln!("batch vs fresh: {} files, {} with a DT_NEEDED list shared by another", files.len(), repeated);
    assert!(repeated > 100, "too few inputs share a DT_NEEDED list ({repeated}) for this test to mean much");
    assert!(
        differ.is_empty(),
        "{} closures differ between the batch and a fresh resolver:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// Preloads are preloads: with `LD_PRELOAD` the loader maps the preloaded files right after
/// the program, before its `DT_NEEDED` libraries (trace mode prints them in that place); the
/// closure has the same files in the same order, and exactly those preloaded (and not
/// otherwise needed) carry `Role::Preload`, the rest `Role::Library`.
#[test]
fn preloads_follow_the_loader_and_say_preload() {
    use depclose::Role;
    let zlib = "/usr/lib/x86_64-linux-gnu/libz.so.1";
    let cases: &[(&str, &[&str])] = &[("/bin/true", &[zlib]), ("/bin/ls", &[zlib, "libm.so.6"])];
    for (exe, preloads) in cases {
        let out = Command::new(LDSO)
            .arg(exe)
            .env_clear()
            .env("LD_TRACE_LOADED_OBJECTS", "1")
            .env("LD_PRELOAD", preloads.join(":"))
            .output()
            .expect("run ld.so");
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<PathBuf> = common::parse_trace(&text)
            .into_iter()
            .filter_map(|l| match l {
                common::TraceLine::Mapped(p) => Some(fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p))),
                _ => None,
            })
            .collect();
        let resolver = Resolver::builder()
            .origin(OriginMode::AsGiven)
            .hwcaps(Hwcaps::Host)
            .preload(preloads.iter().copied())
            .build()
            .unwrap();
        let c = resolver.closure(exe).unwrap();
        // The trace leaves out the program itself and places the interpreter where it was
        // first needed; the preloads come first in both, then the same files.
        let ours: Vec<PathBuf> = c.objects.iter().skip(1).map(|o| o.file.location.realpath.clone()).collect();
        let firsts = |v: &[PathBuf]| {
            v.iter().filter(|p| !p.ends_with("ld-linux-x86-64.so.2")).take(preloads.len()).cloned().collect::<Vec<_>>()
        };
        assert_eq!(firsts(&ours), firsts(&theirs), "{exe} with LD_PRELOAD={preloads:?}: the preloads come first");
        let set = |v: &[PathBuf]| v.iter().cloned().collect::<BTreeSet<_>>();
        assert_eq!(set(&ours), set(&theirs), "{exe} with LD_PRELOAD={preloads:?}: the files");
        let preloaded: Vec<_> = c.objects.iter().filter(|o| o.role == Role::Preload).collect();
        assert_eq!(preloaded.len(), preloads.len(), "{exe}: one preload object per LD_PRELOAD entry");
        for (o, name) in preloaded.iter().zip(preloads.iter()) {
            let path = o.file.location.path.to_string_lossy().into_owned();
            assert!(path.ends_with(name.trim_start_matches('/')), "{exe}: preload {name} is {path}");
            assert_eq!(o.loaded_by, Some(0), "{exe}: a preload is loaded on behalf of the program");
        }
        let libc = c.objects.iter().find(|o| o.file.location.path.ends_with("libc.so.6")).unwrap();
        assert_eq!(libc.role, Role::Library, "{exe}: libc is needed, not preloaded");
    }
}
