//! Differential test against the real loader, every file: for every ELF file under
//! /usr/bin, /usr/sbin, /usr/lib and /usr/libexec that the host's glibc `ld.so` traces, the
//! symbol problems depclose reports (`symcheck`, as `ldd -r` lines) are the lines the loader
//! prints on stderr with `LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes` (what
//! `ldd -r` runs): version problems and undefined symbols with their objects, as a set and
//! also line for line (the loader's order and repeats).
//!
//! Like tests/system_oracle.rs the oracle is an explicit `ld.so FILE` invocation, so depclose
//! runs with `OriginMode::AsGiven`. It takes a few minutes (one loader run per file). Set
//! `DEPCLOSE_ORACLE_STEP=N` to check every N-th file only.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::symcheck::SymbolCache;
use depclose::{Closure, Hwcaps, OriginMode, Resolver};
use rayon::prelude::*;

const LDSO: &str = "/lib64/ld-linux-x86-64.so.2";
const DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec"];

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
    let step = std::env::var("DEPCLOSE_ORACLE_STEP").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    out.into_iter().step_by(step.max(1)).collect()
}

/// The loader's symbol problems for one file; `None` when it does not trace the file (not
/// loadable by this loader, or the load fails).
fn oracle(file: &Path) -> Option<Vec<String>> {
    let v = Command::new(LDSO).arg("--verify").arg(file).env_clear().output().expect("run ld.so --verify");
    let code = v.status.code().unwrap_or(-1);
    if code != 0 && code != 2 {
        return None;
    }
    let out = Command::new(LDSO)
        .arg(file)
        .env_clear()
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .env("LD_WARN", "yes")
        .env("LD_BIND_NOW", "yes")
        .current_dir("/")
        .output()
        .expect("run ld.so in trace mode");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("error while loading shared libraries") || stderr.contains("Inconsistency detected") {
        return None;
    }
    Some(stderr.lines().filter(|l| is_problem(l)).map(str::to_string).collect())
}

fn is_problem(line: &str) -> bool {
    line.starts_with("undefined symbol: ")
        || line.contains(": version `")
        || line.contains(": weak version `")
        || line.contains(": no version information available (required by ")
}

fn ours(cache: &SymbolCache, resolver: &Resolver, c: &Closure) -> Vec<String> {
    let report = cache.check(c, resolver);
    assert!(report.unreadable.is_empty(), "{}: unreadable symbols: {:?}", c.input.display(), report.unreadable);
    report.ldd_lines(c)
}

#[test]
fn every_traced_file_under_usr_reports_the_loaders_symbol_problems() {
    if common::hermetic_skip("the oracle tier: the host's ld.so over every ELF file of /usr (slow)") {
        return;
    }
    if !Path::new(LDSO).exists() {
        panic!("{LDSO} is required: this test compares against the host's glibc loader");
    }
    let files = elf_files();
    assert!(!files.is_empty());
    let resolver =
        Resolver::builder().origin(OriginMode::AsGiven).hwcaps(Hwcaps::Host).cwd(Some("/".as_ref())).build().unwrap();
    let closures = resolver.closures(&files);
    let cache = SymbolCache::new();
    let theirs: Vec<Option<Vec<String>>> = files.par_iter().map(|f| oracle(f)).collect();
    let mut differ = Vec::new();
    let mut order_differs = Vec::new();
    let mut distinct = BTreeSet::new();
    let (mut traced, mut with_problems) = (0usize, 0usize);
    for ((file, t), c) in files.iter().zip(&theirs).zip(&closures) {
        let Some(t) = t else { continue };
        let Ok(c) = c else { continue };
        if c.fatal.is_some() {
            continue;
        }
        traced += 1;
        with_problems += usize::from(!t.is_empty());
        distinct.extend(c.objects.iter().map(|o| o.file.location.realpath.clone()));
        let mine_seq = ours(&cache, &resolver, c);
        let mine: BTreeSet<&String> = mine_seq.iter().collect();
        let t_set: BTreeSet<&String> = t.iter().collect();
        if mine != t_set {
            let only_ours: Vec<_> = mine.difference(&t_set).collect();
            let only_theirs: Vec<_> = t_set.difference(&mine).collect();
            differ
                .push(format!("{}:\n  only depclose: {only_ours:?}\n  only ld.so:    {only_theirs:?}", file.display()));
        } else if &mine_seq != t {
            order_differs.push(format!("{}:\n  depclose: {mine_seq:?}\n  ld.so:    {t:?}", file.display()));
        }
    }
    eprintln!(
        "symbols oracle: {} files, {traced} traced, {with_problems} with problems, {} differ, {} in another order or \
         with other repeats, {} symbol tables read",
        files.len(),
        differ.len(),
        order_differs.len(),
        cache.len()
    );
    differ.extend(order_differs);
    assert!(traced > 0);
    // Each file's tables are read once per run, however many closures load it.
    assert_eq!(cache.len(), distinct.len(), "symbol tables read vs distinct files of the checked closures");
    assert!(differ.is_empty(), "{} files differ from the loader:\n{}", differ.len(), differ.join("\n"));

    // The batch check (files read in parallel first, closures checked in parallel, results
    // shared between closures through the cache) reports exactly what one closure after the
    // other does, with one thread and with several.
    let checked: Vec<Closure> = closures.into_iter().filter_map(Result::ok).collect();
    let one_by_one: Vec<_> = checked.iter().map(|c| cache.check(c, &resolver)).collect();
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let batch = pool.install(|| SymbolCache::new().check_all(&checked, &resolver));
        assert_eq!(batch.len(), one_by_one.len());
        for ((c, b), s) in checked.iter().zip(&batch).zip(&one_by_one) {
            assert_eq!(b, s, "{}: check_all with {threads} threads differs from check", c.input.display());
        }
    }
}
