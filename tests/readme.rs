//! The README holds up as written: its library example is a complete program that compiles
//! and runs exactly as shown; each `depclose-cli` command in it is run here (or names the test
//! that runs it), its output compared where the README shows output; its option list is
//! the one `--help` gives.
//!
//! Run with `cargo test --all-features --test readme`. Needs root (a chroot), `redis-server`,
//! `python3-yaml` (Debian 12's `_yaml` extension), as scripts/test.sh installs them.
#![cfg(feature = "cli")]

mod common;

// The README's library example, compiled as this test's module exactly as the README shows it
// (`readme_example_is_the_file` checks the bytes).
#[path = "../examples/readme.rs"]
#[allow(dead_code)] // its `main` is run as the example program below
mod readme_example;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::chroot::{chroot_cmd, is_root, out_text, Mounts};

const README: &str = include_str!("../README.md");

/// The body of every fenced block of `lang` (`sh`, `text`, `rust`, ...), in order.
fn blocks(lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in README.lines() {
        match (&mut cur, line.strip_prefix("```")) {
            (None, Some(l)) if l == lang => cur = Some(String::new()),
            (Some(_), Some("")) => out.push(cur.take().unwrap()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Every command line of the README that runs depclose-cli: `sh` blocks line by line (`\`
/// continuations joined, comments kept as the shell would drop them), and `$ depclose-cli`
/// lines of `text` blocks.
fn cli_commands() -> Vec<String> {
    let mut out = Vec::new();
    for b in blocks("sh") {
        for l in b.replace("\\\n", " ").lines() {
            if l.trim_start().starts_with("depclose-cli ") {
                out.push(l.trim().to_string());
            }
        }
    }
    for b in blocks("text") {
        for l in b.lines() {
            for part in l.split("$ ").skip(1) {
                if part.starts_with("depclose-cli ") {
                    out.push(part.trim().to_string());
                }
            }
        }
    }
    out
}

/// A directory whose `depclose-cli` is the binary under test, for `bash -c` to find.
fn bin_dir(t: &Path) -> PathBuf {
    let dir = t.join("bin");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_depclose-cli"), dir.join("depclose-cli")).unwrap();
    dir
}

/// `bash -c LINE` in `cwd`, as a person pastes it.
fn sh(bin: &Path, cwd: &Path, line: &str) -> Output {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .args(["-c", line])
        .current_dir(cwd)
        .env("PATH", path)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

/// The README's `text` block lines that follow `$ COMMAND` up to the next `$ ` line.
fn shown_output(command: &str) -> Vec<String> {
    for b in blocks("text") {
        let lines: Vec<&str> = b.lines().collect();
        if let Some(i) = lines.iter().position(|l| l.strip_prefix("$ ") == Some(command)) {
            return lines[i + 1..].iter().take_while(|l| !l.starts_with("$ ")).map(|l| l.to_string()).collect();
        }
    }
    panic!("no output shown for {command}");
}

#[test]
fn readme_example_is_the_file() {
    let i = README.find("## The library\n").expect("a library section");
    let start = README[i..].find("```rust\n").unwrap() + i + "```rust\n".len();
    let end = README[start..].find("```\n").unwrap() + start;
    let example = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/readme.rs")).unwrap();
    assert_eq!(&README[start..end], example, "examples/readme.rs must be the README's example, byte for byte");
    assert!(example.contains("fn main()"), "a complete program");
    assert!(!example.lines().any(|l| l.starts_with("# ")), "no hidden doctest lines");
}

/// Built as the example it is (`cargo run --example readme`, the file being the README's
/// block) and run: it prints the closure of /bin/sh. (The README's doctest runs it too.)
#[test]
fn readme_example_runs() {
    // The module above already compiled it as part of this test; this is the program itself.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let o = Command::new(cargo)
        .args(["run", "--quiet", "--offline", "--example", "readme"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (LdCache)"), "{out}");
}

/// Every long option `--help` lists appears in the README's option list, and the list names
/// no option `--help` lacks.
#[test]
fn option_list_matches_help() {
    let help = Command::new(env!("CARGO_BIN_EXE_depclose-cli")).arg("--help").output().unwrap();
    assert!(help.status.success());
    let longs = |text: &str| -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(j) = text[i..].find("--") {
            let s = i + j + 2;
            let e = s + b[s..].iter().take_while(|c| c.is_ascii_lowercase() || **c == b'-').count();
            let before = if i + j == 0 { b' ' } else { b[i + j - 1] };
            if e > s && !before.is_ascii_alphanumeric() && before != b'-' {
                set.insert(format!("--{}", text[s..e].trim_end_matches('-')));
            }
            i = e.max(s);
        }
        set
    };
    let ours = longs(&String::from_utf8_lossy(&help.stdout));
    let start = README.find("## depclose-cli\n").unwrap();
    let end = README[start..].find("### JSON output").unwrap() + start;
    let listed = longs(&README[start..end]);
    let missing: Vec<&String> = ours.difference(&listed).collect();
    let unknown: Vec<&String> = listed.difference(&ours).collect();
    assert!(missing.is_empty(), "options of --help the README does not list: {missing:?}");
    assert!(unknown.is_empty(), "options the README lists that --help lacks: {unknown:?}");
}

/// Commands run by other suites, which build what they need (a root, a fixture).
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "depclose-cli --root /srv/old-root -r /home/me/app",
        "tests/symbols_fixtures.rs built_here_run_there_with_root (the root's loader in a chroot)",
    ),
    (
        "depclose-cli --root /srv/old-root -r --format tree /home/me/app",
        "tests/symbols_fixtures.rs built_here_run_there_with_root",
    ),
    (
        "depclose-cli --root /tmp/arm64-root /usr/bin/curl --format tree",
        "tests/foreign_roots.rs (arm64 root, its loader under qemu)",
    ),
    (
        "depclose-cli --root /tmp/arm64-root /usr/bin/curl --tar curl-arm64.tar.gz",
        "tests/oci.rs an_arm64_root_gives_an_arm64_image",
    ),
];

/// Each README command: run here (with the set-up it assumes) or listed in [`ELSEWHERE`].
#[test]
fn every_cli_command_of_the_readme_runs() {
    if common::hermetic_skip(
        "root (chroot), redis-server, python3-yaml and the other packages the README's commands use",
    ) {
        return;
    }
    assert!(is_root(), "the main command's image is checked in a chroot: run as root (scripts/test.sh)");
    let t = tempfile::tempdir().unwrap();
    let bin = bin_dir(t.path());
    let work = t.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let ran = std::cell::RefCell::new(BTreeSet::<String>::new());
    let run = |line: &str, code: i32| -> Output {
        let o = sh(&bin, &work, line);
        assert_eq!(o.status.code(), Some(code), "{line}\n{}", out_text(&o));
        ran.borrow_mut().insert(line.to_string());
        o
    };
    let commands = cli_commands();
    let find = |prefix: &str| -> String {
        commands.iter().find(|c| c.starts_with(prefix)).unwrap_or_else(|| panic!("README: no `{prefix}...`")).clone()
    };

    // The main command: a usable image of tools.
    let main = find("depclose-cli /usr/bin/bash ");
    let o = run(&main, 0);
    let summary = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        summary.starts_with("depclose-cli: wrote rootfs rootfs.tar.gz (")
            && summary.contains("and Dockerfile Dockerfile: "),
        "{summary}"
    );
    let df = fs::read_to_string(work.join("Dockerfile")).unwrap();
    assert_eq!(df, "FROM scratch\nADD rootfs.tar.gz /\nENTRYPOINT [\"/usr/bin/bash\"]\n");
    assert!(fs::read_to_string(work.join(".dockerignore")).unwrap().ends_with("*\n!rootfs.tar.gz\n"));
    let root = t.path().join("image");
    fs::create_dir_all(&root).unwrap();
    let o = Command::new("tar").arg("-xzf").arg(work.join("rootfs.tar.gz")).arg("-C").arg(&root).output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    {
        let _mounts = Mounts::new(&root);
        // What the README says works inside: id, ls -l, TZ=Europe/Paris date.
        let o = chroot_cmd()
            .arg(&root)
            .args(["/usr/bin/bash", "-c", "id && ls -l / && TZ=Europe/Paris date +%Z && date -u +%Z"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{}", out_text(&o));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "uid=0(root) gid=0(root) groups=0(root)", "{out}");
        assert!(out.contains(" usr\n") && out.contains(" tmp\n"), "{out}");
        let zone = lines[lines.len() - 2];
        assert!(zone == "CET" || zone == "CEST", "{out}");
        assert_eq!(lines[lines.len() - 1], "UTC");
    }

    // `depclose-cli /bin/ls` beside ldd: the README's right column.
    let o = run(&find("depclose-cli /bin/ls"), 0);
    let ours = String::from_utf8_lossy(&o.stdout).into_owned();
    for l in shown_output_side_by_side() {
        assert!(ours.contains(&l), "README shows {l:?}, depclose-cli prints:\n{ours}");
    }

    // Images without a daemon, --verify, the SBOM.
    run(&find("depclose-cli /usr/bin/redis-server --oci-archive redis.tar --tag"), 0);
    run(&find("depclose-cli /usr/bin/redis-server --oci-layout redis-layout"), 0);
    run(&find("depclose-cli --verify redis.tar"), 0);
    run(&find("depclose-cli --verify rootfs.tar.gz"), 0);
    let o = sh(&bin, &work, "depclose-cli /usr/bin/ls --dir rootfs --manifest m.json -q");
    assert!(o.status.success(), "{}", out_text(&o));
    run(&find("depclose-cli --verify rootfs/ --manifest m.json"), 0);
    run(&find("depclose-cli /usr/bin/redis-server --oci-archive redis.tar --sbom"), 0);
    assert!(work.join("redis.spdx.json").exists());

    // The symbol check: output exactly as shown.
    for prefix in
        ["depclose-cli -r /usr/lib/python3/dist-packages/yaml/", "depclose-cli --require 'glibc<=2.28' /usr/bin/ls"]
    {
        let cmd = find(prefix);
        let (code, shown) = if prefix.contains("--require") {
            // The README shows the first lines and `...`.
            let shown: Vec<String> = shown_output(&cmd).into_iter().take_while(|l| l != "...").collect();
            (1, shown)
        } else {
            (0, shown_output(&cmd))
        };
        let o = run(&format!("{cmd}; exit ${{PIPESTATUS[0]}}"), code);
        ran.borrow_mut().insert(cmd.clone());
        let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        let got: Vec<&str> = text.lines().take(shown.len()).collect();
        assert_eq!(got, shown, "{cmd}");
    }

    // Nothing left out: each command ran here or is run by another suite.
    let elsewhere: BTreeSet<&str> = ELSEWHERE.iter().map(|(c, _)| *c).collect();
    for c in &commands {
        let c = c.split(" #").next().unwrap().trim();
        let done = ran.borrow().iter().any(|r| r.split(" #").next().unwrap().trim() == c) || elsewhere.contains(c);
        assert!(done || c == "depclose-cli [OPTIONS] FILE...", "README command not tested: {c}");
    }
}

/// The right-hand column of the README's `ldd /bin/ls` / `depclose-cli /bin/ls` table: each
/// `NAME => PATH` (the `…` elisions cut off).
fn shown_output_side_by_side() -> Vec<String> {
    let b = blocks("text").into_iter().find(|b| b.contains("$ depclose-cli /bin/ls")).unwrap();
    b.lines()
        .skip(1)
        .filter_map(|l| l.trim_start().split(" (0x").next())
        .filter(|l| !l.contains("vdso") && !l.is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}
