//! End-to-end tests of `depclose-cli` on this machine's programs: the output formats against
//! glibc's own loader, exit codes, one-line errors, no partial output, reproducible tarballs.
//!
//! Run with `cargo test --features cli --test cli`. Needs Debian-style x86_64 glibc
//! (`/lib64/ld-linux-x86-64.so.2`), `ldd`, `patchelf` and `redis-server`.
#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{cli, exe_needing_missing_lib, run, stderr, stdout};

const LOADER: &str = "/lib64/ld-linux-x86-64.so.2";

/// Names of the files in a directory (to check that nothing, not even a temporary, is left).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    v.sort();
    v
}

/// Assert a failed run: `code`, exactly one stderr line, naming `file`.
fn assert_one_line_error(o: &Output, code: i32, file: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with(&format!("depclose-cli: {file}")), "error should name {file}: {err}");
}

#[test]
fn ldd_format_is_ldd_without_addresses() {
    if common::hermetic_skip_without(&["/usr/bin/redis-server", "/usr/bin/curl", "/usr/bin/python3"]) {
        return;
    }
    for prog in ["/usr/bin/redis-server", "/bin/ls", "/usr/bin/curl", "/usr/bin/python3"] {
        if !Path::new(prog).exists() {
            continue;
        }
        let real = Command::new("ldd").arg(prog).env_remove("LD_LIBRARY_PATH").output().unwrap();
        let expected: String = stdout(&real)
            .lines()
            .filter(|l| !l.contains("linux-vdso.so"))
            .map(|l| match l.rfind(" (0x") {
                Some(i) => format!("{} (0x0000000000000000)\n", &l[..i]),
                None => format!("{l}\n"),
            })
            .collect();
        let o = run(cli().arg(prog));
        assert_eq!(o.status.code(), Some(0), "{prog}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{prog}");
    }
}

/// Files the loader maps for `file`, from its trace mode: canonical paths, vDSO left out.
fn loader_trace(file: &Path) -> Option<(BTreeSet<PathBuf>, BTreeSet<String>)> {
    let o = Command::new(LOADER)
        .arg(file)
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .output()
        .ok()?;
    let text = stdout(&o);
    if text.contains("statically linked") || text.contains("not a dynamic executable") {
        return None;
    }
    let mut files = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for l in text.lines() {
        let l = l.trim();
        if let Some(name) = l.strip_suffix(" => not found") {
            missing.insert(name.to_string());
            continue;
        }
        let path = match l.split_once(" => ") {
            Some((_, rest)) => rest,
            None => l,
        };
        let path = path.rsplit_once(" (0x").map(|(p, _)| p).unwrap_or(path);
        if path.starts_with('/') {
            files.insert(fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path)));
        }
    }
    if !o.status.success() && missing.is_empty() {
        return None; // the loader refused the file itself (not loadable as a program)
    }
    Some((files, missing))
}

fn is_dynamic_elf(p: &Path) -> bool {
    let Ok(mut f) = fs::File::open(p) else { return false };
    let mut head = [0u8; 20];
    f.read_exact(&mut head).is_ok() && &head[..4] == b"\x7fELF" && head[4] == 2 && head[18] == 62
}

/// About 50 ELF files, spread over /usr/bin and /usr/lib/x86_64-linux-gnu (every n-th in
/// name order, so the sample is the same on every run).
fn sample() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (dir, want) in [("/usr/bin", 25usize), ("/usr/lib/x86_64-linux-gnu", 25)] {
        let mut all: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| fs::symlink_metadata(p).map(|m| m.is_file()).unwrap_or(false) && is_dynamic_elf(p))
            .collect();
        all.sort();
        let step = (all.len() / want).max(1);
        out.extend(all.into_iter().step_by(step).take(want));
    }
    out
}

