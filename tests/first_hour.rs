//! A new user's first hour (issue #16): the messages, the summary line, the Dockerfile.
//!
//! Each test runs the real `depclose-cli` on this machine's programs; the oracles are the
//! real loader (`LD_DEBUG=libs`), the archive itself (`tar` crate) and a real image builder
//! (`podman build`, skipped with a banner where podman cannot run).
//!
//! Run with `cargo test --all-features --test first_hour`. Needs `patchelf`.
#![cfg(feature = "cli")]

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{cli, exe_needing_missing_lib, run, stderr, stdout};

/// A small rootfs directory of `/bin/true`, written by depclose-cli itself.
fn small_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let o = run(cli().args(["/bin/true", "--runtime", "none", "-q", "--dir"]).arg(&root));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    root
}

#[test]
fn argument_errors_are_one_line_in_the_tools_style() {
    for args in
        [&["--bogus", "/bin/true"][..], &["--format", "xml", "/bin/true"], &[], &["--threads", "many", "/bin/true"]]
    {
        let o = run(cli().args(args));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line expected: {err}");
        assert!(err.starts_with("depclose-cli: "), "{args:?}: {err}");
        assert!(!err.contains("error:"), "{args:?}: {err}");
    }
    // Clap's own words are kept.
    let o = run(cli().args(["--format", "xml", "/bin/true"]));
    assert!(stderr(&o).contains("invalid value 'xml' for '--format <FORMAT>'"), "{}", stderr(&o));
    assert!(stderr(&o).contains("ldd, tree, json, paths"), "{}", stderr(&o));
    // --help and --version still print on stdout and succeed.
    for flag in ["--help", "--version"] {
        let o = run(cli().arg(flag));
        assert_eq!(o.status.code(), Some(0), "{flag}");
        assert!(stdout(&o).contains("depclose-cli"), "{flag}: {}", stdout(&o));
    }
}

