//! `depclose-cli --verify IMAGE`: sound on every image depclose writes (tar, tar.gz,
//! directory, OCI layout and archive, each with its manifest); each problem named, with the
//! real loader in a chroot confirming that the image is really broken (a removed library, a
//! truncated one, a dangling symlink, a changed file); hostile images (members escaping the
//! image, hard links and links out of it, huge or malformed headers, a decompression bomb,
//! a lying manifest, an OCI digest that is a path) refused or reported without reading
//! outside the image, hanging or panicking.
//!
//! Needs `redis-server` (the image's program); the loader oracle needs root (chroot).
//! Run with `cargo test --all-features --test verify`.
#![cfg(feature = "cli")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::chroot::{chroot_cmd, is_root, out_text};

const REDIS: &str = "/usr/bin/redis-server";

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_depclose-cli"));
    c.env_remove("LD_LIBRARY_PATH").env_remove("SOURCE_DATE_EPOCH");
    c
}

fn require_redis() {
    assert!(Path::new(REDIS).exists(), "{REDIS} is missing: apt-get install redis-server");
}

/// `--verify` with a private TMPDIR (checked to be left empty: the scratch tree is removed).
fn verify(image: &Path, extra: &[&str]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let o = cli().env("TMPDIR", scratch.path()).arg("--verify").arg(image).args(extra).output().unwrap();
    let left: Vec<_> = fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "the scratch directory was not cleaned: {left:?}");
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A redis rootfs directory and its manifest (`d.manifest.json` beside it).
fn redis_dir(t: &Path) -> PathBuf {
    require_redis();
    let d = t.join("d");
    // The bare closure (--runtime none): these tests damage it and need no /etc in it.
    let o = cli()
        .arg(REDIS)
        .args(["--runtime", "none", "--dir"])
        .arg(&d)
        .arg("--manifest")
        .arg(t.join("d.manifest.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    d
}

/// The in-image path of the file the real loader maps for `soname` (from `ld.so --list`
/// in the chroot).
fn loader_path(root: &Path, soname: &str) -> String {
    let o = chroot_cmd().arg(root).args(["/lib64/ld-linux-x86-64.so.2", "--list", REDIS]).env_clear().output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let text = stdout(&o);
    let line =
        text.lines().find(|l| l.trim_start().starts_with(soname)).unwrap_or_else(|| panic!("{soname} in {text}"));
    line.split(" => ").nth(1).unwrap().split(" (").next().unwrap().to_string()
}

fn realpath_in(root: &Path, p: &str) -> PathBuf {
    let host = fs::canonicalize(root.join(p.trim_start_matches('/'))).unwrap();
    host.strip_prefix(fs::canonicalize(root).unwrap()).unwrap().to_path_buf()
}

#[test]
fn every_image_depclose_writes_is_sound() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    require_redis();
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let o = cli()
        .arg(REDIS)
        .args(["--tar"])
        .arg(p.join("img.tar"))
        .arg("--manifest")
        .arg(p.join("img.manifest.json"))
        .arg("--dir")
        .arg(p.join("dir"))
        .arg("--oci-archive")
        .arg(p.join("oci.tar"))
        .arg("--oci-layout")
        .arg(p.join("layout"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let o = cli().arg(REDIS).arg("--tar").arg(p.join("img.tar.gz")).output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let manifest = p.join("img.manifest.json");
    let m = manifest.to_str().unwrap();
    for (image, extra, format, with_manifest) in [
        ("img.tar", &[][..], "tar", true),       // NAME.manifest.json found beside it
        ("img.tar.gz", &[][..], "tar.gz", true), // likewise
        ("dir", &["--manifest", m][..], "directory", true),
        ("oci.tar", &["--manifest", m][..], "OCI archive", true),
        ("layout", &[][..], "OCI layout", false),
    ] {
        let o = verify(&p.join(image), extra);
        assert_eq!(o.status.code(), Some(0), "{image}: {}", out_text(&o));
        let out = stdout(&o);
        assert!(out.contains(&format!(": sound ({format}, ")), "{image}: {out}");
        assert_eq!(out.contains("no manifest"), !with_manifest, "{image}: {out}");
        assert_eq!(out.lines().count(), 1, "{image}: {out}");
    }
}

#[test]
fn a_removed_library_is_named_and_the_loader_agrees() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    let real = if is_root() {
        let p = loader_path(&d, "libssl.so.3");
        realpath_in(&d, &p)
    } else {
        PathBuf::from("usr/lib/x86_64-linux-gnu/libssl.so.3")
    };
    fs::remove_file(d.join(&real)).unwrap();
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    assert!(out.contains("missing library: /usr/bin/") && out.contains("libssl.so.3: not found in the image"), "{out}");
    assert!(out.contains("listed in the manifest (file) but missing"), "{out}");
    if is_root() {
        let o =
            chroot_cmd().arg(&d).args(["/lib64/ld-linux-x86-64.so.2", "--list", REDIS]).env_clear().output().unwrap();
        let text = out_text(&o);
        assert!(
            text.contains("libssl.so.3 => not found") || text.contains("libssl.so.3: cannot open shared object file"),
            "the loader does not miss it: {text}"
        );
    }
    // The same image as a tarball made by GNU tar (`./` names): the same problems.
    let tarball = t.path().join("broken.tar");
    let st = Command::new("tar").arg("-C").arg(&d).arg("-cf").arg(&tarball).arg(".").status().unwrap();
    assert!(st.success());
    let o2 = verify(&tarball, &["--manifest", t.path().join("d.manifest.json").to_str().unwrap()]);
    assert_eq!(o2.status.code(), Some(1), "{}", out_text(&o2));
    let problems = |s: &str| s.lines().filter(|l| !l.contains(": NOT sound (")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(problems(&stdout(&o2)), problems(&out));
}

#[test]
fn a_truncated_library_is_named_and_the_loader_fails() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    let real = if is_root() {
        realpath_in(&d, &loader_path(&d, "libcrypto.so.3"))
    } else {
        PathBuf::from("usr/lib/x86_64-linux-gnu/libcrypto.so.3")
    };
    let host = d.join(&real);
    let len = fs::metadata(&host).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&host).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    let name = format!("/{}", real.display());
    assert!(out.contains(&format!("corrupted or truncated file: {name}: truncated: ")), "{out}");
    assert!(out.contains(&format!("hash mismatch: {name}: ")), "{out}");
    if is_root() {
        let o = chroot_cmd().arg(&d).args([REDIS, "--version"]).env_clear().output().unwrap();
        assert!(!o.status.success(), "redis-server still runs with a truncated libcrypto: {}", out_text(&o));
    }
}

#[test]
fn a_dangling_symlink_is_named() {
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    // Break a link the loader follows: the soname link of libssl now leads nowhere.
    let lib = d.join("usr/lib/x86_64-linux-gnu");
    let link = fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::symlink_metadata(p).unwrap().file_type().is_symlink())
        .expect("a library symlink in the image");
    let target = fs::read_link(&link).unwrap();
    fs::remove_file(lib.join(&target)).unwrap();
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    let name = format!("/{}", link.strip_prefix(&d).unwrap().display());
    assert!(out.contains(&format!("dangling link: {name}: -> {}", target.display())), "{out}");
    // A loop is named as one.
    std::os::unix::fs::symlink("loop-b", d.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", d.join("loop-b")).unwrap();
    let out = stdout(&verify(&d, &[]));
    assert!(out.contains("symlink loop: /loop-a: -> loop-b: too many levels of symbolic links"), "{out}");
}

#[test]
fn a_changed_file_fails_its_manifest_hash() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    let real = d.join("usr/bin/redis-check-rdb");
    let real = if real.exists() { real } else { d.join("usr/bin/redis-server") };
    let mut bytes = fs::read(&real).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&real, &bytes).unwrap();
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    let name = format!("/{}", real.strip_prefix(&d).unwrap().display());
    assert!(out.contains(&format!("hash mismatch: {name}: sha256 ")), "{out}");
    assert_eq!(out.lines().count(), 2, "only the hash differs: {out}");
    // A mode change too.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
    let out = stdout(&verify(&d, &[]));
    assert!(out.contains(&format!("manifest mismatch: {name}: mode 0700, the manifest says \"0755\"")), "{out}");
}

