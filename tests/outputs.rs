//! Issue 15, "Outputs you can trust": each test pins one point of the issue through the
//! CLI (`issue_15_<n>_...`), and the fault tests of its "done when" (SIGTERM at random
//! moments of a large write, a full disk on a small tmpfs).
//!
//! Run with `cargo test --all-features --test outputs` (as root for the chroot and tmpfs
//! tests; they are skipped otherwise). `DEPCLOSE_CLI` runs another build of the CLI (to show
//! that a test fails on an older one).
#![cfg(feature = "cli")]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::chroot::{chroot_cmd, is_root, out_text};
use common::{cli, stderr};

/// Names in a directory, sorted (temporary files included: `.NAME.depclose-XXXXXX.tmp`).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A failed run: exit 2, one line on stderr that contains each of `parts`.
fn assert_usage_error(o: &Output, parts: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{}", out_text(o));
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    for p in parts {
        assert!(err.contains(p), "{p:?} not in: {err}");
    }
}

/// A tiny root: `/t` (the host's `true`) at the top level with its libraries, `/x/c` a
/// configuration file in a top-level directory.
fn small_root(dir: &Path) -> PathBuf {
    let r = dir.join("root");
    for d in ["x", "lib64", "lib/x86_64-linux-gnu"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::copy("/bin/true", r.join("t")).unwrap();
    fs::copy("/lib64/ld-linux-x86-64.so.2", r.join("lib64/ld-linux-x86-64.so.2")).unwrap();
    fs::copy("/lib/x86_64-linux-gnu/libc.so.6", r.join("lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    fs::write(r.join("x/c"), "setting=1\n").unwrap();
    r
}

fn tar_members(p: &Path) -> Vec<Vec<u8>> {
    let mut a = tar::Archive::new(fs::File::open(p).unwrap());
    a.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect()
}

/// Point 1: a program and an `--add` directory at the top level of a root are valid
/// (this failed with `//x: invalid rootfs entry: not an absolute canonical path`); the
/// rootfs runs the program in a chroot.
#[test]
fn issue_15_1_top_level_root_entries() {
    let t = tempfile::tempdir().unwrap();
    let r = small_root(t.path());
    let out = t.path().join("r.tar");
    let o = cli().arg("--root").arg(&r).args(["/t", "--add", "/x", "--tar"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    assert!(!stderr(&o).contains("//"), "{}", stderr(&o));
    let names = tar_members(&out);
    for want in [&b"t"[..], b"x/", b"x/c", b"lib64/ld-linux-x86-64.so.2"] {
        assert!(names.iter().any(|n| n == want), "{} missing: {names:?}", String::from_utf8_lossy(want));
    }
    if !is_root() {
        return;
    }
    let d = t.path().join("d");
    let o = cli().arg("--root").arg(&r).args(["/t", "--add", "/x", "--dir"]).arg(&d).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    let run = chroot_cmd().arg(&d).arg("/t").output().unwrap();
    assert!(run.status.success(), "/t in the chroot: {}", out_text(&run));
    assert_eq!(fs::read(d.join("x/c")).unwrap(), b"setting=1\n");
}

/// Point 2: two outputs naming one file are a usage error, whatever the spelling; nothing
/// is written.
#[test]
fn issue_15_2_outputs_that_are_one_file() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    fs::create_dir(w.join("sub")).unwrap();
    let cases: &[&[&str]] = &[
        &["--tar", "s.tar", "--manifest", "s.tar"],
        &["--tar", "s.tar", "--manifest", "./s.tar"],
        &["--tar", "s.tar", "--manifest", "sub/../s.tar"],
        &["--tar", "s.tar", "--sbom", "s.tar"],
        &["--tar", "s.tar", "--dockerfile", "s.tar"],
        &["--tar", "s.tar", "--oci-archive", "s.tar"],
        &["--tar", "d/s.tar", "--dir", "d"],
        &["--manifest", "o/m.json", "--oci-layout", "o"],
        &["--dir", "d", "--oci-layout", "d"],
    ];
    for args in cases {
        let o = cli().current_dir(w).arg("/bin/true").args(*args).output().unwrap();
        assert_usage_error(&o, &[]);
        let err = stderr(&o);
        assert!(err.contains("name the same file") || err.contains("would be written inside"), "{args:?}: {err}");
        assert_eq!(listing(w), ["sub"], "{args:?}: something was written");
    }
    // Existing outputs are compared by inode: two hard links are one file.
    fs::write(w.join("m.tar"), "old").unwrap();
    fs::hard_link(w.join("m.tar"), w.join("other")).unwrap();
    let o = cli().current_dir(w).args(["/bin/true", "--tar", "m.tar", "--manifest", "other"]).output().unwrap();
    assert_usage_error(&o, &["other", "--tar and --manifest"]);
    assert_eq!(fs::read(w.join("m.tar")).unwrap(), b"old");
}

/// Point 3: an output may not replace an input: the program, an `--add` file, a library,
/// or a hard link to one of them. The input is untouched and nothing is written.
#[test]
fn issue_15_3_outputs_never_replace_inputs() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path();
    fs::copy("/bin/true", w.join("p.tar")).unwrap();
    fs::write(w.join("d.tar"), "data").unwrap();
    let p_before = fs::read(w.join("p.tar")).unwrap();
    let d = w.join("d.tar");
    let cases: Vec<Vec<&OsStr>> = vec![
        vec!["./p.tar".as_ref(), "--tar".as_ref(), "p.tar".as_ref()],
        vec!["./p.tar".as_ref(), "--manifest".as_ref(), "./p.tar".as_ref()],
        vec!["/bin/true".as_ref(), "--add".as_ref(), d.as_os_str(), "--tar".as_ref(), "d.tar".as_ref()],
        vec!["/bin/true".as_ref(), "--add".as_ref(), w.as_os_str(), "--sbom".as_ref(), "d.tar".as_ref()],
    ];
    for args in &cases {
        let o = cli().current_dir(w).args(args).output().unwrap();
        assert_usage_error(&o, &["would overwrite the input"]);
        assert_eq!(listing(w), ["d.tar", "p.tar"], "{args:?}");
        assert_eq!(fs::read(w.join("p.tar")).unwrap(), p_before);
        assert_eq!(fs::read(w.join("d.tar")).unwrap(), b"data");
    }
    // A hard link to a library of the closure is that library.
    let libc = fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
    if fs::hard_link(&libc, w.join("out.tar")).is_ok() {
        let size = fs::metadata(&libc).unwrap().len();
        let o = cli().current_dir(w).args(["/bin/true", "--tar", "out.tar"]).output().unwrap();
        assert_usage_error(&o, &["out.tar", "would overwrite the input"]);
        assert_eq!(fs::metadata(&libc).unwrap().len(), size);
        fs::remove_file(w.join("out.tar")).unwrap();
    }
}

/// A directory holding one file of `mib` MiB of incompressible bytes: a write that takes a
/// while.
fn big_tree(dir: &Path, mib: usize) -> PathBuf {
    let d = dir.join("big");
    fs::create_dir(&d).unwrap();
    let mut data = vec![0u8; mib << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    fs::write(d.join("blob"), &data).unwrap();
    d
}

/// Start a write of `big` to `out/o.tar.gz`, its manifest `out/m.json` and the directory
/// `out/d`, wait until the first temporary file exists, then `delay` more, then send `sig`.
/// Returns the exit status.
fn signal_during_write(big: &Path, out: &Path, sig: i32, delay: Duration) -> std::process::ExitStatus {
    let mut child = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(big)
        .arg("--tar")
        .arg(out.join("o.tar.gz"))
        .arg("--manifest")
        .arg(out.join("m.json"))
        .arg("--dir")
        .arg(out.join("d"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while listing(out).is_empty() && start.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(delay);
    // SAFETY: signalling our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as i32, sig) };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let st = child.wait().unwrap();
    if st.code() == Some(128 + sig) {
        let last = err.lines().last().unwrap_or("");
        assert!(last.contains(&format!("interrupted by signal {sig}")), "{err}");
    }
    st
}

/// Point 4: SIGINT, SIGTERM and SIGHUP during the write of a large archive: exit status
/// 128 + the signal, no temporary file and nothing at the final names.
#[test]
fn issue_15_4_signals_remove_temporary_files() {
    let t = tempfile::tempdir().unwrap();
    let big = big_tree(t.path(), 96);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let out = t.path().join(format!("out{sig}"));
        fs::create_dir(&out).unwrap();
        let st = signal_during_write(&big, &out, sig, Duration::from_millis(50));
        assert_eq!(st.code(), Some(128 + sig), "signal {sig}: {st:?}");
        assert!(listing(&out).is_empty(), "signal {sig}: left {:?}", listing(&out));
    }
}

/// Point 4 for the image outputs: SIGINT while an OCI archive and layout are written.
#[test]
fn issue_15_4_signals_during_image_outputs() {
    let t = tempfile::tempdir().unwrap();
    let big = big_tree(t.path(), 64);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut child = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&big)
        .arg("--oci-archive")
        .arg(out.join("image.tar"))
        .arg("--oci-layout")
        .arg(out.join("layout"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while listing(&out).is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: signalling our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130), "{st:?}");
    assert!(listing(&out).is_empty(), "left {:?}", listing(&out));
}

/// Done-when 3: SIGTERM at 20 random moments of a large write: each run either finished
/// (exit 0, a complete archive and manifest, nothing else) or left nothing at all.
#[test]
fn issue_15_fault_sigterm_at_random_moments() {
    let t = tempfile::tempdir().unwrap();
    let big = big_tree(t.path(), 24);
    let reference = t.path().join("ref");
    fs::create_dir(&reference).unwrap();
    let o = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&big)
        .arg("--tar")
        .arg(reference.join("o.tar.gz"))
        .arg("--manifest")
        .arg(reference.join("m.json"))
        .arg("--dir")
        .arg(reference.join("d"))
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    let start = Instant::now();
    let _ = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&big)
        .arg("--tar")
        .arg(t.path().join("timing.tar.gz"))
        .arg("--dir")
        .arg(t.path().join("timing"))
        .output();
    let span = start.elapsed().as_micros() as u64;
    let mut seed: u64 = std::process::id() as u64 | 1;
    let (mut finished, mut stopped) = (0, 0);
    for run in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % (span + 1));
        let out = t.path().join(format!("run{run}"));
        fs::create_dir(&out).unwrap();
        let st = signal_during_write(&big, &out, libc::SIGTERM, delay);
        let left = listing(&out);
        if st.code() == Some(0) {
            finished += 1;
            assert_eq!(left, ["d", "m.json", "o.tar.gz"], "run {run}");
            let blob = Path::new("d").join(big.strip_prefix("/").unwrap()).join("blob");
            for f in [Path::new("m.json"), Path::new("o.tar.gz"), &blob] {
                let (got, want) = (fs::read(out.join(f)).unwrap(), fs::read(reference.join(f)).unwrap());
                assert!(got == want, "run {run}: {} differs", f.display());
            }
        } else {
            stopped += 1;
            // Exit 143, or killed by the signal before any output was begun.
            assert!(st.code() == Some(143) || st.signal() == Some(libc::SIGTERM), "run {run}: {st:?}");
            assert!(left.is_empty(), "run {run} ({st:?}, after {delay:?}): left {left:?}");
        }
    }
    eprintln!("{finished} runs finished, {stopped} interrupted");
    assert!(stopped > 0, "no run was interrupted ({finished} finished)");
}