#[test]
fn paths_format_agrees_with_the_loader_trace() {
    let files = sample();
    assert!(files.len() >= 40, "too few ELF files found: {}", files.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in &files {
        let Some((want_files, want_missing)) = loader_trace(f) else { continue };
        let o = run(cli().arg("--format").arg("paths").arg("--hwcaps").arg("host").arg(f));
        let mut got_files = BTreeSet::new();
        let mut got_missing = BTreeSet::new();
        for l in stdout(&o).lines() {
            match l.strip_suffix(" => not found") {
                Some(n) => got_missing.insert(n.to_string()),
                None => got_files.insert(PathBuf::from(l)),
            };
        }
        let want_code = if want_missing.is_empty() { 0 } else { 1 };
        if got_files != want_files || got_missing != want_missing || o.status.code() != Some(want_code) {
            failures.push(format!(
                "{}: exit {:?}\n  only loader: {:?}\n  only depclose: {:?}\n  missing loader {:?} depclose {:?}\n  {}",
                f.display(),
                o.status.code(),
                want_files.difference(&got_files).collect::<Vec<_>>(),
                got_files.difference(&want_files).collect::<Vec<_>>(),
                want_missing,
                got_missing,
                stderr(&o)
            ));
        }
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} files could be compared");
    assert!(failures.is_empty(), "{} of {compared} differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn missing_input_is_exit_2_one_line_no_output() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out.tar.gz");
    let o = run(cli().arg("/nonexistent/prog").arg("--tar").arg(&out).arg("--manifest").arg(t.path().join("m.json")));
    assert_one_line_error(&o, 2, "/nonexistent/prog");
    assert!(listing(t.path()).is_empty(), "left behind: {:?}", listing(t.path()));
}

#[test]
fn non_elf_input_is_exit_2_one_line_no_output() {
    let t = tempfile::tempdir().unwrap();
    // Plain text (a `#!` script is taken: its interpreter is closed over; tests/runtime.rs).
    let text = t.path().join("notes.txt");
    fs::write(&text, "echo hi\n").unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = run(cli().arg(&text).arg("--tar").arg(out.join("r.tar")).arg("--dir").arg(out.join("dir")));
    assert_one_line_error(&o, 2, &text.display().to_string());
    assert!(listing(&out).is_empty(), "left behind: {:?}", listing(&out));
}

#[test]
fn unwritable_output_is_exit_2_one_line() {
    // Root can write anywhere, but nothing can be created under a regular file.
    let o = run(cli().arg("/bin/ls").arg("--tar").arg("/etc/hostname/x.tar.gz"));
    assert_one_line_error(&o, 2, "/etc/hostname/x.tar.gz");
    let o = run(cli().arg("/bin/ls").arg("--dir").arg("/etc/hostname/rootfs"));
    assert_one_line_error(&o, 2, "/etc/hostname/rootfs");
    // An output that fails late (here the directory, written after the tarball) takes the
    // already written tarball with it.
    let t = tempfile::tempdir().unwrap();
    let o = run(cli().arg("/bin/ls").arg("--tar").arg(t.path().join("r.tar")).arg("--dir").arg("/etc/hostname/d"));
    assert_one_line_error(&o, 2, "/etc/hostname/d");
    assert!(listing(t.path()).is_empty(), "left behind: {:?}", listing(t.path()));
}

#[test]
fn usage_errors_are_exit_2() {
    assert_eq!(run(&mut cli()).status.code(), Some(2));
    assert_eq!(run(cli().arg("--format").arg("bogus").arg("/bin/ls")).status.code(), Some(2));
    let o = run(cli().arg("/bin/ls").arg("--tar").arg("/tmp/x.zip"));
    assert_one_line_error(&o, 2, "/tmp/x.zip");
    let o = run(cli().arg("/bin/ls").arg("--hwcaps").arg("x86-64-v9"));
    assert_one_line_error(&o, 2, "--hwcaps");
    let o = run(cli().arg("/bin/ls").arg("--dockerfile").arg("/tmp/Dockerfile"));
    assert_eq!(o.status.code(), Some(2), "--dockerfile needs --tar");
}

#[test]
fn missing_library_is_exit_1_and_the_rest_is_still_printed() {
    let t = tempfile::tempdir().unwrap();
    let exe = exe_needing_missing_lib(t.path());
    let o = run(cli().arg(&exe));
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("\tlibnotthere.so.1 => not found\n"), "{text}");
    assert!(text.contains("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x0000000000000000)\n"), "{text}");
    // A rootfs that cannot start is not written, unless asked for (issue 12's contract).
    let tar = t.path().join("r.tar");
    let o = run(cli().arg(&exe).arg("--tar").arg(&tar));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with(&format!("depclose-cli: {}: libnotthere.so.1: not found\n", exe.display())));
    assert!(!tar.exists());
    let o = run(cli().arg(&exe).arg("--tar").arg(&tar).arg("--allow-missing"));
    assert_eq!(o.status.code(), Some(0));
    let members = Command::new("tar").arg("tf").arg(&tar).output().unwrap();
    assert!(stdout(&members).contains("usr/lib/x86_64-linux-gnu/libc.so.6\n"));
    let o = run(cli().arg("--format").arg("tree").arg(&exe));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("libnotthere.so.1 not found\n"), "{}", stdout(&o));
    assert!(stdout(&o).contains("tried /"), "the tree lists the paths tried: {}", stdout(&o));
}

