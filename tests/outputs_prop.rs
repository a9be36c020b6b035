//! Issue 15, done-when 2: a property test over generated trees (names of arbitrary bytes,
//! modes 0-7777, hard links, symlinks relative, absolute, dangling, looping and escaping)
//! added to a rootfs with `--add`: the archive and the directory output hold exactly the
//! tree's in-root contents, the manifest lists exactly the archive's entries with byte-exact
//! names, and nothing from outside the root appears.
//!
//! Run with `cargo test --all-features --test outputs_prop` (as root: modes without owner
//! permissions are generated only then).
#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use common::cli;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// What a generated node is.
#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    /// A hard link to the `n % files`-th file made before it.
    HardLink(usize),
    Symlink(Link),
}

#[derive(Clone, Debug)]
enum Link {
    /// To the `n % nodes`-th node, relatively.
    Relative(usize),
    /// To the `n % nodes`-th node, by its absolute in-root path.
    Absolute(usize),
    Dangling(Vec<u8>),
    /// To itself.
    Loop,
    /// `../` far above the root, then a host file.
    Escaping,
    /// An absolute path of the host that the root lacks.
    Host,
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    let byte = any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0);
    prop_oneof![
        9 => prop::collection::vec(byte.clone(), 1..10),
        1 => prop::collection::vec(byte, 100..130),
    ]
    .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn mode(full: bool) -> impl Strategy<Value = u32> {
    (0u32..=0o7777).prop_map(move |m| if full { m } else { m | 0o700 })
}

fn node(full: bool) -> impl Strategy<Value = Node> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..300), mode(full)).prop_map(|(data, mode)| Node::File { data, mode }),
        2 => mode(full).prop_map(|mode| Node::Dir { mode }),
        1 => any::<usize>().prop_map(Node::HardLink),
        1 => any::<usize>().prop_map(|n| Node::Symlink(Link::Relative(n))),
        1 => any::<usize>().prop_map(|n| Node::Symlink(Link::Absolute(n))),
        1 => name().prop_map(|n| Node::Symlink(Link::Dangling(n))),
        1 => Just(Node::Symlink(Link::Loop)),
        1 => Just(Node::Symlink(Link::Escaping)),
        1 => Just(Node::Symlink(Link::Host)),
    ]
}

/// Nodes with a parent index (into the directories made so far; 0 is the tree's top).
fn tree(full: bool) -> impl Strategy<Value = Vec<(usize, Vec<u8>, Node)>> {
    prop::collection::vec((any::<usize>(), name(), node(full)), 1..24)
}

/// One entry of an output, by in-root path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    File { data: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink(Vec<u8>),
}