/// A tmpfs of `size` mounted at `dir` (unmounted on drop).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output();
        assert!(o.as_ref().map(|o| o.status.success()).unwrap_or(false), "mount tmpfs: {o:?}");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fill a file system until it is full.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0xa5u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// Point 7 and done-when 3: outputs are committed together. With the manifest's directory
/// full (a small output, flushed only when the outputs are committed), none of the archive,
/// Dockerfile (and its `.dockerignore`), directory, OCI layout and OCI archive (on a healthy
/// disk) remains. (The issue had the Dockerfile on the full disk; a Dockerfile must now be
/// beside or above its tarball.)
/// a full disk under every output leaves nothing either; `--dir` on an existing non-empty
/// directory leaves no other output. Point 10: the full disk under `--dir` names the output.
#[test]
fn issue_15_7_outputs_are_committed_together() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let ok = t.path().join("ok");
    fs::create_dir(&ok).unwrap();
    let full = Tmpfs::new(&t.path().join("full"), "256k");
    fill(&full.0);
    let o = cli()
        .arg("/bin/true")
        .arg("--tar")
        .arg(ok.join("o.tar"))
        .arg("--dockerfile")
        .arg(ok.join("Dockerfile"))
        .arg("--dir")
        .arg(ok.join("d"))
        .arg("--oci-layout")
        .arg(ok.join("layout"))
        .arg("--oci-archive")
        .arg(ok.join("image.tar"))
        .arg("--manifest")
        .arg(full.0.join("m.json"))
        .output()
        .unwrap();
    assert_usage_error(&o, &["m.json", "No space left on device"]);
    assert!(listing(&ok).is_empty(), "left {:?}", listing(&ok));
    assert_eq!(listing(&full.0), ["filler"]);

    // A small tmpfs under every output: the archive does not fit.
    let small = Tmpfs::new(&t.path().join("small"), "2m");
    let big = big_tree(t.path(), 3);
    let o = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&big)
        .arg("--tar")
        .arg(small.0.join("o.tar"))
        .arg("--manifest")
        .arg(small.0.join("m.json"))
        .output()
        .unwrap();
    assert_usage_error(&o, &["o.tar", "No space left on device"]);
    assert!(listing(&small.0).is_empty(), "left {:?}", listing(&small.0));
    // The directory output alone: the error names the output directory (and the entry).
    let o = cli().arg("/bin/true").arg("--add").arg(&big).arg("--dir").arg(small.0.join("d")).output().unwrap();
    let want = format!("{}: writing", small.0.join("d").display());
    assert_usage_error(&o, &[&want, "No space left on device"]);
    assert!(listing(&small.0).is_empty(), "left {:?}", listing(&small.0));

    // `--dir X` on a non-empty X: no other output.
    let x = t.path().join("x");
    fs::create_dir(&x).unwrap();
    fs::write(x.join("keep"), "k").unwrap();
    let o = cli().arg("/bin/true").arg("--tar").arg(ok.join("o.tar")).arg("--dir").arg(&x).output().unwrap();
    assert_usage_error(&o, &["not empty"]);
    assert!(listing(&ok).is_empty(), "left {:?}", listing(&ok));
    assert_eq!(listing(&x), ["keep"]);
}

