//! The SBOM and the dpkg records: `--sbom FILE` validated by the SPDX project's own
//! validator (`pyspdxtools -i`), its packages and versions compared with `dpkg-query`, its
//! file ownership with `dpkg-query -S`, its checksums with the image's files; the image's
//! `/var/lib/dpkg/status.d/` records parsed as deb822 by Python's `email.parser` and their
//! `.md5sums` checked against the files shipped; a root without a dpkg database.
//!
//! Needs `pip install spdx-tools` (scripts/test.sh does it), `redis-server` and `dpkg`.
//! Run with `cargo test --all-features --test sbom`.
#![cfg(feature = "cli")]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::Digest;

mod common;
use common::chroot::out_text;

const REDIS: &str = "/usr/bin/redis-server";

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_depclose-cli"));
    c.env_remove("LD_LIBRARY_PATH").env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

fn run_ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", out_text(&o));
    o
}

fn pyspdxtools(file: &Path) {
    let o = Command::new("pyspdxtools").arg("-i").arg(file).output().unwrap_or_else(|e| {
        panic!("pyspdxtools cannot run ({e}): pip install spdx-tools");
    });
    assert!(o.status.success(), "pyspdxtools -i {}: {}", file.display(), out_text(&o));
    let text = out_text(&o);
    assert!(!text.contains("ValidationMessage") && !text.contains("invalid"), "{text}");
}

/// `(version, architecture)` of an installed package, from `dpkg-query -W`.
fn dpkg_query(name: &str) -> (String, String) {
    let o = run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}\t${Architecture}\n", name]));
    let s = String::from_utf8(o.stdout).unwrap();
    let line = s.lines().next().unwrap_or_default();
    let (v, a) = line.split_once('\t').unwrap();
    (v.to_string(), a.to_string())
}

