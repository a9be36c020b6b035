//! The library never runs anything: no process is spawned, no program executed. (The tests
//! and the CLI may ask the real loader; the library may not.) This scans the library's
//! sources for every way Rust code can start a process.

use std::path::Path;

const FORBIDDEN: &[&str] =
    &["process::Command", "Command::new", "libc::fork", "libc::vfork", "libc::exec", "posix_spawn", "libc::system"];

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "bin") {
                continue; // the CLI is not the library
            }
            scan(&p, hits);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for f in FORBIDDEN {
                    if code.contains(f) {
                        hits.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
}

#[test]
fn library_sources_never_spawn_a_process() {
    let mut hits = Vec::new();
    scan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut hits);
    assert!(hits.is_empty(), "the library must not run anything:\n{}", hits.join("\n"));
}

#[test]
fn the_scan_would_notice_a_spawn() {
    // Guard against a scan that cannot fail: the pattern list matches the usual spelling.
    let line = "let out = std::process::Command::new(\"ldd\").output();";
    assert!(FORBIDDEN.iter().any(|f| line.contains(f)));
}
