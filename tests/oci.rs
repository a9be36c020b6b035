//! OCI images written by `depclose-cli --oci-archive` / `--oci-layout`, checked by the real
//! clients: `skopeo copy` (verifies every blob digest) and `skopeo inspect`, `umoci unpack`
//! (verifies the diff_ids) followed by redis answering `PING` from the unpacked rootfs in a
//! chroot, `podman load` (vfs storage in a temporary directory; skipped with a banner when
//! podman cannot run here), docker's `manifest.json` against the blobs, the config's platform
//! for x86_64, an arm64 root and synthetic ELF files of other machines, and byte-identical
//! archives across runs, directories and thread counts.
//!
//! Needs the Debian packages `skopeo umoci podman redis-server redis-tools` (scripts/test.sh
//! installs them) and root for the chroot. Run with `cargo test --all-features --test oci`.
#![cfg(feature = "cli")]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

mod common;
use common::chroot::{is_root, out_text, redis_answers_ping};
use common::podman;

const REDIS: &str = "/usr/bin/redis-server";
const TAG: &str = "redis:7";

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_depclose-cli"));
    c.env_remove("LD_LIBRARY_PATH").env_remove("SOURCE_DATE_EPOCH");
    c
}

fn run_ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", out_text(&o));
    o
}

fn require(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: apt-get install {package}");
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// Every regular member of an (uncompressed) tar archive, by name.
fn members(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(fs::File::open(archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        assert_eq!(e.header().uid().unwrap(), 0);
        assert_eq!(e.header().gid().unwrap(), 0);
        if e.header().entry_type().is_file() {
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            assert!(out.insert(name, body).is_none(), "a member is repeated");
        }
    }
    out
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

/// The redis image's archive with every config flag, in a fresh directory.
fn redis_archive(t: &Path) -> PathBuf {
    require(REDIS, "redis-server");
    let archive = t.join("redis.tar");
    run_ok(cli().arg(REDIS).arg("--oci-archive").arg(&archive).args(image_flags()));
    archive
}

fn image_flags() -> Vec<&'static str> {
    vec![
        "--tag",
        TAG,
        "--cmd",
        "--save",
        "--cmd",
        "",
        "--env",
        "REDIS_X=1",
        "--workdir",
        "/data",
        "--user",
        "65532:65532",
        "--label",
        "org.example.k=v=w",
        "--expose",
        "6379",
        "--expose",
        "53/udp",
    ]
}

#[test]
fn archive_blobs_and_docker_manifest_agree() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let archive = redis_archive(t.path());
    let m = members(&archive);
    assert_eq!(m["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    for (name, body) in &m {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            assert_eq!(hex, sha256_hex(body), "{name}: content does not match its name");
        }
    }
    let index = json(&m["index.json"]);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let desc = &index["manifests"][0];
    assert_eq!(desc["annotations"]["org.opencontainers.image.ref.name"], TAG);
    assert_eq!(desc["annotations"]["io.containerd.image.name"], format!("docker.io/library/{TAG}"));
    let blob = |d: &Value| -> &Vec<u8> {
        let name = format!("blobs/sha256/{}", d["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap());
        let b = &m[&name];
        assert_eq!(d["size"].as_u64().unwrap(), b.len() as u64, "{name}: size");
        b
    };
    let manifest = json(blob(desc));
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    let config = json(blob(&manifest["config"]));
    let layer_desc = &manifest["layers"][0];
    assert_eq!(layer_desc["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    let layer = blob(layer_desc);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&layer[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], format!("sha256:{}", sha256_hex(&plain)));
    // The layer holds redis-server and its libraries.
    let names: Vec<String> = tar::Archive::new(&plain[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "usr/bin/redis-server"), "{names:?}");
    // docker's manifest.json names the same blobs.
    let docker = json(&m["manifest.json"]);
    let d = &docker[0];
    assert_eq!(docker.as_array().unwrap().len(), 1);
    let hex = |v: &Value| v.as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    assert_eq!(d["Config"], format!("blobs/sha256/{}", hex(&manifest["config"]["digest"])));
    assert_eq!(d["Layers"], serde_json::json!([format!("blobs/sha256/{}", hex(&layer_desc["digest"]))]));
    assert_eq!(d["RepoTags"], serde_json::json!([TAG]));
    // The config carries the flags.
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], serde_json::json!([REDIS]));
    assert_eq!(c["Cmd"], serde_json::json!(["--save", ""]));
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(c["WorkingDir"], "/data");
    assert_eq!(c["Labels"], serde_json::json!({"org.example.k": "v=w"}));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"53/udp": {}, "6379/tcp": {}}));
    let env: Vec<&str> = c["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"REDIS_X=1") && env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(config["history"][0]["created"], "1970-01-01T00:00:00Z");
}

#[test]
fn the_dockerfile_carries_the_same_config() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    require(REDIS, "redis-server");
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("redis.tar");
    let ctx = t.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    let o = cli()
        .arg(REDIS)
        .arg("--oci-archive")
        .arg(&archive)
        .arg("--tar")
        .arg(ctx.join("rootfs.tar"))
        .arg("--dockerfile")
        .arg(ctx.join("Dockerfile"))
        .args(image_flags())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out_text(&o));
    let text = fs::read_to_string(ctx.join("Dockerfile")).unwrap();
    let m = members(&archive);
    let docker = json(&m["manifest.json"]);
    let config = json(&m[docker[0]["Config"].as_str().unwrap()]);
    let c = &config["config"];
    let line = |prefix: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.strip_prefix(prefix)).map(str::to_string).collect()
    };
    assert_eq!(line("FROM "), ["scratch"]);
    assert_eq!(json(line("ENTRYPOINT ")[0].as_bytes()), c["Entrypoint"]);
    assert_eq!(json(line("CMD ")[0].as_bytes()), c["Cmd"]);
    assert_eq!(line("USER "), [c["User"].as_str().unwrap()]);
    assert_eq!(line("WORKDIR "), [c["WorkingDir"].as_str().unwrap()]);
    let exposed: Vec<String> = c["ExposedPorts"].as_object().unwrap().keys().cloned().collect();
    let mut ex = line("EXPOSE ");
    ex.sort();
    assert_eq!(ex, exposed);
    for e in line("ENV ") {
        let (k, v) = e.split_once('=').unwrap();
        let kv = format!("{k}={}", json(v.as_bytes()).as_str().unwrap());
        assert!(c["Env"].as_array().unwrap().iter().any(|x| x == &Value::String(kv.clone())), "{kv}");
    }
    for l in line("LABEL ") {
        let (k, v) = l.split_once("\"=\"").map(|(k, v)| (format!("{k}\""), format!("\"{v}"))).unwrap();
        assert_eq!(c["Labels"][json(k.as_bytes()).as_str().unwrap()], json(v.as_bytes()));
    }
    // A real builder reads the Dockerfile into the same config (buildah adds its label).
    if !podman_usable(t.path(), "podman build of the Dockerfile") {
        return;
    }
    let o = podman(t.path(), &["build", "-q", "-t", "from-dockerfile:1", "ctx"]).unwrap();
    assert!(o.status.success(), "podman build: {}", out_text(&o));
    let o = podman(t.path(), &["image", "inspect", "--format", "{{json .Config}}", "from-dockerfile:1"]).unwrap();
    assert!(o.status.success(), "podman image inspect: {}", out_text(&o));
    let mut built = json(&o.stdout);
    built["Labels"].as_object_mut().unwrap().retain(|k, _| !k.starts_with("io.buildah."));
    assert_eq!(&built, c);
}

