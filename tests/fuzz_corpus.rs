//! Replays every fuzz corpus file (`fuzz/corpus/<target>/*`) through its target's body, and
//! every crash regression file (`fixtures-elf/fuzz/crash-*`) through every body, on the
//! stable toolchain. The bodies are the fuzz targets' own (`fuzz/src/lib.rs`, included here),
//! so a regression that the fuzzer once found fails CI without cargo-fuzz.
//!
//! Each input runs on its own thread with a time limit: a hang is a failure, not a stuck CI.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../fuzz/src/lib.rs"]
mod bodies;

/// Per-input limit (debug build, a busy CI machine).
const LIMIT: Duration = Duration::from_secs(30);

type Body = fn(&[u8]);

const TARGETS: &[(&str, Body)] = &[
    ("parse_elf", bodies::parse_elf),
    ("ld_cache", bodies::ld_cache),
    ("ld_so_conf", bodies::ld_so_conf),
    ("resolve_small_root", bodies::resolve_small_root),
    ("dlopen_note", bodies::dlopen_note),
    ("strings_scan", bodies::strings_scan),
    ("symbols", bodies::symbols),
    ("verify_image", bodies::verify_image),
];

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Run `body` on `data` in a thread; `Err` describes a panic or a timeout.
fn run_bounded(body: Body, data: Vec<u8>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(|| body(&data));
            let _ = tx.send(r.map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into())
            }));
        })
        .expect("spawn");
    match rx.recv_timeout(LIMIT) {
        Ok(r) => r,
        Err(_) => Err(format!("did not finish within {LIMIT:?}")),
    }
}

fn replay(cases: Vec<(PathBuf, &'static str, Body)>) {
    let mut failures = Vec::new();
    for (path, name, body) in &cases {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            // A fuzzer running on the corpus may replace files meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        if let Err(e) = run_bounded(*body, data) {
            failures.push(format!("{} through {name}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} inputs failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn corpus(target: &'static str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let body = TARGETS.iter().find(|t| t.0 == target).expect("known target").1;
    let cases: Vec<_> = files(&dir, "").into_iter().map(|p| (p, target, body)).collect();
    assert!(!cases.is_empty(), "no corpus in {}", dir.display());
    replay(cases);
}

#[test]
fn corpus_parse_elf() {
    corpus("parse_elf");
}

#[test]
fn corpus_ld_cache() {
    corpus("ld_cache");
}

#[test]
fn corpus_ld_so_conf() {
    corpus("ld_so_conf");
}

#[test]
fn corpus_resolve_small_root() {
    corpus("resolve_small_root");
}

#[test]
fn corpus_dlopen_note() {
    corpus("dlopen_note");
}

#[test]
fn corpus_strings_scan() {
    corpus("strings_scan");
}

#[test]
fn corpus_symbols() {
    corpus("symbols");
}

#[test]
fn corpus_verify_image() {
    corpus("verify_image");
}

/// Every crash file through every body: each body must accept any bytes.
#[test]
fn crash_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/fuzz");
    let mut cases = Vec::new();
    for p in files(&dir, "crash-") {
        for (name, body) in TARGETS {
            cases.push((p.clone(), *name, *body));
        }
    }
    replay(cases);
}

/// The ELF writer the fuzzer uses produces what the ELF reader reads back.
#[test]
fn elf_writer_round_trips() {
    use bodies::elfgen::{build, Spec};
    for (c64, be, machine) in [(true, false, 62u16), (false, false, 3), (true, true, 21), (false, true, 20)] {
        let mut s = Spec::lib("liba.so.1", &["libb.so.2", "libc.so.6"]);
        s.class64 = c64;
        s.big_endian = be;
        s.machine = machine;
        s.rpath = Some(b"$ORIGIN".to_vec());
        s.runpath = Some(b"/x:/y".to_vec());
        s.interp = Some(b"/lib/ld.so".to_vec());
        s.flags_1 = 0x800;
        let info = depclose::elf::parse(&build(&s)).expect("parses");
        assert_eq!(info.machine, machine);
        assert_eq!(info.big_endian, be);
        assert_eq!(info.interp.as_ref().map(|b| b.as_bytes()), Some(&b"/lib/ld.so"[..]));
        let d = info.dynamic.expect("dynamic");
        assert_eq!(d.needed, vec![depclose::Bytes::from("libb.so.2"), depclose::Bytes::from("libc.so.6")]);
        assert_eq!(d.soname, Some(depclose::Bytes::from("liba.so.1")));
        assert_eq!(d.rpath, Some(depclose::Bytes::from("$ORIGIN")));
        assert_eq!(d.runpath, Some(depclose::Bytes::from("/x:/y")));
        assert_eq!(d.flags_1, 0x800);
    }
}

/// The dlopen-note files the fuzzer builds hold notes the reader finds (both classes and
/// byte orders), so the fuzzer exercises the JSON, not only the ELF checks.
#[test]
fn dlopen_note_writer_round_trips() {
    let desc = b"[{\"soname\":[\"liba.so.1\",\"liba.so.0\"],\"priority\":\"required\"}]\0";
    for (c64, be) in [(true, false), (false, true)] {
        let r = depclose::elf::notes::dlopen_notes(&bodies::dlopen_note_elf(desc, c64, be));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.entries[0].sonames, ["liba.so.1", "liba.so.0"]);
        assert_eq!(r.entries[1].priority, depclose::elf::notes::Priority::Required);
    }
}