// --- Hostile images ---------------------------------------------------------------------------

/// A raw tar member header (GNU), checksum computed, with `size` written as given.
fn header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    {
        let g = h.as_gnu_mut().unwrap();
        g.name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        g.linkname[..link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    }
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn body(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

fn write_tar(path: &Path, parts: &[Vec<u8>]) {
    let mut all: Vec<u8> = parts.concat();
    all.extend_from_slice(&[0u8; 1024]);
    fs::write(path, all).unwrap();
}

#[test]
fn hostile_tarballs_are_refused_without_touching_the_outside() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "x").unwrap();
    let out_abs = outside.to_str().unwrap().as_bytes().to_vec();
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "dotdot",
            vec![header(b"../../../../../../../../../../../../outside/evil", b'0', 1, b""), body(b"x")],
            "`..` in a member name",
        ),
        (
            "absolute",
            vec![header(&[&out_abs[..], b"/evil"].concat(), b'0', 1, b""), body(b"x")],
            "absolute member name",
        ),
        (
            "through-symlink",
            vec![header(b"lnk", b'2', 0, &out_abs), header(b"lnk/evil", b'0', 1, b""), body(b"x")],
            "is under a symlink",
        ),
        (
            "hardlink-out",
            vec![header(b"lnk", b'2', 0, &out_abs), header(b"h", b'1', 0, b"lnk/secret")],
            "hard link target",
        ),
        ("hardlink-abs", vec![header(b"h", b'1', 0, &[&out_abs[..], b"/secret"].concat())], "hard link target"),
        ("huge-size", vec![header(b"big", b'0', 0o77777777777, b""), body(b"x")], "archive ends inside the member"),
        ("huge-longname", vec![header(b"././@LongLink", b'L', 1 << 40, b""), body(b"x")], "GNU long name record of"),
        ("huge-pax", vec![header(b"pax", b'x', 1 << 30, b""), body(b"x")], "pax extended header of"),
    ];
    for (name, parts, why) in cases {
        let tarball = t.path().join(format!("{name}.tar"));
        write_tar(&tarball, &parts);
        let start = std::time::Instant::now();
        let o = verify(&tarball, &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", out_text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{name}: expected {why:?}: {err}");
        assert!(start.elapsed().as_secs() < 20, "{name}: took {:?}", start.elapsed());
        let inside: Vec<_> = fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(inside, ["secret"], "{name} wrote outside");
        assert!(!t.path().join("evil").exists());
    }
    // Device nodes and FIFOs are not made: skipped with a note, the rest is checked.
    let tarball = t.path().join("devices.tar");
    write_tar(
        &tarball,
        &[header(b"dev/null", b'3', 0, b""), header(b"fifo", b'6', 0, b""), header(b"a", b'0', 1, b""), body(b"x")],
    );
    let o = verify(&tarball, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("member dev/null of type '3' skipped") && err.contains("member fifo of type '6' skipped"),
        "{err}"
    );
    // A bad checksum, garbage, a truncated header: unreadable, exit 2, no panic.
    let mut bad = header(b"a", b'0', 1, b"");
    bad[148] ^= 1;
    let tarball = t.path().join("cksum.tar");
    write_tar(&tarball, &[bad, body(b"x")]);
    let o = verify(&tarball, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    let tarball = t.path().join("garbage.tar");
    fs::write(&tarball, vec![0x42u8; 700]).unwrap();
    assert_eq!(verify(&tarball, &[]).status.code(), Some(2));
    let tarball = t.path().join("short.tar");
    fs::write(&tarball, &header(b"a", b'0', 1, b"")[..300]).unwrap();
    assert_eq!(verify(&tarball, &[]).status.code(), Some(2));
    assert_eq!(verify(&t.path().join("does-not-exist"), &[]).status.code(), Some(2));
}