/// `path_from_json` as the README describes it: `FIELD_bytes` (base64) when present, else
/// the string. Decoded here independently of the library.
fn exact_path(entry: &serde_json::Value, field: &str) -> Vec<u8> {
    if let Some(b) = entry.get(format!("{field}_bytes")).and_then(|v| v.as_str()) {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
        for c in b.trim_end_matches('=').bytes() {
            acc = (acc << 6) | alphabet.iter().position(|a| *a == c).expect("base64") as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        return out;
    }
    entry[field].as_str().expect("a string").as_bytes().to_vec()
}

/// Point 5: names that are not UTF-8 are kept byte-exact in the manifest and the JSON:
/// `x\xff` and `x\xfe` are two entries; every byte 0x01-0xff but `/` round-trips, for file
/// names and symlink targets, and the manifest lists exactly the archive's members.
#[test]
fn issue_15_5_names_are_byte_exact() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("names");
    fs::create_dir(&d).unwrap();
    let mut want: Vec<Vec<u8>> = Vec::new();
    for b in (1u8..=255).filter(|b| *b != b'/') {
        let name = [b'n', b];
        fs::write(d.join(OsStr::from_bytes(&name)), [b]).unwrap();
        want.push(name.to_vec());
    }
    fs::write(d.join(OsStr::from_bytes(b"x\xff")), "ff").unwrap();
    fs::write(d.join(OsStr::from_bytes(b"x\xfe")), "fe").unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"x\xff"), d.join("link")).unwrap();
    let tar = t.path().join("o.tar");
    let man = t.path().join("m.json");
    let o = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&d)
        .arg("--tar")
        .arg(&tar)
        .arg("--manifest")
        .arg(&man)
        .args(["--format", "json", "--runtime", "none"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&man).unwrap()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for entries in [&doc["entries"], &json["manifest"]["entries"]] {
        let paths: Vec<Vec<u8>> = entries.as_array().unwrap().iter().map(|e| exact_path(e, "path")).collect();
        let mut prefix = d.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        for n in &want {
            let full = [&prefix[..], n].concat();
            assert!(paths.contains(&full), "{} missing", String::from_utf8_lossy(&full));
        }
        let ff = [&prefix[..], b"x\xff"].concat();
        let fe = [&prefix[..], b"x\xfe"].concat();
        assert!(paths.contains(&ff) && paths.contains(&fe));
        let link = entries.as_array().unwrap().iter().find(|e| e["path"].as_str().unwrap().ends_with("/link")).unwrap();
        assert_eq!(exact_path(link, "target"), b"x\xff");
        // Exactly the archive's members (the archive's names are relative).
        let mut members: Vec<Vec<u8>> = tar_members(&tar)
            .into_iter()
            .map(|m| {
                let m = m.strip_suffix(b"/").map(<[u8]>::to_vec).unwrap_or(m);
                [&b"/"[..], &m].concat()
            })
            .collect();
        members.sort();
        let mut listed = paths.clone();
        listed.sort();
        assert_eq!(listed, members);
    }
    // The JSON's closures too: a program whose name is not UTF-8.
    let prog = t.path().join(OsStr::from_bytes(b"prog\xff\x80"));
    fs::copy("/bin/true", &prog).unwrap();
    let o = cli().arg(&prog).args(["--format", "json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &json["closures"][0];
    assert_eq!(exact_path(c, "input"), prog.as_os_str().as_bytes());
    assert!(c["input"].as_str().unwrap().ends_with("prog\u{fffd}\u{fffd}"));
    let first = &c["objects"][0]["location"];
    assert_eq!(exact_path(first, "path"), prog.as_os_str().as_bytes(), "{first}");
    // UTF-8 names keep plain strings and no `_bytes` sibling.
    let plain = doc["entries"].as_array().unwrap().iter().find(|e| e["path"] == "/usr/bin/true");
    if let Some(p) = plain {
        assert!(p.get("path_bytes").is_none());
    }
}

/// Point 6: a 10 GiB sparse file under an `--add` directory is refused at once with a clear
/// message (above `--max-file-size`, named as sparse), before anything is read or written;
/// a lower `--max-file-size` refuses an ordinary file too.
#[test]
fn issue_15_6_large_and_sparse_files_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    fs::create_dir(&d).unwrap();
    let f = fs::File::create(d.join("sparse")).unwrap();
    f.set_len(10 << 30).unwrap();
    {
        use std::os::unix::fs::FileExt;
        f.write_at(&[1u8; 4096], 5 << 30).unwrap();
    }
    if f.metadata().unwrap().blocks() * 512 > 1 << 30 {
        eprintln!("skipped: the file system has no sparse files");
        return;
    }
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let start = Instant::now();
    let o = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&d)
        .arg("--tar")
        .arg(out.join("o.tar.gz"))
        .arg("--manifest")
        .arg(out.join("m.json"))
        .output()
        .unwrap();
    let sparse = d.join("sparse");
    assert_usage_error(&o, &[&sparse.display().to_string(), "10737418240 bytes", "sparse", "--max-file-size"]);
    assert!(start.elapsed() < Duration::from_secs(30), "the file was read: {:?}", start.elapsed());
    assert!(listing(&out).is_empty());
    // The JSON's manifest would hash it: refused the same way.
    let o = cli().arg("/bin/true").arg("--add").arg(&d).args(["--format", "json"]).output().unwrap();
    assert_usage_error(&o, &[&sparse.display().to_string(), "sparse"]);
    assert!(o.stdout.is_empty());
    let small = d.join("small");
    fs::remove_file(&sparse).unwrap();
    fs::write(&small, vec![7u8; 5000]).unwrap();
    let o = cli()
        .arg("/bin/true")
        .arg("--add")
        .arg(&d)
        .args(["--max-file-size", "4K", "--tar"])
        .arg(out.join("o.tar"))
        .output()
        .unwrap();
    assert_usage_error(&o, &[&small.display().to_string(), "5000 bytes", "4096 bytes"]);
    assert!(listing(&out).is_empty());
}