/// The packages `dpkg-query -S` says own the host file `path` (matched by the real path of
/// every listed name with its file name, so that merged-/usr names count).
fn dpkg_owners(path: &Path) -> BTreeSet<String> {
    let base = path.file_name().unwrap().to_str().unwrap();
    let o = Command::new("dpkg-query").arg("-S").arg(format!("*/{base}")).output().unwrap();
    let real = fs::canonicalize(path).unwrap();
    let mut out = BTreeSet::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let Some((pkgs, p)) = line.split_once(": ") else { continue };
        if p.starts_with('/')
            && fs::canonicalize(p).ok().as_deref() == Some(real.as_path())
            && !fs::metadata(p).unwrap().is_dir()
            // A package's symlink to the file (openjdk's lib/security/cacerts ->
            // /etc/ssl/certs/java/cacerts) does not make it the file's owner.
            && !fs::symlink_metadata(p).map(|m| m.file_type().is_symlink()).unwrap_or(true)
        {
            for pkg in pkgs.split(", ") {
                out.insert(pkg.split(':').next().unwrap().to_string());
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn untar(tarball: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    run_ok(Command::new("tar").arg("-xpf").arg(tarball).arg("-C").arg(dest));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn require_redis() {
    assert!(Path::new(REDIS).exists(), "{REDIS} is missing: apt-get install redis-server");
}

#[test]
fn sbom_validates_and_names_every_package_with_its_version() {
    if common::hermetic_skip("spdx-tools (pip), dpkg-query and python3") {
        return;
    }
    require_redis();
    let t = tempfile::tempdir().unwrap();
    let sbom = t.path().join("sbom.json");
    let tarball = t.path().join("r.tar");
    // Few zones and gconv modules: the runtime packs' files are in the SBOM, and the SPDX
    // validator's time grows with the file count.
    run_ok(
        cli()
            .args([REDIS, "/usr/bin/curl", "--tz", "UTC", "--gconv", "UTF-16", "--tar"])
            .arg(&tarball)
            .arg("--sbom")
            .arg(&sbom),
    );
    pyspdxtools(&sbom);
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let packages = doc["packages"].as_array().unwrap();
    let files = doc["files"].as_array().unwrap();
    let rels = doc["relationships"].as_array().unwrap();
    let image_id = rels.iter().find(|r| r["relationshipType"] == "DESCRIBES").unwrap()["relatedSpdxElement"].clone();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new(); // package SPDXID -> name
    for p in packages.iter().filter(|p| p["SPDXID"] != image_id) {
        let name = p["name"].as_str().unwrap();
        let (version, arch) = dpkg_query(name);
        assert_eq!(p["versionInfo"], version, "{name}");
        let purl = p["externalRefs"][0]["referenceLocator"].as_str().unwrap();
        assert_eq!(p["externalRefs"][0]["referenceType"], "purl");
        assert_eq!(percent_decode(purl), format!("pkg:deb/debian/{name}@{version}?arch={arch}"), "{purl}");
        by_id.insert(p["SPDXID"].as_str().unwrap().to_string(), name.to_string());
        assert!(
            rels.iter().any(|r| r["spdxElementId"] == image_id
                && r["relatedSpdxElement"] == p["SPDXID"]
                && r["relationshipType"] == "CONTAINS"),
            "the image does not contain {name}"
        );
    }
    for want in ["libc6", "libssl3", "redis-tools", "curl", "libcurl4"] {
        assert!(by_id.values().any(|n| n == want), "{want} missing from {by_id:?}");
    }
    // Every file: checksums of the image's file; its owners as dpkg-query -S says.
    let root = t.path().join("root");
    untar(&tarball, &root);
    let mut files_seen = 0;
    for f in files {
        let name = f["fileName"].as_str().unwrap().strip_prefix("./").unwrap();
        let bytes = fs::read(root.join(name)).unwrap();
        let sums: BTreeMap<&str, &str> = f["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["algorithm"].as_str().unwrap(), c["checksumValue"].as_str().unwrap()))
            .collect();
        assert_eq!(sums["SHA256"], hex(&sha2::Sha256::digest(&bytes)), "{name}");
        assert_eq!(sums["SHA1"], hex(&sha1::Sha1::digest(&bytes)), "{name}");
        let owners: BTreeSet<String> = rels
            .iter()
            .filter(|r| r["relationshipType"] == "CONTAINS" && r["relatedSpdxElement"] == f["SPDXID"])
            .filter_map(|r| by_id.get(r["spdxElementId"].as_str().unwrap()).cloned())
            .collect();
        if name.starts_with("var/lib/dpkg/status.d/") {
            assert!(owners.is_empty(), "{name}: {owners:?}");
            assert!(f["comment"].as_str().unwrap().contains("not owned by any Debian package"));
            continue;
        }
        files_seen += 1;
        let expected = dpkg_owners(&Path::new("/").join(name));
        assert_eq!(owners, expected, "{name}");
        if expected.is_empty() {
            assert!(f["comment"].as_str().unwrap().contains("not owned by any Debian package"), "{name}");
            assert!(rels.iter().any(|r| r["spdxElementId"] == image_id && r["relatedSpdxElement"] == f["SPDXID"]));
        }
    }
    assert!(files_seen > 20, "{files_seen} files");
    // Same inputs, same bytes.
    let again = t.path().join("again.json");
    run_ok(
        cli()
            .args([REDIS, "/usr/bin/curl", "--tz", "UTC", "--gconv", "UTF-16", "--sbom"])
            .arg(&again)
            .arg("--threads")
            .arg("3"),
    );
    let a: Value = serde_json::from_slice(&fs::read(&again).unwrap()).unwrap();
    // (without --tar no records are added, so compare the packages only)
    assert_eq!(a["packages"], doc["packages"]);
}

#[test]
fn status_d_records_parse_as_deb822_with_the_installed_versions() {
    if common::hermetic_skip("spdx-tools (pip), dpkg-query and python3") {
        return;
    }
    require_redis();
    let t = tempfile::tempdir().unwrap();
    let tarball = t.path().join("r.tar");
    run_ok(cli().args([REDIS, "--tar"]).arg(&tarball));
    let root = t.path().join("root");
    untar(&tarball, &root);
    let statusd = root.join("var/lib/dpkg/status.d");
    // Python's RFC 822 parser reads each record; it prints name, version, architecture.
    let script = r#"
import email.parser, hashlib, json, os, sys
root, d = sys.argv[1], sys.argv[2]
out = {}
for n in sorted(os.listdir(d)):
    p = os.path.join(d, n)
    if n.endswith('.md5sums'):
        bad = []
        for line in open(p, encoding='utf-8'):
            md5, path = line.rstrip('\n').split('  ', 1)
            f = os.path.join(root, path)
            if hashlib.md5(open(f, 'rb').read()).hexdigest() != md5:
                bad.append(path)
        out[n] = {'md5_bad': bad, 'lines': sum(1 for _ in open(p))}
    else:
        m = email.parser.Parser().parse(open(p, encoding='utf-8'))
        out[n] = {'Package': m['Package'], 'Version': m['Version'], 'Architecture': m['Architecture'], 'Status': m['Status']}
print(json.dumps(out))
"#;
    let o = run_ok(Command::new("python3").arg("-c").arg(script).arg(&root).arg(&statusd));
    let records: BTreeMap<String, Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut names = BTreeSet::new();
    for (file, r) in &records {
        if let Some(base) = file.strip_suffix(".md5sums") {
            assert_eq!(r["md5_bad"], serde_json::json!([]), "{file}");
            assert!(r["lines"].as_u64().unwrap() > 0, "{file}");
            assert!(records.contains_key(base), "{file} without its status record");
            continue;
        }
        let name = r["Package"].as_str().unwrap();
        assert_eq!(file, name);
        let (version, arch) = dpkg_query(name);
        assert_eq!(r["Version"], version, "{name}");
        assert_eq!(r["Architecture"], arch, "{name}");
        assert_eq!(r["Status"], "install ok installed", "{name}");
        names.insert(name.to_string());
    }
    for want in ["libc6", "libssl3", "redis-tools", "redis-server"] {
        assert!(names.contains(want), "{want} missing from {names:?}");
    }
    // Only shipped files in the md5sums: every line names a file of the image (checked
    // above by hashing it); and a package is there only if a file of it is.
    let libc = fs::read_to_string(statusd.join("libc6.md5sums")).unwrap();
    assert!(libc.contains("x86_64-linux-gnu/libc.so.6\n"), "{libc}");
    assert!(!libc.contains("libnss_files"), "not shipped: {libc}");
    // --no-dpkg-records leaves them out.
    let plain = t.path().join("plain.tar");
    run_ok(cli().args([REDIS, "--no-dpkg-records", "--tar"]).arg(&plain));
    let o = run_ok(Command::new("tar").arg("-tf").arg(&plain));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("var/lib/dpkg"), "{}", out_text(&o));
    // The image with its records passes --verify with the manifest written with it.
    let img = t.path().join("img.tar");
    run_ok(cli().args([REDIS, "--tar"]).arg(&img).arg("--manifest").arg(t.path().join("img.manifest.json")));
    let o = run_ok(cli().arg("--verify").arg(&img));
    assert!(String::from_utf8_lossy(&o.stdout).contains("sound (tar"), "{}", out_text(&o));
}

/// A minimal static x86-64 executable (header and one PT_LOAD).
fn tiny_elf() -> Vec<u8> {
    let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1];
    b.resize(16, 0);
    for v in [2u16, 62] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes());
    for v in [0x400078u64, 64, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&5u32.to_le_bytes());
    for v in [0u64, 0x400000, 0x400000, 124, 124, 0x1000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0xf4, 0, 0, 0]);
    b
}

#[test]
fn a_root_without_a_dpkg_database_gets_no_records_and_a_note() {
    if common::hermetic_skip("spdx-tools (pip), dpkg-query and python3") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(root.join("bin/prog"), tiny_elf()).unwrap();
    let sbom = t.path().join("sbom.json");
    let tarball = t.path().join("r.tar");
    // The bare closure (--runtime none): the listing below is exactly the program.
    let o = run_ok(
        cli()
            .arg("--root")
            .arg(&root)
            .args(["/bin/prog", "--runtime", "none", "--tar"])
            .arg(&tarball)
            .arg("--sbom")
            .arg(&sbom),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no dpkg database"), "{}", out_text(&o));
    let list = run_ok(Command::new("tar").arg("-tf").arg(&tarball));
    assert_eq!(String::from_utf8_lossy(&list.stdout), "bin/\nbin/prog\n");
    pyspdxtools(&sbom);
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    assert_eq!(doc["packages"].as_array().unwrap().len(), 1, "only the image");
    let f = &doc["files"][0];
    assert_eq!(f["fileName"], "./bin/prog");
    assert_eq!(f["comment"], "not owned by any Debian package");
    // A database that exists but is empty: no package, no record, not an error.
    let dpkg: PathBuf = root.join("var/lib/dpkg");
    fs::create_dir_all(&dpkg).unwrap();
    fs::write(dpkg.join("status"), "").unwrap();
    let o = run_ok(cli().arg("--root").arg(&root).args(["/bin/prog", "--quiet", "--tar"]).arg(t.path().join("r2.tar")));
    assert!(o.stderr.is_empty(), "{}", out_text(&o));
}

#[test]
fn a_synthetic_dpkg_database_is_read_without_leaving_the_root() {
    if common::hermetic_skip("spdx-tools (pip), dpkg-query and python3") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    let prog = tiny_elf();
    fs::write(root.join("bin/prog"), &prog).unwrap();
    std::os::unix::fs::symlink("prog", root.join("bin/alias")).unwrap();
    let md5 = String::from_utf8(run_ok(Command::new("md5sum").arg(root.join("bin/prog"))).stdout).unwrap();
    let md5 = md5.split_whitespace().next().unwrap().to_string();
    let status = "Package: tiny\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1:1.0-1+b1\nDescription: a tiny package\n more text\n\n\
                  Package: evil\nStatus: install ok installed\nArchitecture: all\nVersion: 6.6.6\n\n\
                  Package: gone\nStatus: deinstall ok config-files\nArchitecture: all\nVersion: 0\n";
    fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    fs::write(root.join("var/lib/dpkg/info/tiny:amd64.list"), "/.\n/bin\n/bin/prog\n/bin/alias\n/bin/not-shipped\n")
        .unwrap();
    fs::write(
        root.join("var/lib/dpkg/info/tiny:amd64.md5sums"),
        format!("{md5}  bin/prog\n00000000000000000000000000000000  bin/not-shipped\n"),
    )
    .unwrap();
    // A list outside the root, reached by a symlink: not followed, evil owns nothing.
    let outside = t.path().join("evil.list");
    fs::write(&outside, "/bin/prog\n").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("var/lib/dpkg/info/evil.list")).unwrap();
    fs::write(root.join("var/lib/dpkg/info/gone.list"), "/bin/prog\n").unwrap();
    let tarball = t.path().join("r.tar");
    let sbom = t.path().join("sbom.json");
    run_ok(cli().arg("--root").arg(&root).args(["/bin/alias", "--tar"]).arg(&tarball).arg("--sbom").arg(&sbom));
    pyspdxtools(&sbom);
    let list = run_ok(Command::new("tar").arg("-tf").arg(&tarball));
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(names.contains("var/lib/dpkg/status.d/tiny\n"), "{names}");
    assert!(!names.contains("status.d/evil") && !names.contains("status.d/gone"), "{names}");
    let x = t.path().join("x");
    untar(&tarball, &x);
    assert_eq!(
        fs::read_to_string(x.join("var/lib/dpkg/status.d/tiny")).unwrap(),
        "Package: tiny\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1:1.0-1+b1\nDescription: a tiny package\n more text\n"
    );
    assert_eq!(fs::read_to_string(x.join("var/lib/dpkg/status.d/tiny.md5sums")).unwrap(), format!("{md5}  bin/prog\n"));
    let doc: Value = serde_json::from_slice(&fs::read(&sbom).unwrap()).unwrap();
    let pkgs: Vec<(&str, &str)> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["versionInfo"].as_str()?)))
        .collect();
    assert_eq!(pkgs, [("tiny", "1:1.0-1+b1")]);
    let purl = doc["packages"][1]["externalRefs"][0]["referenceLocator"].as_str().unwrap();
    assert_eq!(purl, "pkg:deb/debian/tiny@1%3A1.0-1%2Bb1?arch=amd64");
    // An added /var/lib/dpkg whose status.d is a file of the root: the records give way.
    fs::write(root.join("var/lib/dpkg/status.d"), "not a directory").unwrap();
    let o = run_ok(
        cli()
            .arg("--root")
            .arg(&root)
            .args(["/bin/alias", "--add", "/var/lib/dpkg", "--tar"])
            .arg(t.path().join("r2.tar")),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: no dpkg records in the rootfs"), "{}", out_text(&o));
}