#[test]
fn links_out_of_the_image_resolve_inside_it() {
    // A symlink that climbs above the root (to the host's libc, which exists) and an
    // absolute one: resolved inside the image, where nothing is: dangling, not the host's.
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    let libc = d.join("usr/lib/x86_64-linux-gnu/libc.so.6");
    fs::remove_file(&libc).unwrap();
    let up = "../".repeat(40);
    std::os::unix::fs::symlink(format!("{up}usr/lib/x86_64-linux-gnu/libc.so.6.host"), &libc).unwrap();
    assert!(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6").exists());
    std::os::unix::fs::symlink("/etc/passwd", d.join("passwd")).unwrap();
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    assert!(out.contains("link escapes the image: /usr/lib/x86_64-linux-gnu/libc.so.6"), "{out}");
    assert!(out.contains("dangling link: /usr/lib/x86_64-linux-gnu/libc.so.6"), "{out}");
    assert!(out.contains("dangling link: /passwd: -> /etc/passwd"), "{out}");
    assert!(out.contains("libc.so.6: not found in the image"), "{out}");
}

#[test]
fn a_lying_manifest_is_reported_and_never_followed_out() {
    let t = tempfile::tempdir().unwrap();
    let d = redis_dir(t.path());
    // /etc is a link to a host directory outside the image that holds the file the
    // manifest describes, with the right hash: it must not be found.
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::copy("/etc/passwd", outside.join("passwd")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("etc")).unwrap();
    let host_passwd = fs::read(outside.join("passwd")).unwrap();
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&host_passwd).iter().map(|b| format!("{b:02x}")).collect()
    };
    let mpath = t.path().join("d.manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&mpath).unwrap()).unwrap();
    let entries = m["entries"].as_array_mut().unwrap();
    let lie = |p: &str| {
        serde_json::json!({"path": p, "kind": "file", "mode": "0644", "size": host_passwd.len(), "sha256": sha,
                           "setuid": false, "setgid": false, "reasons": []})
    };
    entries.push(lie("/etc/passwd"));
    entries.push(lie("/../../../../etc/passwd"));
    let target = outside.to_str().unwrap();
    entries.push(serde_json::json!({"path": "/etc", "kind": "symlink", "mode": "0777", "target": target,
                                    "setuid": false, "setgid": false, "reasons": []}));
    fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let o = verify(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    assert!(out.contains("manifest mismatch: /etc/passwd: listed in the manifest (file) but missing"), "{out}");
    assert!(out.contains("manifest mismatch: /../../../../etc/passwd: invalid path in the manifest"), "{out}");
    assert!(out.contains(&format!("dangling link: /etc: -> {target}")), "{out}");
    assert!(!out.contains("hash mismatch"), "a hash was computed for a path outside: {out}");
    // Not JSON, or another schema: unreadable.
    fs::write(&mpath, "{\"schema\":\"other/1\",\"entries\":[]}").unwrap();
    assert_eq!(verify(&d, &[]).status.code(), Some(2));
    fs::write(&mpath, "[").unwrap();
    assert_eq!(verify(&d, &[]).status.code(), Some(2));
}

#[test]
fn oci_images_with_bad_blobs() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    require_redis();
    let t = tempfile::tempdir().unwrap();
    let layout = t.path().join("layout");
    let o = cli().arg(REDIS).arg("--oci-layout").arg(&layout).output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let index: serde_json::Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mhex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(&mhex)).unwrap()).unwrap();
    let lhex = manifest["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
    // A flipped byte in the middle of the gzip stream: the layer digest no longer matches
    // (and the gzip stream is probably damaged: either way, not sound).
    let broken = t.path().join("broken");
    copy_tree(&layout, &broken);
    let lp = broken.join("blobs/sha256").join(&lhex);
    let mut layer = fs::read(&lp).unwrap();
    let last = layer.len() - 1;
    layer[last] ^= 0x55; // the gzip trailer's size byte: content intact, digest wrong
    fs::write(&lp, &layer).unwrap();
    let o = verify(&broken, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", out_text(&o));
    if o.status.code() == Some(1) {
        assert!(stdout(&o).contains("blob digest mismatch"), "{}", out_text(&o));
    }
    // A config blob whose content changed (same name): named, exit 1.
    let changed = t.path().join("changed");
    copy_tree(&layout, &changed);
    let chex = manifest["config"]["digest"].as_str().unwrap()[7..].to_string();
    let cp = changed.join("blobs/sha256").join(&chex);
    let cfg = fs::read_to_string(&cp).unwrap().replace("\"os\":\"linux\"", "\"os\": \"linux\"");
    fs::write(&cp, cfg).unwrap();
    let o = verify(&changed, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("blob digest mismatch: blobs/sha256/{chex}: content does not match its digest")),
        "{out}"
    );
    // A digest that is a path: refused before any file is opened.
    let hostile = t.path().join("hostile");
    copy_tree(&layout, &hostile);
    let idx = fs::read_to_string(hostile.join("index.json"))
        .unwrap()
        .replace(&format!("sha256:{mhex}"), "sha256:../../../../../../etc/passwd");
    fs::write(hostile.join("index.json"), idx).unwrap();
    let o = verify(&hostile, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid or unsupported digest"), "{}", out_text(&o));
    // A blobs directory that is a symlink out of the layout: refused.
    let linked = t.path().join("linked");
    copy_tree(&layout, &linked);
    fs::rename(linked.join("blobs"), t.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(t.path().join("elsewhere"), linked.join("blobs")).unwrap();
    let o = verify(&linked, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("under a symlink"), "{}", out_text(&o));
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            fs::create_dir_all(&dest).unwrap();
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let t = tempfile::tempdir().unwrap();
    // 64 MiB of zeros in a tar.gz of about 64 KiB.
    let tgz = t.path().join("bomb.tar.gz");
    {
        let f = fs::File::create(&tgz).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(64 << 20);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "zeros", std::io::Read::take(std::io::repeat(0), 64 << 20)).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    assert!(fs::metadata(&tgz).unwrap().len() < 1 << 20);
    let mut opts = depclose::emit::VerifyOptions::new(t.path());
    opts.max_unpacked_bytes(8 << 20);
    let e = depclose::emit::verify_image(&tgz, &opts).unwrap_err();
    assert!(e.to_string().contains("more bytes than the limit"), "{e}");
    let mut opts = depclose::emit::VerifyOptions::new(t.path());
    opts.max_entries(0);
    let e = depclose::emit::verify_image(&tgz, &opts).unwrap_err();
    assert!(e.to_string().contains("more members than the limit"), "{e}");
    // With room enough, it is read (and sound: no ELF file in it).
    let r = depclose::emit::verify_image(&tgz, &depclose::emit::VerifyOptions::new(t.path())).unwrap();
    assert!(r.is_sound() && r.elf_files == 0);
    let left: Vec<_> = fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["bomb.tar.gz"], "scratch left behind");
}

/// A gzip layer from `(name, type, data, link)` members (GNU headers, mode 0644/0755).
fn layer(members: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut parts = Vec::new();
    for (name, kind, data, link) in members {
        let mut h = header(name.as_bytes(), *kind, data.len() as u64, link.as_bytes());
        if *kind == b'5' {
            h = {
                let mut hh = tar::Header::new_gnu();
                hh.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                hh.set_mode(0o755);
                hh.set_entry_type(tar::EntryType::Directory);
                hh.set_size(0);
                hh.set_cksum();
                hh.as_bytes().to_vec()
            };
        }
        parts.push(h);
        if *kind == b'0' {
            parts.push(body(data));
        }
    }
    let mut plain: Vec<u8> = parts.concat();
    plain.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let z = gz.finish().unwrap();
    // (uncompressed, compressed)
    [plain.len().to_le_bytes().to_vec(), plain, z].concat()
}

/// An OCI layout at `dir` with these layers (each from `layer`), digests and diff_ids right.
fn make_layout(dir: &Path, layers: &[Vec<u8>]) {
    use sha2::Digest;
    let hex = |b: &[u8]| -> String { sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect() };
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let (mut descs, mut diffs) = (Vec::new(), Vec::new());
    for l in layers {
        let n = usize::from_le_bytes(l[..8].try_into().unwrap());
        let (plain, z) = (&l[8..8 + n], &l[8 + n..]);
        fs::write(blobs.join(hex(z)), z).unwrap();
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                      "digest": format!("sha256:{}", hex(z)), "size": z.len()}));
        diffs.push(format!("sha256:{}", hex(plain)));
    }
    let config = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diffs}}))
    .unwrap();
    fs::write(blobs.join(hex(&config)), &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", hex(&config)), "size": config.len()},
        "layers": descs})).unwrap();
    fs::write(blobs.join(hex(&manifest)), &manifest).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", hex(&manifest)), "size": manifest.len()}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