/// Point 6: a progress line (bytes done / total) on stderr when it is a terminal and the
/// write is long; nothing of it when stderr is not a terminal.
#[test]
fn issue_15_6_progress_only_on_a_terminal() {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).exists());
    let Some(script) = script else {
        eprintln!("skipped: script(1) is needed for a terminal");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let big = big_tree(t.path(), 80);
    let bin = std::env::var_os("DEPCLOSE_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_depclose-cli")));
    let cmd = format!(
        "{} /bin/true --add {} --tar {} --quiet",
        bin.display(),
        big.display(),
        t.path().join("o.tar.gz").display()
    );
    let log = t.path().join("typescript");
    let o = Command::new(script).args(["-qec", &cmd]).arg(&log).stdin(Stdio::null()).output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let text = String::from_utf8_lossy(&fs::read(&log).unwrap()).into_owned();
    let line = text.split('\r').find(|l| l.starts_with("depclose-cli: writing: ") && l.ends_with(" MiB"));
    assert!(line.is_some_and(|l| l.contains(" / ")), "no progress line: {text:?}");
    fs::remove_file(t.path().join("o.tar.gz")).unwrap();
    let o = cli().arg("/bin/true").arg("--add").arg(&big).arg("--tar").arg(t.path().join("o.tar.gz")).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("writing"), "{}", stderr(&o));
}