#[test]
fn why_without_a_match_exits_1() {
    let o = run(cli().args(["--why", "libnosuch.so.9", "/bin/true"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("depclose-cli: --why libnosuch.so.9"), "{}", stderr(&o));
    let o = run(cli().args(["--why", "libc.so.6", "/bin/true"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("/bin/true -> libc.so.6"), "{}", stdout(&o));
}

#[test]
fn root_takes_a_host_path_that_lies_inside_it() {
    let t = tempfile::tempdir().unwrap();
    let root = small_root(t.path());
    // An absolute symlink, as package trees have them: it means /opt/tool inside the root,
    // and nothing on the host.
    fs::create_dir_all(root.join("opt")).unwrap();
    fs::copy(root.join("usr/bin/true"), root.join("opt/tool")).unwrap();
    std::os::unix::fs::symlink("/opt/tool", root.join("usr/bin/tool")).unwrap();
    let want = run(cli().arg("--root").arg(&root).arg("/usr/bin/tool"));
    assert_eq!(want.status.code(), Some(0), "{}", stderr(&want));
    assert!(stdout(&want).contains("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6"), "{}", stdout(&want));
    // As a shell completes it: absolute, and relative to the current directory.
    let host = root.join("usr/bin/tool");
    let o = run(cli().arg("--root").arg(&root).arg(&host).arg("--format").arg("json"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Read inside the root, as /usr/bin/tool, through the root's own link.
    let input = &v["closures"][0]["objects"][0]["location"];
    assert_eq!(input["path"], "/usr/bin/tool", "{v}");
    assert_eq!(input["realpath"], "/opt/tool", "{v}");
    let o = run(cli().current_dir(t.path()).args(["--root", "root", "root/usr/bin/tool"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&want));
    // The rootfs holds it where the root has it.
    let tar = t.path().join("tool.tar");
    let o = run(cli().arg("--root").arg(&root).arg(&host).arg("--tar").arg(&tar).arg("-q"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut a = tar::Archive::new(fs::File::open(&tar).unwrap());
    let names: Vec<String> =
        a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"usr/bin/tool".to_string()) && names.contains(&"opt/tool".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("root/usr")), "{names:?}");
}

#[test]
fn relative_file_under_root_names_cwd() {
    let t = tempfile::tempdir().unwrap();
    let root = small_root(t.path());
    let o = run(cli().current_dir(t.path()).arg("--root").arg(&root).arg("usr/bin/true"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("depclose-cli: usr/bin/true: "), "{err}");
    assert!(err.contains("--cwd"), "{err}");
    // With --cwd it is a path in the root.
    let o = run(cli().current_dir(t.path()).arg("--root").arg(&root).args(["--cwd", "/", "usr/bin/true"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn setuid_notes_only_when_a_rootfs_is_written() {
    let su = "/usr/bin/su";
    let mode = fs::metadata(su).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions())).unwrap_or(0);
    assert!(mode & 0o4000 != 0, "{su} is set-user-ID on Debian (login package)");
    let o = run(cli().args([su, "--format", "json"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("set-user-ID"), "no rootfs, no note: {}", stderr(&o));
    let t = tempfile::tempdir().unwrap();
    let o = run(cli().arg(su).arg("--tar").arg(t.path().join("su.tar")).arg("-q"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("note: /usr/bin/su is set-user-ID (mode 4755, kept)"), "{}", stderr(&o));
}

/// The loader's own account of a search: `LD_DEBUG=libs` prints `search cache=...` and
/// `search path=...` lines for each name in the order it takes the steps.
#[test]
fn missing_library_lists_the_cache_lookup_as_the_loader_does() {
    let t = tempfile::tempdir().unwrap();
    let exe = exe_needing_missing_lib(t.path());
    let real = Command::new(&exe).env("LD_DEBUG", "libs").env_remove("LD_LIBRARY_PATH").output().unwrap();
    let debug = String::from_utf8_lossy(&real.stderr).into_owned();
    let mut loader_steps: Vec<String> = Vec::new();
    let mut in_name = false;
    for l in debug.lines() {
        let l = l.split_once(':').map(|(_, r)| r.trim()).unwrap_or("");
        if l.starts_with("find library=") {
            in_name = l.starts_with("find library=libnotthere.so.1");
        } else if in_name && l.starts_with("search cache=") {
            loader_steps.push(format!("cache {}", &l["search cache=".len()..]));
        } else if in_name && l.starts_with("search path=") {
            loader_steps.push("path".into());
        }
    }
    assert!(loader_steps.iter().any(|s| s.starts_with("cache ")), "the loader asks the cache: {debug}");

    let o = run(cli().arg(&exe).args(["--format", "json"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tried = v["closures"][0]["missing"][0]["tried"].as_array().unwrap();
    let mut ours: Vec<String> = Vec::new();
    for a in tried {
        let step = match a["via"]["step"].as_str().unwrap() {
            "ld_cache" => {
                assert_eq!(a["rejection"], "not_in_cache", "{a}");
                format!("cache {}", a["path"].as_str().unwrap())
            }
            _ => "path".into(),
        };
        if ours.last() != Some(&step) {
            ours.push(step);
        }
    }
    assert_eq!(ours, loader_steps, "tried: {tried:?}");
    // And the tree says so.
    let o = run(cli().arg(&exe).args(["--format", "tree"]));
    assert!(stdout(&o).contains("tried /etc/ld.so.cache: no entry in the cache [ld.so.cache]"), "{}", stdout(&o));
}

/// What, where, entries, bytes, libraries, misses; nothing with `--quiet`.
#[test]
fn summary_line_after_writing_and_quiet() {
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("ls.tar");
    let o = run(cli().arg("/usr/bin/ls").arg("--tar").arg(&tar));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().find(|l| l.starts_with("depclose-cli: wrote ")).unwrap_or_else(|| panic!("{err}"));
    // Entries and sizes as the archive has them.
    let mut archive = tar::Archive::new(fs::File::open(&tar).unwrap());
    let mut members = 0;
    let mut bytes = 0u64;
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        members += 1;
        if e.header().entry_type().is_file() {
            bytes += e.header().size().unwrap();
        }
    }
    let size = fs::metadata(&tar).unwrap().len();
    assert!(line.contains(&format!("rootfs {} ({:.1} MiB)", tar.display(), size as f64 / 1048576.0)), "{line}");
    assert!(line.contains(&format!(": {members} entries, {:.1} MiB of files", bytes as f64 / 1048576.0)), "{line}");
    // ls: libselinux, libc, libpcre2-8, the loader (and its link), as ldd lists them.
    let ldd = Command::new("ldd").arg("/usr/bin/ls").output().unwrap();
    let libs = String::from_utf8_lossy(&ldd.stdout).lines().filter(|l| l.contains('/')).count();
    let n: usize = line.split(" libraries").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= libs, "{line}: at least the {libs} files ldd lists");
    assert!(line.contains(" 0 missing"), "{line}");
    // Misses written with --allow-missing are counted.
    let exe = exe_needing_missing_lib(t.path());
    let o = run(cli().arg(&exe).arg("--allow-missing").arg("--dir").arg(t.path().join("d")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(" 1 missing"), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("wrote rootfs {}/", t.path().join("d").display())), "{}", stderr(&o));
    // --quiet: no summary.
    let o = run(cli().arg("/usr/bin/ls").arg("--tar").arg(&tar).arg("--quiet"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

/// podman with its storage (vfs) under `dir`; `None` with a SKIPPED banner where it cannot
/// build here.
fn podman(dir: &Path, args: &[&str]) -> Option<Output> {
    let o = common::podman(dir, args);
    match o {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!("\n*** SKIPPED podman {args:?}: {e}\n");
            None
        }
    }
}

/// Whether podman can build here; when not, a SKIPPED banner (a failure with
/// `DEPCLOSE_REQUIRE_PODMAN=1`, as tests/oci.rs).
fn podman_usable(dir: &Path) -> bool {
    let why = match podman(dir, &["info"]) {
        None => "podman is not installed".to_string(),
        Some(o) if !o.status.success() => format!("`podman info` fails here: {}", stderr(&o)),
        Some(_) => return true,
    };
    let must = std::env::var("DEPCLOSE_REQUIRE_PODMAN").map(|v| v == "1").unwrap_or(false);
    assert!(!must, "podman cannot run and DEPCLOSE_REQUIRE_PODMAN=1: {why}");
    eprintln!("\n**********\n*** SKIPPED podman build of the Dockerfile: {why}\n**********\n");
    false
}

/// The member names of the image `tag` built by podman: `podman create` + `podman export`.
fn image_files(dir: &Path, tag: &str) -> Vec<String> {
    let o = podman(dir, &["create", "--name", &format!("c-{tag}"), tag]).unwrap();
    assert!(o.status.success(), "podman create: {}", stderr(&o));
    let out = dir.join(format!("{tag}.tar"));
    let o = podman(dir, &["export", "-o", out.to_str().unwrap(), &format!("c-{tag}")]).unwrap();
    assert!(o.status.success(), "podman export: {}", stderr(&o));
    let mut a = tar::Archive::new(fs::File::open(out).unwrap());
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn dockerfile_names_the_tarball_from_its_directory_and_the_entry_in_the_image() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("out");
    fs::create_dir_all(work.join("ctx/sub")).unwrap();
    fs::copy("/bin/true", work.join("prog")).unwrap();
    fs::write(work.join("ctx/junk"), b"not for the context").unwrap();
    let o = run(cli().current_dir(&work).args([
        "./prog",
        "--runtime",
        "none",
        "--tar",
        "ctx/sub/r.tar.gz",
        "--dockerfile",
        "ctx/Dockerfile",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(work.join("ctx/Dockerfile")).unwrap();
    let entry = work.join("prog");
    assert_eq!(
        text,
        format!(
            "FROM scratch\nADD sub/r.tar.gz /\nENTRYPOINT [{}]\n",
            serde_json::Value::from(entry.to_str().unwrap())
        )
    );
    let ignore = fs::read_to_string(work.join("ctx/.dockerignore")).unwrap();
    assert!(ignore.ends_with("\n*\n!sub/r.tar.gz\n"), "{ignore}");
    // A real builder: the image holds the entry point where ENTRYPOINT says, and the build
    // context is the tarball alone (a second Dockerfile copies the whole context).
    if !podman_usable(t.path()) {
        return;
    }
    let o = podman(t.path(), &["build", "-q", "-t", "fromdf", "out/ctx"]).unwrap();
    assert!(o.status.success(), "podman build: {}", stderr(&o));
    let o = podman(t.path(), &["image", "inspect", "--format", "{{json .Config.Entrypoint}}", "fromdf"]).unwrap();
    let ep: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ep, [entry.to_str().unwrap()]);
    let files = image_files(t.path(), "fromdf");
    assert!(files.iter().any(|f| Path::new("/").join(f) == entry), "{entry:?} in {files:?}");
    fs::write(work.join("ctx/All.Dockerfile"), "FROM scratch\nCOPY . /ctx/\nENTRYPOINT [\"/none\"]\n").unwrap();
    let o = podman(t.path(), &["build", "-q", "-t", "context", "-f", "out/ctx/All.Dockerfile", "out/ctx"]).unwrap();
    assert!(o.status.success(), "podman build: {}", stderr(&o));
    let mut sent: Vec<String> =
        image_files(t.path(), "context").into_iter().filter(|f| !f.ends_with('/') && f.starts_with("ctx/")).collect();
    sent.sort();
    sent.retain(|f| !fs::metadata(work.join(f)).map(|m| m.is_dir()).unwrap_or(false));
    assert_eq!(sent, ["ctx/sub/r.tar.gz"]);
}

#[test]
fn dockerfile_refuses_what_it_cannot_name_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    fs::create_dir_all(d.join("ctx")).unwrap();
    let cases: Vec<(PathBuf, PathBuf, &str)> = vec![
        // The tarball outside the build context.
        (d.join("r.tar"), d.join("ctx/Dockerfile"), "outside the Dockerfile's directory"),
        // What ADD would expand.
        (d.join("ctx/r$HOME.tar"), d.join("ctx/Dockerfile"), "holds '$'"),
        (d.join("ctx/r*.tar"), d.join("ctx/Dockerfile"), "holds '*'"),
        // Not UTF-8.
        (d.join(std::ffi::OsStr::from_bytes(b"ctx/r\xff.tar")), d.join("ctx/Dockerfile"), "not UTF-8"),
    ];
    for (tar, df, why) in cases {
        let o = run(cli()
            .arg("/bin/true")
            .arg("--runtime")
            .arg("none")
            .arg("--tar")
            .arg(&tar)
            .arg("--dockerfile")
            .arg(&df));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{tar:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("depclose-cli: --dockerfile "), "{err}");
        assert!(err.contains(why), "{why}: {err}");
        assert!(!tar.exists() && !df.exists(), "nothing is written: {tar:?}");
        assert!(!d.join("ctx/.dockerignore").exists());
    }
    // An entry point that is not UTF-8.
    let prog = d.join(std::ffi::OsStr::from_bytes(b"prog\xff"));
    fs::copy("/bin/true", &prog).unwrap();
    let o = run(cli()
        .arg(&prog)
        .args(["--runtime", "none"])
        .arg("--tar")
        .arg(d.join("ctx/r.tar"))
        .arg("--dockerfile")
        .arg(d.join("ctx/Dockerfile")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("the entry point") && stderr(&o).contains("is not UTF-8"), "{}", stderr(&o));
    assert!(!d.join("ctx/r.tar").exists() && !d.join("ctx/Dockerfile").exists());
    // A name needing quotes is written exactly, in the JSON form.
    let tar = d.join("ctx/my rootfs.tar");
    let o = run(cli().arg("/bin/true").arg("--tar").arg(&tar).arg("--dockerfile").arg(d.join("ctx/Dockerfile")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(d.join("ctx/Dockerfile")).unwrap();
    assert!(text.contains("\nADD [\"my rootfs.tar\", \"/\"]\n"), "{text}");
}

/// An input path with a space, a `$` and quotes: ENTRYPOINT (no variable expansion there)
/// names it exactly, as the builder reads it.
#[test]
fn dockerfile_entrypoint_is_exact_for_any_utf8_name() {
    let t = tempfile::tempdir().unwrap();
    let ctx = t.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    let dir = t.path().join("bin dir");
    fs::create_dir_all(&dir).unwrap();
    let prog = dir.join("run $HOME \"q\" \\ é");
    fs::copy("/bin/true", &prog).unwrap();
    let o = run(cli()
        .arg(&prog)
        .args(["--runtime", "none", "--tar"])
        .arg(ctx.join("r.tar"))
        .arg("--dockerfile")
        .arg(ctx.join("Dockerfile")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(ctx.join("Dockerfile")).unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix("ENTRYPOINT ")).unwrap();
    let ep: Vec<String> = serde_json::from_str(line).unwrap();
    assert_eq!(ep, [prog.to_str().unwrap()]);
    if !podman_usable(t.path()) {
        return;
    }
    let o = podman(t.path(), &["build", "-q", "-t", "oddname", "ctx"]).unwrap();
    assert!(o.status.success(), "podman build: {}", stderr(&o));
    let o = podman(t.path(), &["image", "inspect", "--format", "{{json .Config.Entrypoint}}", "oddname"]).unwrap();
    let ep: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ep, [prog.to_str().unwrap()]);
    let files = image_files(t.path(), "oddname");
    assert!(files.iter().any(|f| Path::new("/").join(f) == prog), "{prog:?} in {files:?}");
}
