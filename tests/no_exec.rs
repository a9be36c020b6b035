//! The library never runs anything: no process is spawned, no program executed. (The tests
//! and the CLI may ask the real loader; the library may not.) This scans the library's
//! sources for every way Rust code can start a process.

use std::path::Path;

const FORBIDDEN: &[&str] =
    &["process::Command", "Command::new", "libc::fork", "libc::vfork", "libc::exec", "posix_spawn", "libc::system"];

/// `line` with the contents of its `"..."` literals removed (escapes honoured).
fn without_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let (mut inside, mut escaped) = (false, false);
    for c in line.chars() {
        if inside {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => inside = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            inside = true;
        }
        out.push(c);
    }
    out
}

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
                // Code only: comments and the insides of string literals (names of symbols
                // the runtime evidence looks for, such as "posix_spawn", are data).
                let code = without_strings(line.split("//").next().unwrap_or(""));
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
    assert!(FORBIDDEN.iter().any(|f| without_strings(line).contains(f)));
    let call = "unsafe { libc::posix_spawn(&mut pid, path, std::ptr::null(), attr, argv, envp) };";
    assert!(FORBIDDEN.iter().any(|f| without_strings(call).contains(f)));
    assert!(!FORBIDDEN.iter().any(|f| without_strings("const NAMES: &[&str] = &[\"posix_spawn\"];").contains(f)));
}