/// The tree made on disk under `root/tree`: in-root paths to what each must be.
fn make(root: &Path, nodes: &[(usize, Vec<u8>, Node)]) -> BTreeMap<Vec<u8>, Seen> {
    let mut want: BTreeMap<Vec<u8>, Seen> = BTreeMap::new();
    let mut dirs: Vec<Vec<u8>> = vec![b"/tree".to_vec()];
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut all: Vec<Vec<u8>> = Vec::new();
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    fs::create_dir(root.join("tree")).unwrap();
    for (parent, n, node) in nodes {
        let dir = dirs[parent % dirs.len()].clone();
        let path = [&dir[..], b"/", n].concat();
        if want.contains_key(&path) {
            continue;
        }
        let host = root.join(OsStr::from_bytes(&path[1..]));
        let seen = match node {
            Node::File { data, mode } => {
                fs::write(&host, data).unwrap();
                fs::set_permissions(&host, fs::Permissions::from_mode(*mode)).unwrap();
                files.push(path.clone());
                Seen::File { data: data.clone(), mode: *mode }
            }
            Node::Dir { mode } => {
                fs::create_dir(&host).unwrap();
                dir_modes.push((host.clone(), *mode));
                dirs.push(path.clone());
                Seen::Dir { mode: *mode }
            }
            Node::HardLink(k) if !files.is_empty() => {
                let to = &files[k % files.len()];
                fs::hard_link(root.join(OsStr::from_bytes(&to[1..])), &host).unwrap();
                want[to].clone()
            }
            Node::HardLink(_) => continue,
            Node::Symlink(l) => {
                let target: Vec<u8> = match l {
                    Link::Relative(k) | Link::Absolute(k) if all.is_empty() => {
                        let _ = k;
                        b"nothing-yet".to_vec()
                    }
                    Link::Relative(k) => relative(&dir, &all[k % all.len()]),
                    Link::Absolute(k) => all[k % all.len()].clone(),
                    Link::Dangling(d) => d.clone(),
                    Link::Loop => n.clone(),
                    Link::Escaping => b"../../../../../../../../etc/hostname".to_vec(),
                    Link::Host => b"/etc/hostname".to_vec(),
                };
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &host).unwrap();
                Seen::Symlink(target)
            }
        };
        all.push(path.clone());
        want.insert(path, seen);
    }
    // Directory modes last (a directory without write permission could not be filled).
    for (host, mode) in dir_modes.iter().rev() {
        fs::set_permissions(host, fs::Permissions::from_mode(*mode)).unwrap();
    }
    want
}

/// `to` relative to directory `from` (both absolute in-root paths).
fn relative(from: &[u8], to: &[u8]) -> Vec<u8> {
    let f: Vec<&[u8]> = from.split(|b| *b == b'/').filter(|c| !c.is_empty()).collect();
    let t: Vec<&[u8]> = to.split(|b| *b == b'/').filter(|c| !c.is_empty()).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&[u8]> = vec![b".."; f.len() - common];
    parts.extend(&t[common..]);
    if parts.is_empty() {
        return b".".to_vec();
    }
    parts.join(&b"/"[..])
}

/// Does a relative symlink target at `link` climb above the root?
fn climbs(link: &[u8], target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let mut depth = link.split(|b| *b == b'/').filter(|c| !c.is_empty()).count() as i64 - 1;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

fn read_tar(p: &Path) -> BTreeMap<Vec<u8>, Seen> {
    let mut a = tar::Archive::new(fs::File::open(p).unwrap());
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path_bytes().into_owned();
        let name = [&b"/"[..], name.strip_suffix(b"/").unwrap_or(&name)].concat();
        let mode = e.header().mode().unwrap() & 0o7777;
        let seen = match e.header().entry_type() {
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Seen::File { data, mode }
            }
            tar::EntryType::Link => {
                let target = e.link_name_bytes().unwrap().into_owned();
                let target = [&b"/"[..], &target].concat();
                out.get(&target).cloned().expect("a hard link to an earlier member")
            }
            tar::EntryType::Directory => Seen::Dir { mode },
            tar::EntryType::Symlink => Seen::Symlink(e.link_name_bytes().unwrap().into_owned()),
            t => panic!("unexpected member type {t:?}"),
        };
        assert!(out.insert(name.clone(), seen).is_none(), "{} twice", String::from_utf8_lossy(&name));
    }
    out
}

fn read_dir_output(d: &Path) -> BTreeMap<Vec<u8>, Seen> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(d).min_depth(1) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(d).unwrap();
        let name = [&b"/"[..], rel.as_os_str().as_bytes()].concat();
        let m = fs::symlink_metadata(e.path()).unwrap();
        let mode = m.mode() & 0o7777;
        let seen = if m.file_type().is_symlink() {
            Seen::Symlink(fs::read_link(e.path()).unwrap().as_os_str().as_bytes().to_vec())
        } else if m.is_dir() {
            Seen::Dir { mode }
        } else {
            Seen::File { data: fs::read(e.path()).unwrap(), mode }
        };
        out.insert(name, seen);
    }
    out
}