#[test]
fn skopeo_copies_and_inspects_the_archive() {
    if common::hermetic_skip("skopeo (apt-get install skopeo)") {
        return;
    }
    require("/usr/bin/skopeo", "skopeo");
    let t = tempfile::tempdir().unwrap();
    let archive = redis_archive(t.path());
    let src = format!("oci-archive:{}:{TAG}", archive.display());
    let out = t.path().join("copied");
    // `skopeo copy` reads every blob and checks it against its digest.
    run_ok(Command::new("skopeo").args(["--insecure-policy", "copy", &src]).arg(format!("dir:{}", out.display())));
    let m = members(&archive);
    for (name, body) in &m {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            let copied = out.join(hex);
            let is_manifest = !copied.exists();
            if !is_manifest {
                assert_eq!(&fs::read(&copied).unwrap(), body, "{hex}");
            }
        }
    }
    let o = run_ok(Command::new("skopeo").args(["inspect", &src]));
    let v = json(&o.stdout);
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Created"], "1970-01-01T00:00:00Z");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    let o = run_ok(Command::new("skopeo").args(["inspect", "--config", &src]));
    let cfg = json(&o.stdout);
    assert_eq!(cfg["config"]["Entrypoint"], serde_json::json!([REDIS]));
    // An unknown tag is refused: the reference is really the annotation.
    let o =
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{}:nope", archive.display())]).output().unwrap();
    assert!(!o.status.success(), "{}", out_text(&o));
}

