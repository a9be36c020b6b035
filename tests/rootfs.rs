//! The rootfs works: build it with `depclose-cli`, unpack it into an empty directory with the
//! system `tar`, `chroot` into it and run the real program.
//!
//! - `redis-server` answers `PING` from a `redis-cli` outside the chroot;
//! - `curl` (about 30 libraries) prints its version and reads a `file://` URL of an added file;
//! - `python3` with `--add /usr/lib/python3.11` imports `json` and `ssl`: `_ssl` is an
//!   extension module, so `libssl` comes in only because the ELF files under added
//!   directories are closed over too;
//! - `git` (if installed under /usr/local) with its `git-core` directory: 140 hard links.
//!
//! Needs root (for `chroot`) and the Debian packages `redis-server redis-tools curl python3`;
//! the tests are skipped, with a message, when not run as root. Run with
//! `cargo test --features cli --test rootfs`.
#![cfg(feature = "cli")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::chroot::{chroot_cmd, is_root, out_text, redis_answers_ping};

macro_rules! require_root {
    () => {
        if common::hermetic_skip("root (chroot, mount) and Debian packages") {
            return;
        }
        if !is_root() {
            eprintln!("skipped: chroot needs root");
            return;
        }
    };
}

fn require(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: apt-get install {package}");
}

/// Build the tarball `name` (`.tar` or `.tar.gz`) for `args` in a fresh directory and
/// unpack it into `root/`. (Only redis goes through gzip: flate2 at level 9 is slow in
/// unoptimised test builds, and the compressed path is the same code.)
fn rootfs(name: &str, args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let tarball = t.path().join(name);
    let o = Command::new(env!("CARGO_BIN_EXE_depclose-cli"))
        .env_remove("LD_LIBRARY_PATH")
        .args(args)
        .arg("--tar")
        .arg(&tarball)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "depclose-cli {args:?}: {}", out_text(&o));
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    let x = Command::new("tar").arg("--numeric-owner").arg("-xpf").arg(&tarball).arg("-C").arg(&root).output().unwrap();
    assert!(x.status.success(), "tar -x: {}", out_text(&x));
    (t, root)
}

fn chroot(root: &Path, argv: &[&str]) -> Output {
    chroot_cmd().arg(root).args(argv).env_clear().env("PATH", "/usr/bin:/bin").output().unwrap()
}

#[test]
fn redis_server_answers_ping_from_its_rootfs() {
    require_root!();
    require("/usr/bin/redis-server", "redis-server");
    require("/usr/bin/redis-cli", "redis-tools");
    let (_t, root) = rootfs("rootfs.tar.gz", &["/usr/bin/redis-server", "--runtime", "none"]);
    // Only the closure is there (--runtime none): no shell, no /etc.
    assert!(!root.join("bin/sh").exists() && !root.join("etc").exists());
    redis_answers_ping(&root);
}

#[test]
fn curl_runs_from_its_rootfs() {
    require_root!();
    require("/usr/bin/curl", "curl");
    // /etc/os-release is a symlink to ../usr/lib/os-release: both come.
    let (_t, root) = rootfs("rootfs.tar", &["/usr/bin/curl", "--add", "/etc/os-release"]);
    let o = chroot(&root, &["/usr/bin/curl", "--version"]);
    assert!(o.status.success(), "{}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("curl "), "{}", out_text(&o));
    let o = chroot(&root, &["/usr/bin/curl", "-sS", "file:///etc/os-release"]);
    assert!(o.status.success(), "{}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ID=debian"), "{}", out_text(&o));
}

#[test]
fn python3_with_its_stdlib_imports_json_and_ssl() {
    require_root!();
    require("/usr/bin/python3", "python3");
    let stdlib = fs::read_dir("/usr/lib")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("json/__init__.py").exists() && p.join("lib-dynload").is_dir())
        .max()
        .expect("a python3 standard library under /usr/lib");
    let (_t, root) = rootfs("rootfs.tar", &["/usr/bin/python3", "--add", stdlib.to_str().unwrap()]);
    let code = "import json, ssl, hashlib; print(json.dumps([1]), ssl.OPENSSL_VERSION.split()[0], hashlib.sha256(b'').hexdigest()[:8])";
    let o = chroot(&root, &["/usr/bin/python3", "-c", code]);
    assert!(o.status.success(), "{}", out_text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[1] OpenSSL e3b0c442\n");
}

#[test]
fn git_with_hard_linked_commands_inits_a_repository() {
    require_root!();
    let git = "/usr/local/bin/git";
    if !Path::new(git).exists() || !Path::new("/usr/local/libexec/git-core").is_dir() {
        eprintln!("skipped: no git under /usr/local");
        return;
    }
    let (_t, root) = rootfs("rootfs.tar", &[git, "--add", "/usr/local/libexec/git-core"]);
    let main = fs::metadata(root.join("usr/local/bin/git")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(main.nlink() > 100, "git-core commands are hard links to git: {}", main.nlink());
    // A container runtime provides /dev; git opens /dev/null.
    fs::create_dir_all(root.join("dev")).unwrap(); // the dirs pack made the mount point
    let st = Command::new("mknod").arg(root.join("dev/null")).args(["c", "1", "3"]).status().unwrap();
    assert!(st.success());
    let o = chroot(&root, &[git, "-c", "init.defaultBranch=main", "init", "-q", "/repo"]);
    assert!(o.status.success(), "{}", out_text(&o));
    let o = chroot(&root, &[git, "-C", "/repo", "status", "--porcelain=v2", "--branch"]);
    assert!(o.status.success(), "{}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("# branch.head main"), "{}", out_text(&o));
}