fn exact_path(entry: &serde_json::Value, field: &str) -> Vec<u8> {
    match entry.get(format!("{field}_bytes")).and_then(|v| v.as_str()) {
        Some(_) => depclose::emit::path_from_json(entry, field).unwrap().as_os_str().as_bytes().to_vec(),
        None => entry[field].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// A root with `/t` (the host's `true`) and its libraries.
fn base_root(r: &Path) {
    for d in ["lib64", "lib/x86_64-linux-gnu"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::copy("/bin/true", r.join("t")).unwrap();
    fs::copy("/lib64/ld-linux-x86-64.so.2", r.join("lib64/ld-linux-x86-64.so.2")).unwrap();
    fs::copy("/lib/x86_64-linux-gnu/libc.so.6", r.join("lib/x86_64-linux-gnu/libc.so.6")).unwrap();
}

fn check(nodes: &[(usize, Vec<u8>, Node)]) -> Result<(), TestCaseError> {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    fs::create_dir(&r).unwrap();
    base_root(&r);
    let want = make(&r, nodes);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = cli()
        .arg("--root")
        .arg(&r)
        .args(["/t", "--add", "/tree", "--runtime", "none", "--quiet"])
        .arg("--tar")
        .arg(out.join("o.tar"))
        .arg("--dir")
        .arg(out.join("d"))
        .arg("--manifest")
        .arg(out.join("m.json"))
        .output()
        .unwrap();
    prop_assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let tar = read_tar(&out.join("o.tar"));
    let dir = read_dir_output(&out.join("d"));
    // The directory output is the archive.
    prop_assert_eq!(&dir, &tar);
    // Every node of the tree, exactly (an escaping relative link is kept inside the root).
    for (path, seen) in &want {
        let got = tar.get(path);
        prop_assert!(got.is_some(), "{} missing", String::from_utf8_lossy(path));
        match (seen, got.unwrap()) {
            (Seen::Symlink(t), Seen::Symlink(g)) if climbs(path, t) => {
                prop_assert!(
                    !climbs(path, g),
                    "{} still climbs: {}",
                    String::from_utf8_lossy(path),
                    String::from_utf8_lossy(g)
                );
            }
            (s, g) => prop_assert_eq!(s, g, "{}", String::from_utf8_lossy(path)),
        }
    }
    // Nothing else but what the root has at that path (the closure of /t, link targets,
    // parent directories, the mount points): nothing from outside the root.
    for (path, seen) in &tar {
        if want.contains_key(path) {
            continue;
        }
        let host = r.join(OsStr::from_bytes(&path[1..]));
        match seen {
            Seen::File { data, .. } => {
                let m = fs::symlink_metadata(&host);
                prop_assert!(m.is_ok(), "{} is not in the root", String::from_utf8_lossy(path));
                prop_assert_eq!(&fs::read(&host).unwrap(), data, "{}", String::from_utf8_lossy(path));
            }
            Seen::Symlink(target) => {
                prop_assert_eq!(&fs::read_link(&host).unwrap().as_os_str().as_bytes().to_vec(), target);
            }
            Seen::Dir { .. } => {}
        }
    }
    // The manifest lists exactly the archive's entries, byte-exact.
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(out.join("m.json")).unwrap()).unwrap();
    let mut listed: Vec<Vec<u8>> = doc["entries"].as_array().unwrap().iter().map(|e| exact_path(e, "path")).collect();
    listed.sort();
    let members: Vec<Vec<u8>> = tar.keys().cloned().collect();
    prop_assert_eq!(listed, members);
    for e in doc["entries"].as_array().unwrap() {
        if e["kind"] == "symlink" {
            match tar.get(&exact_path(e, "path")) {
                Some(Seen::Symlink(t)) => prop_assert_eq!(&exact_path(e, "target"), t),
                other => prop_assert!(false, "manifest symlink, archive {:?}", other),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn outputs_hold_exactly_the_tree(nodes in tree(is_root())) {
        check(&nodes)?;
    }
}