#[test]
fn umoci_unpacks_the_layout_and_redis_answers_ping() {
    if common::hermetic_skip("umoci, redis and root (chroot)") {
        return;
    }
    require("/usr/bin/umoci", "umoci");
    require(REDIS, "redis-server");
    let t = tempfile::tempdir().unwrap();
    let layout = t.path().join("layout");
    let archive = t.path().join("redis.tar");
    run_ok(cli().arg(REDIS).arg("--oci-layout").arg(&layout).arg("--oci-archive").arg(&archive).args(["--tag", TAG]));
    assert!(!layout.join("manifest.json").exists(), "docker's manifest.json belongs to archives only");
    // The layout holds exactly the archive's OCI files.
    let m = members(&archive);
    for (name, body) in &m {
        if name != "manifest.json" {
            assert_eq!(&fs::read(layout.join(name)).unwrap(), body, "{name}");
        }
    }
    let files: Vec<_> =
        walkdir::WalkDir::new(&layout).into_iter().filter_map(|e| e.ok()).filter(|e| e.file_type().is_file()).collect();
    assert_eq!(files.len(), m.len() - 1, "{files:?}");
    // umoci checks each layer against its diff_id while it unpacks.
    let bundle = t.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:{TAG}", layout.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    assert!(rootfs.join("usr/bin/redis-server").is_file());
    // A layer whose content does not match its diff_id is refused (so the check is real).
    let broken = t.path().join("broken");
    copy_tree(&layout, &broken);
    let index = json(&fs::read(broken.join("index.json")).unwrap());
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    let manifest = json(&fs::read(broken.join("blobs/sha256").join(&mdigest)).unwrap());
    let cdigest = manifest["config"]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    let cfg_path = broken.join("blobs/sha256").join(&cdigest);
    let cfg = String::from_utf8(fs::read(&cfg_path).unwrap()).unwrap();
    let diff_id = json(cfg.as_bytes())["rootfs"]["diff_ids"][0].as_str().unwrap().to_string();
    // Same length, one digit changed: every size stays right, only digests change.
    let wrong = format!("sha256:{}{}", if diff_id.as_bytes()[7] == b'0' { '1' } else { '0' }, &diff_id[8..]);
    let bad_cfg = cfg.replace(&diff_id, &wrong);
    let new_c = sha256_hex(bad_cfg.as_bytes());
    fs::write(broken.join("blobs/sha256").join(&new_c), &bad_cfg).unwrap();
    let bad_manifest = String::from_utf8(fs::read(broken.join("blobs/sha256").join(&mdigest)).unwrap())
        .unwrap()
        .replace(&cdigest, &new_c);
    let new_m = sha256_hex(bad_manifest.as_bytes());
    fs::write(broken.join("blobs/sha256").join(&new_m), &bad_manifest).unwrap();
    let idx = String::from_utf8(fs::read(broken.join("index.json")).unwrap()).unwrap().replace(&mdigest, &new_m);
    fs::write(broken.join("index.json"), idx).unwrap();
    let o = Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:{TAG}", broken.display()))
        .arg(t.path().join("bundle2"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "umoci accepted a wrong diff_id: {}", out_text(&o));
    if !is_root() {
        eprintln!("skipped the chroot: needs root");
        return;
    }
    require("/usr/bin/redis-cli", "redis-tools");
    redis_answers_ping(&rootfs);
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

/// Whether podman can run here; when not, a SKIPPED banner (a failure with
/// DEPCLOSE_REQUIRE_PODMAN=1).
fn podman_usable(dir: &Path, what: &str) -> bool {
    let why = match podman(dir, &["info"]) {
        Err(e) => format!("podman is not installed ({e})"),
        Ok(o) if !o.status.success() => format!("`podman info` fails here: {}", out_text(&o)),
        Ok(_) => return true,
    };
    let must = std::env::var("DEPCLOSE_REQUIRE_PODMAN").map(|v| v == "1").unwrap_or(false);
    assert!(!must, "{what}: podman cannot run and DEPCLOSE_REQUIRE_PODMAN=1: {why}");
    eprintln!("\n**********\n*** SKIPPED {what}: {why}\n**********\n");
    false
}

#[test]
fn podman_loads_the_archive() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    if !podman_usable(t.path(), "podman load") {
        return;
    }
    let podman = |args: &[&str]| podman(t.path(), args);
    let archive = redis_archive(t.path());
    let o = podman(&["load", "-i", archive.to_str().unwrap()]).unwrap();
    assert!(o.status.success(), "podman load: {}", out_text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("docker.io/library/{TAG}")), "{}", out_text(&o));
    let o = podman(&["image", "inspect", &format!("docker.io/library/{TAG}")]).unwrap();
    assert!(o.status.success(), "podman image inspect: {}", out_text(&o));
    let v = json(&o.stdout);
    let img = &v[0];
    assert_eq!(img["Architecture"], "amd64");
    assert_eq!(img["Config"]["Entrypoint"], serde_json::json!([REDIS]));
    assert_eq!(img["Config"]["User"], "65532:65532");
    let m = members(&archive);
    let docker = json(&m["manifest.json"]);
    let config_hex = docker[0]["Config"].as_str().unwrap().strip_prefix("blobs/sha256/").unwrap();
    assert_eq!(img["Id"], config_hex, "the image ID is the config digest");
    // What podman saves of it, in either format, passes --verify (podman's own writers).
    for (format, name, kind) in
        [("docker-archive", "saved-docker.tar", "docker archive"), ("oci-archive", "saved-oci.tar", "OCI archive")]
    {
        let out = t.path().join(name);
        let o = podman(&["save", "--format", format, "-o", out.to_str().unwrap(), &format!("docker.io/library/{TAG}")])
            .unwrap();
        assert!(o.status.success(), "podman save --format {format}: {}", out_text(&o));
        let o = run_ok(cli().arg("--verify").arg(&out));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains(&format!(": sound ({kind}, ")), "{format}: {text}");
        assert!(!text.contains(" 0 ELF files"), "{format}: {text}");
    }
}