/// `/bin/true` with `n` more DT_NEEDED names (none of which exists).
fn many_needed(dir: &Path, n: usize) -> PathBuf {
    let exe = dir.join("many");
    fs::copy("/bin/true", &exe).unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(8000) {
        let mut c = Command::new("patchelf");
        for i in chunk {
            c.arg("--add-needed").arg(format!("libn{i:06}.so"));
        }
        let st = c.arg(&exe).status();
        assert!(st.map(|s| s.success()).unwrap_or(false), "patchelf is needed");
    }
    exe
}

/// Point 9: printing is linear in the closure's size. 64,000 DT_NEEDED names (near the
/// reader's limit of 65,536 dynamic entries): `ldd` and `tree` print every one in request
/// order within a CPU-time limit of three times what resolving them costs (`paths`, linear
/// before and after), which the quadratic printer (5.1 s in a release build) cannot meet.
/// CPU time, not wall time: the machine's load does not matter.
#[test]
fn issue_15_9_printing_is_linear() {
    if common::hermetic_skip("patchelf") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let n = 64_000;
    let exe = many_needed(t.path(), n);
    // The resolution alone (paths output, linear before and after) sets the scale.
    let cpu = |args: &[&str]| -> (Output, Duration) {
        let mut c = cli();
        c.arg(&exe).args(args);
        // SAFETY: getrusage of the children after they were reaped.
        let before = children_cpu();
        let o = c.output().unwrap();
        (o, children_cpu().saturating_sub(before))
    };
    let dynamic = Command::new("readelf").arg("-dW").arg(&exe).output().unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout).into_owned();
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .filter(|n| n.starts_with("libn"))
        .collect();
    assert_eq!(needed.len(), n);
    let (paths, base) = cpu(&["--format", "paths"]);
    assert_eq!(paths.status.code(), Some(1));
    for format in ["ldd", "tree"] {
        let limit = (base * 3).max(Duration::from_secs(10));
        let mut c = cli();
        c.arg(&exe).args(["--format", format]);
        let secs = limit.as_secs() + 1;
        // SAFETY: setrlimit in the child between fork and exec (async-signal-safe).
        unsafe {
            c.pre_exec(move || {
                let l = libc::rlimit { rlim_cur: secs, rlim_max: secs + 1 };
                libc::setrlimit(libc::RLIMIT_CPU, &l);
                Ok(())
            });
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{format}: over {secs} s of CPU (resolution: {base:?}): {:?}", o.status);
        let text = String::from_utf8_lossy(&o.stdout);
        let printed: Vec<&str> = text.split(|c: char| c.is_whitespace()).filter(|w| w.starts_with("libn")).collect();
        assert_eq!(printed, needed, "{format}: every name, in DT_NEEDED order");
    }
}

fn children_cpu() -> Duration {
    // SAFETY: a zeroed rusage is valid, filled by getrusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |v: libc::timeval| Duration::from_secs(v.tv_sec as u64) + Duration::from_micros(v.tv_usec as u64);
    t(u.ru_utime) + t(u.ru_stime)
}

/// Point 10: an I/O error is one line with its cause once.
#[test]
fn issue_15_10_errors_name_their_cause_once() {
    let t = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<PathBuf>, &str)> = vec![
        (vec!["--tar".into(), t.path().join("nodir/o.tar")], "No such file or directory"),
        (vec!["--manifest".into(), t.path().join("nodir/m.json")], "No such file or directory"),
        (vec!["--add".into(), t.path().join("absent")], "No such file or directory"),
    ];
    for (args, cause) in cases {
        let o = cli().arg("/bin/true").args(&args).arg("--dir").arg(t.path().join("d")).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches(cause).count(), 1, "{args:?}: the cause repeated: {err}");
        assert!(!t.path().join("d").exists());
    }
}
