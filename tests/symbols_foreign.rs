//! Symbol checks in foreign-architecture roots (s390x: 64-bit big-endian; arm64), against
//! the root's own loader under qemu-user-static in a chroot: for every ELF file of the root the
//! loader traces, the `ldd -r` lines depclose prints (`symcheck`, closure computed in the root)
//! equal the lines the root's `ld.so` prints with `LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes
//! LD_BIND_NOW=yes`, line for line.
//!
//! The roots are those tests/foreign_roots.rs builds with scripts/make-foreign-root.sh (in
//! `$DEPCLOSE_ROOTS_CACHE/roots/ARCH`, default `/var/cache/depclose-roots`). Without them (or
//! without root privileges for chroot) the test says so loudly and passes, unless
//! `DEPCLOSE_REQUIRE_FOREIGN=1`, as tests/foreign_roots.rs does.
#![cfg(feature = "cli")] // runs depclose-cli

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use depclose::symcheck::SymbolCache;
use depclose::{Hwcaps, OriginMode, Resolver};
use rayon::prelude::*;

fn cache_dir() -> PathBuf {
    common::roots_cache()
}

fn skip(what: &str, why: &str) {
    if std::env::var_os("DEPCLOSE_REQUIRE_FOREIGN").is_some_and(|v| v == "1") {
        panic!("{what}: {why}");
    }
    eprintln!("\n*** SKIPPED {what}: {why} ***\n");
}

fn run_in_chroot(root: &Path, argv: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let root = root.to_path_buf();
    // SAFETY: only async-signal-safe system calls (chroot, chdir) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir("/")
        });
    }
    cmd.output().expect("run in a chroot")
}

fn elf_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().filter_map(Result::ok) {
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(dir).unwrap();
        if rel.starts_with(".depclose") {
            continue;
        }
        let mut magic = [0u8; 4];
        if fs::File::open(e.path()).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF" {
            out.push(format!("/{}", rel.display()));
        }
    }
    out.sort();
    out
}

/// `ld.so --help`: the glibc-hwcaps subdirectories marked "supported, searched", in order.
fn active_hwcaps(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Subdirectories of glibc-hwcaps directories") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if line.contains("(supported, searched)") {
                out.push(line.split_whitespace().next().unwrap().to_string());
            }
        }
    }
    out
}

fn is_problem(line: &str) -> bool {
    line.starts_with("undefined symbol: ")
        || line.contains(": version `")
        || line.contains(": weak version `")
        || line.contains(": no version information available (required by ")
}

fn check_root(deb: &str, qemu: &str, ldso: &str, machine: u16) {
    let what = format!("symbols in the {deb} root");
    let dir = cache_dir().join("roots").join(deb);
    let q = format!("/.depclose/qemu-{qemu}-static");
    if !dir.join(&q[1..]).is_file() {
        return skip(&what, &format!("no root at {} (tests/foreign_roots.rs builds it)", dir.display()));
    }
    let help = run_in_chroot(&dir, &[&q, ldso, "--help"], &[]);
    if !help.status.success() {
        return skip(&what, &format!("the root's loader does not run: {}", String::from_utf8_lossy(&help.stderr)));
    }
    let hwcaps = active_hwcaps(&String::from_utf8_lossy(&help.stdout));
    let files = elf_files(&dir);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let theirs: Vec<Option<Vec<String>>> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let v = run_in_chroot(&dir, &[&q, ldso, "--verify", f], &[]);
                if !matches!(v.status.code(), Some(0 | 2)) {
                    return None;
                }
                let env = [("LD_TRACE_LOADED_OBJECTS", "1"), ("LD_WARN", "yes"), ("LD_BIND_NOW", "yes")];
                let out = run_in_chroot(&dir, &[&q, ldso, f], &env);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if stderr.contains("error while loading shared libraries") || stderr.contains("Inconsistency detected")
                {
                    return None;
                }
                Some(stderr.lines().filter(|l| is_problem(l)).map(str::to_string).collect())
            })
            .collect()
    });
    let mut b = Resolver::builder();
    b.root(&dir).origin(OriginMode::AsGiven).cwd(Some("/".as_ref()));
    b.hwcaps(if hwcaps.is_empty() { Hwcaps::None } else { Hwcaps::Subdirs(hwcaps) });
    let resolver = b.build().unwrap();
    let cache = SymbolCache::new();
    let (mut traced, mut with_problems, mut differ) = (0, 0, Vec::new());
    for (f, t) in files.iter().zip(&theirs) {
        let Some(t) = t else { continue };
        let Ok(c) = resolver.closure_in_root(f) else { continue };
        if c.fatal.is_some() || c.objects[0].file.machine != machine {
            continue;
        }
        traced += 1;
        with_problems += usize::from(!t.is_empty());
        let report = cache.check(&c, &resolver);
        assert!(report.unreadable.is_empty(), "{f}: {:?}", report.unreadable);
        let ours = report.ldd_lines(&c);
        if &ours != t {
            differ.push(format!("{f}:\n  depclose: {ours:?}\n  ld.so:    {t:?}"));
        }
    }
    eprintln!(
        "{what}: {} ELF files, {traced} traced, {with_problems} with problems, {} differ",
        files.len(),
        differ.len()
    );
    assert!(traced > 100, "{what}: only {traced} files traced");
    assert!(differ.is_empty(), "{what}: {} files differ:\n{}", differ.len(), differ.join("\n"));
}