#[test]
fn oci_layers_apply_in_order_with_their_whiteouts() {
    use sha2::Digest;
    let t = tempfile::tempdir().unwrap();
    let l1 = layer(&[
        ("a", b'5', b"", ""),
        ("a/x", b'0', b"x", ""),
        ("a/y", b'0', b"y", ""),
        ("b", b'0', b"b", ""),
        ("c", b'5', b"", ""),
        ("c/z", b'0', b"z", ""),
    ]);
    let l2 = layer(&[
        ("a/.wh.x", b'0', b"", ""),
        (".wh.b", b'0', b"", ""),
        ("c/.wh..wh..opq", b'0', b"", ""),
        ("c/new", b'0', b"n", ""),
    ]);
    let layout = t.path().join("layout");
    make_layout(&layout, &[l1.clone(), l2]);
    let sha = |b: &[u8]| -> String { sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect() };
    let file = |p: &str, d: &[u8]| serde_json::json!({"path": p, "kind": "file", "mode": "0644", "size": d.len(), "sha256": sha(d), "setuid": false, "setgid": false, "reasons": []});
    let dir = |p: &str| serde_json::json!({"path": p, "kind": "directory", "mode": "0755", "setuid": false, "setgid": false, "reasons": []});
    let manifest = t.path().join("m.json");
    let doc = serde_json::json!({"schema": "depclose-manifest/1", "entries": [dir("/a"), file("/a/y", b"y"), dir("/c"), file("/c/new", b"n")]});
    fs::write(&manifest, serde_json::to_vec(&doc).unwrap()).unwrap();
    let o = verify(&layout, &["--manifest", manifest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "whiteouts not applied: {}", out_text(&o));
    // A whiteout of `..` or `.`: refused, nothing removed.
    for (i, bad) in [".wh..", "a/.wh...", ".wh..."].into_iter().enumerate() {
        let evil = t.path().join(format!("evil-{i}"));
        let l2 = layer(&[(bad, b'0', b"", "")]);
        make_layout(&evil, &[l1.clone(), l2]);
        let o = verify(&evil, &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", out_text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("whiteout of an invalid name"), "{}", out_text(&o));
        assert!(evil.join("index.json").exists());
    }
}

/// A library replaced by an older one that lacks a version the program requires: the image
/// cannot start the program, and --verify says so as `ldd -r` would ("version `V_2' not
/// found"), which the real loader confirms in a chroot.
#[test]
fn a_missing_symbol_version_is_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().canonicalize().unwrap();
    let sh = |cmd: &str| {
        let o = Command::new("sh").arg("-c").arg(cmd).current_dir(&d).output().unwrap();
        assert!(o.status.success(), "{cmd}: {}", out_text(&o));
    };
    fs::write(d.join("v2.map"), "V_1 { global: one; local: *; };\nV_2 { global: two; } V_1;\n").unwrap();
    fs::write(d.join("v1.map"), "V_1 { global: one; two; local: *; };\n").unwrap();
    fs::write(d.join("lib.c"), "int one(void) { return 1; }\nint two(void) { return 2; }\n").unwrap();
    fs::write(d.join("main.c"), "int one(void); int two(void);\nint main(void) { return one() + two() - 3; }\n")
        .unwrap();
    sh("mkdir -p app/bin app/lib");
    sh("gcc -shared -fPIC -Wl,-soname,libv.so.1 -Wl,--version-script=v2.map -o app/lib/libv.so.1 lib.c");
    sh("gcc -o app/bin/prog main.c -Lapp/lib -l:libv.so.1 '-Wl,-rpath,$ORIGIN/../lib'");
    sh("gcc -shared -fPIC -Wl,-soname,libv.so.1 -Wl,--version-script=v1.map -o old-libv.so.1 lib.c");
    let out = d.join("out");
    let o = cli().arg(d.join("app/bin/prog")).args(["--runtime", "none", "--dir"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let o = verify(&out, &[]);
    assert_eq!(o.status.code(), Some(0), "the image as built is sound: {}", out_text(&o));
    let lib = format!("{}/app/lib/libv.so.1", d.display());
    fs::remove_file(out.join(&lib[1..])).unwrap();
    fs::copy(d.join("old-libv.so.1"), out.join(&lib[1..])).unwrap();
    let o = verify(&out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    let prog = format!("{}/app/bin/prog", d.display());
    let want = format!("missing symbol version: {prog}: {lib}: version `V_2' not found (required by {prog})");
    assert!(stdout(&o).contains(&want), "{}", out_text(&o));
    if is_root() {
        // The real loader agrees (with /proc mounted: glibc finds the program's $ORIGIN
        // through /proc/self/exe).
        fs::create_dir_all(out.join("proc")).unwrap();
        let m = Command::new("mount").args(["-t", "proc", "proc"]).arg(out.join("proc")).status().unwrap();
        assert!(m.success(), "mount /proc");
        let o = chroot_cmd().arg(&out).arg(&prog).env_clear().output().unwrap();
        let _ = Command::new("umount").arg("-l").arg(out.join("proc")).status();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("version `V_2' not found"), "{}", out_text(&o));
    }
}