#[test]
fn archives_are_byte_identical_across_runs_directories_and_threads() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    require(REDIS, "redis-server");
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b/deeper"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    run_ok(cli().current_dir(&a).args([REDIS, "--threads", "1", "--oci-archive", "one.tar", "--oci-layout", "lay"]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run_ok(cli().current_dir(&b).args([REDIS, "--threads", "3", "--oci-archive", "two.tar", "--oci-layout", "lay"]));
    let one = fs::read(a.join("one.tar")).unwrap();
    assert!(one == fs::read(b.join("two.tar")).unwrap(), "archives differ");
    for e in walkdir::WalkDir::new(a.join("lay")).into_iter().map(|e| e.unwrap()).filter(|e| e.file_type().is_file()) {
        let rel = e.path().strip_prefix(a.join("lay")).unwrap();
        assert_eq!(fs::read(e.path()).unwrap(), fs::read(b.join("lay").join(rel)).unwrap(), "{}", rel.display());
    }
    // SOURCE_DATE_EPOCH sets `created` and every mtime, and nothing else changes.
    run_ok(cli().current_dir(&a).env("SOURCE_DATE_EPOCH", "1700000000").args([REDIS, "--oci-archive", "epoch.tar"]));
    let m = members(&a.join("epoch.tar"));
    let docker = json(&m["manifest.json"]);
    let config = json(&m[docker[0]["Config"].as_str().unwrap()]);
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let mut ar = tar::Archive::new(fs::File::open(a.join("epoch.tar")).unwrap());
    for e in ar.entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_700_000_000);
    }
    let layer = &m[docker[0]["Layers"][0].as_str().unwrap()];
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&layer[..]).read_to_end(&mut plain).unwrap();
    for e in tar::Archive::new(&plain[..]).entries().unwrap() {
        assert_eq!(e.unwrap().header().mtime().unwrap(), 1_700_000_000);
    }
}