#[test]
fn broken_pipe_exits_quietly() {
    if common::hermetic_skip_without(&["/usr/bin/redis-server"]) {
        return;
    }
    let mut c = cli();
    c.arg("--format").arg("tree");
    for _ in 0..200 {
        c.arg("/usr/bin/redis-server");
    }
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // close the read end: every write fails with EPIPE
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn several_files_get_headers_and_a_union() {
    if common::hermetic_skip_without(&["/usr/bin/redis-server"]) {
        return;
    }
    let o = run(cli().arg("/bin/ls").arg("/usr/bin/redis-server"));
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("/bin/ls:\n\t"), "{text}");
    assert!(text.contains("\n/usr/bin/redis-server:\n\t"), "{text}");
    let o = run(cli().arg("--format").arg("paths").arg("/bin/ls").arg("/usr/bin/redis-server"));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    let unique: BTreeSet<&str> = lines.iter().copied().collect();
    assert_eq!(lines.len(), unique.len(), "each path once: {text}");
    assert!(lines.iter().any(|l| l.contains("libpcre2-8")), "{text}");
    assert!(lines.iter().any(|l| l.contains("libjemalloc")), "{text}");
}

#[test]
fn why_prints_the_request_chains() {
    if common::hermetic_skip_without(&["/usr/bin/redis-server"]) {
        return;
    }
    let o = run(cli().arg("--why").arg("libgpg-error.so.0").arg("/usr/bin/redis-server"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "libgpg-error.so.0 => /lib/x86_64-linux-gnu/libgpg-error.so.0\n    \
         /usr/bin/redis-server -> libsystemd.so.0 -> libgcrypt.so.20 -> libgpg-error.so.0\n"
    );
}

#[test]
fn json_format_has_closures_and_manifest() {
    let o = run(cli().arg("--format").arg("json").arg("/bin/ls"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "depclose/2");
    assert_eq!(v["closures"][0]["objects"][0]["role"], "input");
    assert!(v["closures"][0]["edges"].as_array().unwrap().iter().any(|e| e["via"]["step"] == "ld_cache"));
    assert_eq!(v["manifest"]["schema"], "depclose-manifest/1");
    let entries = v["manifest"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["path"] == "/lib64" && e["kind"] == "symlink"));
}

#[test]
fn dockerfile_and_dir_outputs() {
    let t = tempfile::tempdir().unwrap();
    let o = run(cli()
        .arg("/bin/ls")
        .arg("--tar")
        .arg(t.path().join("rootfs.tar.gz"))
        .arg("--dockerfile")
        .arg(t.path().join("Dockerfile"))
        .arg("--dir")
        .arg(t.path().join("tree")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "no listing when writing outputs");
    assert_eq!(
        fs::read_to_string(t.path().join("Dockerfile")).unwrap(),
        "FROM scratch\nADD rootfs.tar.gz /\nENTRYPOINT [\"/bin/ls\"]\n"
    );
    let tree = t.path().join("tree");
    assert_eq!(fs::read_link(tree.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(fs::read_link(tree.join("lib64")).unwrap(), Path::new("usr/lib64"));
    assert!(tree.join("usr/lib/x86_64-linux-gnu/libc.so.6").is_file());
    assert_eq!(listing(t.path()), [".dockerignore", "Dockerfile", "rootfs.tar.gz", "tree"]);
    // The directory now exists and is not empty: refused, nothing else written.
    let o = run(cli().arg("/bin/ls").arg("--dir").arg(&tree).arg("--manifest").arg(t.path().join("m.json")));
    assert_one_line_error(&o, 2, &tree.display().to_string());
    assert_eq!(listing(t.path()), [".dockerignore", "Dockerfile", "rootfs.tar.gz", "tree"]);
}

/// Build the tarball from `cwd` with `threads`, return its bytes.
fn build_tar(cwd: &Path, out: &Path, threads: &str) -> Vec<u8> {
    let o = run(cli()
        .current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("RAYON_NUM_THREADS", threads)
        .arg("--threads")
        .arg(threads)
        .arg("/usr/bin/redis-server")
        .arg("/bin/ls")
        .arg("--add")
        .arg("/etc/os-release")
        .arg("--tar")
        .arg(out)
        .arg("--manifest")
        .arg(out.with_file_name("manifest.json")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::read(out).unwrap()
}

#[test]
fn tarball_is_byte_identical_across_runs_dirs_and_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = build_tar(a.path(), &a.path().join("rootfs.tar.gz"), "1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build_tar(b.path(), &b.path().join("other-name.tar.gz"), "2");
    assert!(first == second, "tarballs differ ({} vs {} bytes)", first.len(), second.len());
    assert_eq!(fs::read(a.path().join("manifest.json")).unwrap(), fs::read(b.path().join("manifest.json")).unwrap());
    // The epoch is in every member.
    let list =
        Command::new("tar").arg("--full-time").arg("-tvzf").arg(a.path().join("rootfs.tar.gz")).output().unwrap();
    assert!(stdout(&list).lines().all(|l| l.contains("2023-11-14 22:13:20")), "{}", stdout(&list));
}
