//! `depclose::script::shebang` against the kernel: each script is exec'd (`execve`, no
//! libc fallback to `/bin/sh`) inside a chroot that holds only the script and, at the
//! interpreter path depclose parsed, a static program that prints its argv. The kernel finds
//! that program only if depclose named the interpreter it uses, and the argv it passes shows
//! the argument it split off. A line depclose refuses must make the exec fail.
//!
//! Cases: hand-written lines (blanks, tabs, `\r`, NULs, lines that fill the 256-byte buffer)
//! and the first 256 bytes of every `#!` script in /usr/bin and /usr/sbin.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::script::{shebang, BINPRM_BUF_SIZE};

const PRINTER: &str = r#"
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        write(1, argv[i], strlen(argv[i]));
        write(1, "", 1);
    }
    return 0;
}
"#;

fn printer(dir: &Path) -> PathBuf {
    let c = dir.join("printer.c");
    std::fs::write(&c, PRINTER).unwrap();
    let out = dir.join("printer");
    let r = Command::new("gcc").args(["-static", "-O2", "-o"]).arg(&out).arg(&c).output().expect("cannot run gcc");
    assert!(r.status.success(), "gcc -static: {}", String::from_utf8_lossy(&r.stderr));
    out
}

/// `execve("/script", ["/script", "A1"], [])` inside `root`: the argv the interpreter got, or
/// the exec's errno.
fn kernel_exec(root: &Path) -> Result<Vec<Vec<u8>>, i32> {
    let root_c = CString::new(root.as_os_str().as_bytes()).unwrap();
    let mut cmd = Command::new("/nonexistent");
    // SAFETY: only async-signal-safe calls between fork and exec; nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(root_c.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let argv = [c"/script".as_ptr(), c"A1".as_ptr(), std::ptr::null()];
            let envp = [std::ptr::null()];
            libc::execve(c"/script".as_ptr(), argv.as_ptr(), envp.as_ptr());
            Err(std::io::Error::last_os_error())
        });
    }
    match cmd.output() {
        Ok(o) => {
            assert!(o.status.success(), "printer failed: {o:?}");
            let mut v: Vec<Vec<u8>> = o.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
            assert_eq!(v.pop(), Some(Vec::new()), "argv not NUL-terminated");
            Ok(v)
        }
        Err(e) => Err(e.raw_os_error().expect("an errno")),
    }
}

/// Run one script through the kernel and compare with depclose's parse.
fn check(work: &Path, printer: &Path, n: usize, content: &[u8]) -> Result<(), String> {
    let root = work.join(format!("root{n}"));
    std::fs::create_dir(&root).unwrap();
    let script = root.join("script");
    std::fs::write(&script, content).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let parsed = shebang(content);
    if let Some(s) = &parsed {
        let rel = s.interpreter.as_bytes();
        let rel = std::ffi::OsStr::from_bytes(rel.strip_prefix(b"/").unwrap_or(rel));
        let at = root.join(rel);
        if at.components().any(|c| c == std::path::Component::ParentDir) || at == script {
            return Ok(()); // not a case this harness can stage
        }
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::copy(printer, &at).unwrap();
    }
    let got = kernel_exec(&root);
    std::fs::remove_dir_all(&root).unwrap();
    let shown = String::from_utf8_lossy(&content[..content.len().min(80)]).into_owned();
    match (parsed, got) {
        (Some(s), Ok(argv)) => {
            let mut want = vec![s.interpreter.to_vec()];
            want.extend(s.arg.map(|a| a.to_vec()));
            want.push(b"/script".to_vec());
            want.push(b"A1".to_vec());
            if argv != want {
                return Err(format!("{shown:?}: kernel passed {argv:?}, depclose says {want:?}"));
            }
        }
        (None, Err(e)) if e == libc::ENOEXEC => {}
        // An empty interpreter name: the kernel tries to exec "" and fails otherwise.
        (None, Err(e)) if e == libc::EACCES || e == libc::ENOENT => {
            let blanks = content[2..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
            if content.get(2 + blanks).is_some_and(|&b| b != 0) {
                return Err(format!("{shown:?}: errno {e}, but the name is not empty"));
            }
        }
        (p, g) => return Err(format!("{shown:?}: depclose {p:?}, kernel {g:?}")),
    }
    Ok(())
}

fn hand_written() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b"#!/bin/sh\n"[..],
        b"#!/bin/sh",
        b"#! \t/bin/sh -e\t \nrest",
        b"#!/usr/bin/env python3 -u  x\n",
        b"#!/bin/sh\r\n",
        b"#!/bin/sh\0 -e\n",
        b"#!/bin/sh -e\0x\n",
        b"#!/bin/sh \0-e\n",
        b"#!/bin/sh\0\n",
        b"#!/bin/sh\t\t\n",
        b"#!/bin/sh\t-x -y\t\n",
        b"#!rel/interp arg\n",
        b"#!\n",
        b"#!   \t\n",
        b"#!",
        b"#! \0/bin/sh\n",
        b"#!\0",
        b"#!/bin/sh\x0b\n",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    // Around the buffer's end: a name that fills it, a name cut by it, an argument cut by it,
    // a blank exactly at the last byte, a newline exactly at the last byte.
    for len in [BINPRM_BUF_SIZE - 4, BINPRM_BUF_SIZE - 3, BINPRM_BUF_SIZE - 2, BINPRM_BUF_SIZE + 10] {
        let mut name = b"#!/".to_vec();
        name.extend(std::iter::repeat_n(b'n', len));
        v.push(name.clone());
        let mut blank = name.clone();
        blank.truncate(BINPRM_BUF_SIZE - 1);
        blank.push(b' ');
        blank.extend_from_slice(b"tail");
        v.push(blank);
        let mut nl = name.clone();
        nl.truncate(BINPRM_BUF_SIZE - 1);
        nl.push(b'\n');
        v.push(nl);
        let mut arg = b"#!/bin/sh ".to_vec();
        arg.extend(std::iter::repeat_n(b'a', len));
        v.push(arg);
    }
    v
}

fn real_scripts() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["/usr/bin", "/usr/sbin"] {
        let Ok(rd) = std::fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if !p.is_file() {
                continue;
            }
            let mut head = vec![0u8; BINPRM_BUF_SIZE];
            let n = match std::fs::File::open(&p).and_then(|mut f| std::io::Read::read(&mut f, &mut head)) {
                Ok(n) => n,
                Err(_) => continue,
            };
            head.truncate(n);
            if head.starts_with(b"#!") {
                out.push((p, head));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shebang_lines_as_the_kernel_reads_them() {
    if common::hermetic_skip("root (chroot: the kernel itself reads each #! line)") {
        return;
    }
    let t = tempfile::Builder::new().prefix("depclose-script").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let printer = printer(t.path());
    let mut failures = Vec::new();
    let cases = hand_written();
    for (n, c) in cases.iter().enumerate() {
        if let Err(e) = check(t.path(), &printer, n, c) {
            failures.push(e);
        }
    }
    let real = real_scripts();
    assert!(real.len() >= 10, "only {} scripts in /usr/bin and /usr/sbin", real.len());
    for (n, (path, head)) in real.iter().enumerate() {
        if let Err(e) = check(t.path(), &printer, cases.len() + n, head) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len() + real.len(), failures.join("\n"));
    // ldd is a bash script on Debian.
    let ldd = real.iter().find(|(p, _)| p == Path::new("/usr/bin/ldd")).expect("/usr/bin/ldd is a script");
    assert_eq!(shebang(&ldd.1).unwrap().interpreter, "/bin/bash");
}