#[test]
fn a_failed_write_leaves_nothing() {
    if common::hermetic_skip_without(&[REDIS]) {
        return;
    }
    require(REDIS, "redis-server");
    let t = tempfile::tempdir().unwrap();
    for bad in [&["--expose", "http"][..], &["--tag", "Not A Name"][..], &["--env", "NOEQUALS"][..]] {
        let o = cli()
            .current_dir(t.path())
            .args([REDIS, "--oci-archive", "x.tar", "--oci-layout", "lay", "--tar", "r.tar"])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", out_text(&o));
        let left: Vec<_> = fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{bad:?} left {left:?}");
    }
    // A layout destination that is not empty: refused, and the archive is not left either.
    fs::create_dir(t.path().join("lay")).unwrap();
    fs::write(t.path().join("lay/keep"), "x").unwrap();
    let o =
        cli().current_dir(t.path()).args([REDIS, "--oci-archive", "x.tar", "--oci-layout", "lay"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    assert!(!t.path().join("x.tar").exists());
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

// --- Platforms --------------------------------------------------------------------------------

/// A minimal static executable: an ELF header and one PT_LOAD, for `machine` (checked with
/// readelf by the caller).
fn tiny_elf(machine: u16, flags: u32, elf64: bool, big_endian: bool) -> Vec<u8> {
    let mut b = Vec::new();
    let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u64b = |v: u64| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    b.extend_from_slice(&[0x7f, b'E', b'L', b'F', if elf64 { 2 } else { 1 }, if big_endian { 2 } else { 1 }, 1]);
    b.resize(16, 0);
    b.extend_from_slice(&u16b(2)); // ET_EXEC
    b.extend_from_slice(&u16b(machine));
    b.extend_from_slice(&u32b(1));
    let (ehsize, phentsize) = if elf64 { (64u16, 56u16) } else { (52, 32) };
    let total = u64::from(ehsize + phentsize) + 4;
    if elf64 {
        b.extend_from_slice(&u64b(0x400000 + 120)); // e_entry
        b.extend_from_slice(&u64b(64)); // e_phoff
        b.extend_from_slice(&u64b(0)); // e_shoff
    } else {
        b.extend_from_slice(&u32b(0x10000 + 84));
        b.extend_from_slice(&u32b(52));
        b.extend_from_slice(&u32b(0));
    }
    b.extend_from_slice(&u32b(flags));
    for v in [ehsize, phentsize, 1, if elf64 { 64 } else { 40 }, 0, 0] {
        b.extend_from_slice(&u16b(v));
    }
    if elf64 {
        b.extend_from_slice(&u32b(1)); // PT_LOAD
        b.extend_from_slice(&u32b(5));
        for v in [0, 0x400000, 0x400000, total, total, 0x1000] {
            b.extend_from_slice(&u64b(v));
        }
    } else {
        for v in [1, 0, 0x10000, 0x10000, total as u32, total as u32, 5, 0x1000] {
            b.extend_from_slice(&u32b(v));
        }
    }
    b.extend_from_slice(&[0; 4]);
    b
}

fn readelf_header(p: &Path) -> String {
    let o = Command::new("readelf").arg("-h").arg(p).output().expect("readelf (binutils)");
    assert!(o.status.success(), "readelf -h {}: {}", p.display(), out_text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn config_of(archive: &Path) -> Value {
    let m = members(archive);
    let docker = json(&m["manifest.json"]);
    json(&m[docker[0]["Config"].as_str().unwrap()])
}

#[test]
fn config_platform_follows_the_elf_machine() {
    // (machine, e_flags, 64-bit, big-endian, readelf's words, architecture, variant)
    type Case = (u16, u32, bool, bool, &'static [&'static str], &'static str, Option<&'static str>);
    let cases: &[Case] = &[
        (183, 0, true, false, &["AArch64"], "arm64", Some("v8")),
        (40, 0x0500_0400, false, false, &["ARM", "hard-float ABI"], "arm", Some("v7")),
        (40, 0x0500_0200, false, false, &["ARM", "soft-float ABI"], "arm", Some("v5")),
        (3, 0, false, false, &["Intel 80386"], "386", None),
        (21, 2, true, false, &["PowerPC64", "little endian"], "ppc64le", None),
        (22, 0, true, true, &["IBM S/390", "big endian"], "s390x", None),
        (243, 5, true, false, &["RISC-V"], "riscv64", None),
        (62, 0, true, false, &["X86-64"], "amd64", None),
    ];
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("bin")).unwrap();
    for (i, (machine, flags, elf64, be, words, arch, variant)) in cases.iter().enumerate() {
        let exe = root.join(format!("bin/p{i}"));
        fs::write(&exe, tiny_elf(*machine, *flags, *elf64, *be)).unwrap();
        let h = readelf_header(&exe);
        for w in *words {
            assert!(h.contains(w), "readelf does not see {w:?} in the synthetic file:\n{h}");
        }
        let archive = t.path().join(format!("p{i}.tar"));
        run_ok(cli().arg("--root").arg(&root).arg(format!("/bin/p{i}")).arg("--oci-archive").arg(&archive));
        let c = config_of(&archive);
        assert_eq!(c["architecture"], *arch, "{words:?}");
        assert_eq!(c["variant"].as_str(), *variant, "{words:?}");
        assert_eq!(c["config"]["Entrypoint"], serde_json::json!([format!("/bin/p{i}")]));
    }
    // Two machines in one image: an error naming both, and no archive.
    let archive = t.path().join("mixed.tar");
    let o =
        cli().arg("--root").arg(&root).args(["/bin/p0", "/bin/p1", "--oci-archive"]).arg(&archive).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mixed machines") && err.contains("p0") && err.contains("p1"), "{err}");
    assert!(!archive.exists());
}

#[test]
fn an_arm64_root_gives_an_arm64_image() {
    if common::hermetic_skip("downloaded Debian arm64 packages (network), qemu-user-static and skopeo") {
        return;
    }
    let cache = common::roots_cache();
    let root = cache.join("roots/arm64");
    let must = std::env::var("DEPCLOSE_REQUIRE_FOREIGN").map(|v| v == "1").unwrap_or(false);
    let skip = |why: String| {
        assert!(!must, "arm64 root: {why} and DEPCLOSE_REQUIRE_FOREIGN=1");
        eprintln!("\n**********\n*** SKIPPED arm64 image: {why}\n*** (config_platform_follows_the_elf_machine covers the mapping)\n**********\n");
    };
    if !is_root() {
        return skip("building the root needs root".into());
    }
    // The script returns at once when the root is already built (tests/foreign_roots.rs builds it too).
    let o = common::make_foreign_root("arm64", &root).unwrap();
    if !o.status.success() {
        return skip(format!("scripts/make-foreign-root.sh failed: {}", out_text(&o)));
    }
    let h = readelf_header(&root.join("usr/bin/bash"));
    assert!(h.contains("AArch64"), "{h}");
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("bash.tar");
    run_ok(
        cli()
            .arg("--root")
            .arg(&root)
            .args(["/usr/bin/bash", "--oci-archive"])
            .arg(&archive)
            .args(["--tag", "bash:arm64"]),
    );
    let c = config_of(&archive);
    assert_eq!(c["architecture"], "arm64");
    assert_eq!(c["variant"], "v8");
    assert_eq!(c["os"], "linux");
    if Path::new("/usr/bin/skopeo").exists() {
        let src = format!("oci-archive:{}:bash:arm64", archive.display());
        let o = run_ok(Command::new("skopeo").args(["--override-arch", "arm64", "inspect", &src]));
        assert_eq!(json(&o.stdout)["Architecture"], "arm64");
    }
    // --verify resolves the arm64 image's ELF files with its own loader's rules.
    let o = run_ok(cli().arg("--verify").arg(&archive));
    assert!(String::from_utf8_lossy(&o.stdout).contains(": sound (OCI archive, "), "{}", out_text(&o));
}

#[test]
fn an_uncompressed_layer_is_accepted_too() {
    if common::hermetic_skip("skopeo (apt-get install skopeo)") {
        return;
    }
    require(REDIS, "redis-server");
    require("/usr/bin/skopeo", "skopeo");
    require("/usr/bin/umoci", "umoci");
    let t = tempfile::tempdir().unwrap();
    let archive = t.path().join("plain.tar");
    let layout = t.path().join("layout");
    run_ok(cli().arg(REDIS).arg("--oci-archive").arg(&archive).arg("--oci-layout").arg(&layout).args([
        "--tag",
        TAG,
        "--layer-compression",
        "none",
    ]));
    let m = members(&archive);
    let docker = json(&m["manifest.json"]);
    let config = json(&m[docker[0]["Config"].as_str().unwrap()]);
    let layer_name = docker[0]["Layers"][0].as_str().unwrap();
    let layer = &m[layer_name];
    assert_eq!(config["rootfs"]["diff_ids"][0], format!("sha256:{}", sha256_hex(layer)));
    let index = json(&m["index.json"]);
    let mhex = index["manifests"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap();
    let manifest = json(&m[&format!("blobs/sha256/{mhex}")]);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar");
    assert!(tar::Archive::new(&layer[..]).entries().unwrap().any(|e| e
        .unwrap()
        .path()
        .unwrap()
        .ends_with("redis-server")));
    let out = t.path().join("copied");
    let src = format!("oci-archive:{}:{TAG}", archive.display());
    run_ok(Command::new("skopeo").args(["--insecure-policy", "copy", &src]).arg(format!("dir:{}", out.display())));
    let bundle = t.path().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:{TAG}", layout.display()))
            .arg(&bundle),
    );
    assert!(bundle.join("rootfs/usr/bin/redis-check-rdb").is_file());
    // gzip:1 and a bad value.
    run_ok(
        cli().arg(REDIS).arg("--oci-archive").arg(t.path().join("fast.tar")).args(["--layer-compression", "gzip:1"]),
    );
    let o = cli()
        .arg(REDIS)
        .arg("--oci-archive")
        .arg(t.path().join("bad.tar"))
        .args(["--layer-compression", "zstd"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    assert!(!t.path().join("bad.tar").exists());
}