#[test]
fn s390x_root_symbols_match_its_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_root("s390x", "s390x", "/lib/ld64.so.1", 22);
}

#[test]
fn arm64_root_symbols_match_its_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    check_root("arm64", "aarch64", "/lib/ld-linux-aarch64.so.1", 183);
}

/// A version missing in a big-endian root: libssh2 of the s390x root, in a rootfs of its
/// closure (written by depclose-cli) whose libcrypto.so.3 no longer defines OPENSSL_3.0.0
/// (its name patched in place to OPENSSL_3.0.X, hash unchanged, as a different build would
/// have it). The root's loader under qemu and depclose print the same version error and the
/// same unbound versioned references, line for line.
#[test]
fn s390x_missing_version_matches_its_loader() {
    if common::hermetic_skip("qemu-user-static, downloaded Debian packages and root (chroot)") {
        return;
    }
    let what = "missing version in an s390x rootfs";
    let src = cache_dir().join("roots/s390x");
    let q = "/.depclose/qemu-s390x-static";
    if !src.join(&q[1..]).is_file() {
        return skip(what, &format!("no root at {} (tests/foreign_roots.rs builds it)", src.display()));
    }
    let input = "/usr/lib/s390x-linux-gnu/libssh2.so.1.0.1";
    let tmp = tempfile::Builder::new().prefix("depclose-symforeign").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mini = tmp.path().join("root");
    let out = Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
        .arg("--root")
        .arg(&src)
        .arg("--dir")
        .arg(&mini)
        .arg(input)
        .output()
        .expect("run depclose-cli");
    assert!(out.status.success(), "depclose-cli --dir: {}", String::from_utf8_lossy(&out.stderr));
    fs::create_dir_all(mini.join(".depclose")).unwrap();
    fs::copy(src.join(&q[1..]), mini.join(&q[1..])).unwrap();
    let crypto = fs::canonicalize(mini.join("usr/lib/s390x-linux-gnu/libcrypto.so.3")).unwrap();
    let mut bytes = fs::read(&crypto).unwrap();
    let (from, to) = (b"OPENSSL_3.0.0\0", b"OPENSSL_3.0.X\0");
    let mut patched = 0;
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + to.len()].copy_from_slice(to);
            patched += 1;
        }
    }
    assert!(patched > 0, "OPENSSL_3.0.0 not found in libcrypto.so.3");
    fs::write(&crypto, &bytes).unwrap();

    let env = [("LD_TRACE_LOADED_OBJECTS", "1"), ("LD_WARN", "yes"), ("LD_BIND_NOW", "yes")];
    let run = run_in_chroot(&mini, &[q, "/lib/ld64.so.1", input], &env);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let theirs: Vec<String> = stderr.lines().filter(|l| is_problem(l)).map(str::to_string).collect();
    assert!(
        theirs.iter().any(|l| l.contains("version `OPENSSL_3.0.0' not found (required by"))
            && theirs.iter().any(|l| l.contains(", version OPENSSL_3.0.0\t(")),
        "the loader does not show the rule:\n{stderr}"
    );
    let mut b = Resolver::builder();
    b.root(&mini).origin(OriginMode::AsGiven).cwd(Some("/".as_ref())).hwcaps(Hwcaps::None);
    let resolver = b.build().unwrap();
    let c = resolver.closure_in_root(input).unwrap();
    let report = SymbolCache::new().check(&c, &resolver);
    assert!(report.is_fatal());
    assert_eq!(report.ldd_lines(&c), theirs, "depclose (left) and the s390x loader (right)");
}
