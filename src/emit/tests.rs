//! In-memory tests of the emitters over hand-built closures and a temporary root.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::bytes::Bytes;
use crate::model::*;
use crate::root::Root;

const LONG_DIR: &str =
    "usr/share/a-directory-name-long-enough/to-push-the-member-name/past-one-hundred-bytes-of-a-tar-header";

/// A small merged-/usr root:
///
/// ```text
/// lib -> usr/lib, lib64 -> usr/lib64
/// usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
/// usr/lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2, libc.so.6, libfoo.so.1.2, libfoo.so.1 -> libfoo.so.1.2}
/// usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1
/// usr/bin/prog (4755), usr/bin/prog-hard (hard link to prog), bin -> usr/bin
/// ```
fn tree() -> (tempfile::TempDir, Root) {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let w = |p: &str, content: &[u8], mode: u32| {
        let p = r.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    w("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", b"ld.so", 0o755);
    w("usr/lib/x86_64-linux-gnu/libc.so.6", b"libc", 0o755);
    w("usr/lib/x86_64-linux-gnu/libfoo.so.1.2", b"foo", 0o644);
    w("usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1", b"foo v3", 0o644);
    w("usr/bin/prog", b"hello", 0o4755);
    w(&format!("{LONG_DIR}/data.txt"), b"long", 0o640);
    fs::hard_link(r.join("usr/bin/prog"), r.join("usr/bin/prog-hard")).unwrap();
    fs::create_dir_all(r.join("usr/lib64")).unwrap();
    symlink("usr/lib", r.join("lib")).unwrap();
    symlink("usr/lib64", r.join("lib64")).unwrap();
    symlink("usr/bin", r.join("bin")).unwrap();
    symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", r.join("usr/lib64/ld-linux-x86-64.so.2")).unwrap();
    symlink("libfoo.so.1.2", r.join("usr/lib/x86_64-linux-gnu/libfoo.so.1")).unwrap();
    symlink("../../../../../../../../../etc/passwd", r.join(format!("{LONG_DIR}/escape"))).unwrap();
    let root = Root::new(r).unwrap();
    (t, root)
}

fn loc(root: &Root, p: &str) -> Location {
    let w = root.walk(p.as_bytes(), true).unwrap();
    Location { path: PathBuf::from(p), realpath: w.realpath, hops: w.hops }
}

fn object(root: &Root, role: Role, p: &str, name: &str, loaded_by: Option<usize>) -> Object {
    let l = loc(root, p);
    let m = fs::metadata(root.host_path(&l.realpath)).unwrap();
    let file = ObjectFile {
        location: l,
        soname: None,
        needed: Vec::new(),
        rpath: None,
        runpath: None,
        flags_1: 0,
        class: Class::Elf64,
        machine: 62,
        mode: m.mode() & 0o7777,
        size: m.len(),
        variants: Vec::new(),
    };
    let mut o = Object::new(role, None, Arc::new(file));
    o.names = vec![Bytes::from(name)];
    o.loaded_by = loaded_by;
    o
}

/// `/bin/prog` needs `libfoo.so.1` (found, with a v3 variant), `libc.so.6`, and
/// `libmissing.so.9` (not found).
fn closure(root: &Root) -> Closure {
    let mut input = object(root, Role::Input, "/bin/prog", "/bin/prog", None);
    Arc::make_mut(&mut input.file).needed = vec!["libfoo.so.1".into(), "libmissing.so.9".into(), "libc.so.6".into()];
    let interp = object(root, Role::Interpreter, "/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", None);
    let mut foo = object(root, Role::Library, "/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1", Some(0));
    Arc::make_mut(&mut foo.file).needed = vec!["libc.so.6".into()];
    Arc::make_mut(&mut foo.file).variants = vec![Variant {
        subdir: "glibc-hwcaps/x86-64-v3".into(),
        location: loc(root, "/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1"),
    }];
    let mut libc = object(root, Role::Library, "/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6", Some(0));
    Arc::make_mut(&mut libc.file).needed = vec!["ld-linux-x86-64.so.2".into()];
    let edge = |from, name: &str, to, via| Edge { from, name: name.into(), to, via };
    Closure {
        input: PathBuf::from("/bin/prog"),
        root: root.host_dir().to_path_buf(),
        libc: Libc::Glibc,
        linkage: Linkage::Dynamic,
        interpreter: Some("/lib64/ld-linux-x86-64.so.2".into()),
        loader_files: Vec::new(),
        dlopened: Vec::new(),
        objects: vec![input, interp, foo, libc],
        edges: vec![
            edge(0, "/lib64/ld-linux-x86-64.so.2", 1, FoundVia::Interpreter),
            edge(0, "libfoo.so.1", 2, FoundVia::Runpath),
            edge(0, "libc.so.6", 3, FoundVia::LdCache),
            edge(2, "libc.so.6", 3, FoundVia::AlreadyLoaded),
            edge(3, "ld-linux-x86-64.so.2", 1, FoundVia::AlreadyLoaded),
        ],
        missing: vec![Missing {
            from: 0,
            name: "libmissing.so.9".into(),
            tried: vec![Attempt {
                path: PathBuf::from("/usr/lib/libmissing.so.9"),
                via: FoundVia::DefaultDir,
                rejection: Rejection::NotFound,
            }],
        }],
        fatal: None,
        diagnostics: Vec::new(),
    }
}

fn plan_of(c: &Closure) -> Rootfs {
    Rootfs::builder().closure(c).add("/usr/bin/prog-hard").build().unwrap()
}

fn paths(plan: &Rootfs) -> Vec<String> {
    plan.entries().iter().map(|e| e.path.to_string_lossy().into_owned()).collect()
}

#[test]
fn plan_has_every_file_hop_and_parent_sorted() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    assert_eq!(
        paths(&plan),
        [
            "/bin",
            "/lib",
            "/lib64",
            "/usr",
            "/usr/bin",
            "/usr/bin/prog",
            "/usr/bin/prog-hard",
            "/usr/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu/glibc-hwcaps",
            "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3",
            "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1",
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libfoo.so.1",
            "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2",
            "/usr/lib64",
            "/usr/lib64/ld-linux-x86-64.so.2",
        ]
    );
    let get = |p: &str| plan.get(p).unwrap();
    assert_eq!(get("/lib").kind, EntryKind::Symlink { target: "usr/lib".into() });
    assert_eq!(
        get("/usr/lib64/ld-linux-x86-64.so.2").kind,
        EntryKind::Symlink { target: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".into() }
    );
    assert_eq!(get("/usr/bin/prog-hard").kind, EntryKind::HardLink { target: "/usr/bin/prog".into() });
    assert_eq!(get("/usr/bin/prog").mode, 0o4755);
    assert_eq!(get("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2").mode, 0o644);
    assert_eq!(get("/usr/bin").kind, EntryKind::Directory);
    // Reasons say why.
    assert_eq!(get("/usr/bin/prog").reasons, [Reason::Input]);
    assert_eq!(
        get("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2").reasons,
        [Reason::Needed { by: "/usr/bin/prog".into(), name: "libfoo.so.1".into() }]
    );
    assert!(get("/usr/lib/x86_64-linux-gnu/libc.so.6")
        .reasons
        .contains(&Reason::Needed { by: "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2".into(), name: "libc.so.6".into() }));
    assert!(get("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        .reasons
        .contains(&Reason::Interpreter { of: "/usr/bin/prog".into() }));
    assert!(matches!(
        &get("/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1").reasons[..],
        [Reason::Variant { .. }]
    ));
    assert_eq!(get("/usr/lib").reasons, [Reason::Parent]);
    assert_eq!(
        plan.setid_entries().map(|e| e.path.to_str().unwrap()).collect::<Vec<_>>(),
        ["/usr/bin/prog", "/usr/bin/prog-hard"]
    );
    assert!(plan.warnings().is_empty());
}

#[test]
fn variants_can_be_left_out() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = Rootfs::builder().closure(&c).variants(false).build().unwrap();
    assert!(paths(&plan).iter().all(|p| !p.contains("glibc-hwcaps")));
}

#[test]
fn dotdot_in_a_loader_path_keeps_the_directory_it_crosses() {
    let (_t, root) = tree();
    fs::create_dir_all(root.host_path(Path::new("/opt/app/empty"))).unwrap();
    let mut c = closure(&root);
    Arc::make_mut(&mut c.objects[3].file).location =
        loc(&root, "/opt/app/empty/../../../lib/x86_64-linux-gnu/libc.so.6");
    let plan = Rootfs::builder().closure(&c).build().unwrap();
    let e = plan.get("/opt/app/empty").expect("traversed directory kept");
    assert_eq!(e.reasons, [Reason::Traversed { to: "/usr/lib/x86_64-linux-gnu/libc.so.6".into() }]);
}

#[test]
fn added_directories_keep_links_and_clamp_escaping_targets() {
    let (_t, root) = tree();
    let plan = Rootfs::builder().root(root.host_dir()).add("/usr/share").build().unwrap();
    let esc = plan.get(format!("/{LONG_DIR}/escape")).unwrap();
    // From /usr/share/a/b/c (depth 5), nine `..` climb four levels too high.
    assert_eq!(esc.kind, EntryKind::Symlink { target: "../../../../../etc/passwd".into() });
    assert_eq!(plan.warnings().len(), 1, "{:?}", plan.warnings());
    assert!(plan.get(format!("/{LONG_DIR}/data.txt")).is_some());
}

#[test]
fn from_entries_checks_invariants() {
    let src = PathBuf::from("/dev/null");
    let ok = vec![Entry::directory("/a", 0o755), Entry::file("/a/f", &src, 0o644, 0)];
    assert!(Rootfs::from_entries("/", ok).is_ok());
    for bad in [
        vec![Entry::file("/a/f", &src, 0o644, 0)], // no parent
        vec![Entry::file("a", &src, 0o644, 0)],    // relative
        vec![Entry::directory("/a", 0o755), Entry::file("/a/../f", &src, 0o644, 0)], // ..
        vec![Entry::directory("/a", 0o755), Entry::directory("/a", 0o755)], // twice
        vec![Entry::symlink("/a", "b"), Entry::file("/a/f", &src, 0o644, 0)], // under a link
        vec![Entry::symlink("/a", "")],            // empty target
    ] {
        let e = Rootfs::from_entries("/", bad.clone()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad:?}");
    }
}

fn tar_bytes(plan: &Rootfs, compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    write_tar(plan, &mut out, TarOptions::new().mtime(1_700_000_000).compression(compression)).unwrap();
    out
}

#[test]
fn tar_members_follow_the_policy() {
    let (_t, root) = tree();
    let c = closure(&root);
    let mut plan = Rootfs::builder();
    plan.closure(&c).add("/usr/bin/prog-hard").add("/usr/share");
    let plan = plan.build().unwrap();
    let bytes = tar_bytes(&plan, Compression::None);
    let mut ar = ::tar::Archive::new(&bytes[..]);
    let mut names = Vec::new();
    for m in ar.entries().unwrap() {
        let mut m = m.unwrap();
        let h = m.header().clone();
        let name = m.path_bytes().into_owned();
        assert!(!name.starts_with(b"/"), "absolute member {name:?}");
        assert!(!name.split(|&b| b == b'/').any(|c| c == b".."), "member with .. {name:?}");
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
        let path = format!("/{}", String::from_utf8_lossy(&name).trim_end_matches('/'));
        let e = plan.get(&path).unwrap_or_else(|| panic!("member {path} not in plan"));
        assert_eq!(h.mode().unwrap(), e.mode, "{path}");
        match &e.kind {
            EntryKind::File => {
                let mut content = Vec::new();
                m.read_to_end(&mut content).unwrap();
                assert_eq!(content, fs::read(e.source.as_ref().unwrap()).unwrap());
            }
            EntryKind::Symlink { target } => {
                assert_eq!(h.entry_type(), ::tar::EntryType::Symlink);
                assert_eq!(m.link_name_bytes().unwrap().as_ref(), target.as_os_str().as_encoded_bytes());
                // No relative target climbs out of the archive root.
                let t = target.to_string_lossy();
                if !t.starts_with('/') {
                    let mut depth = Path::new(&path).parent().unwrap().components().count() as i64 - 1;
                    for c in t.split('/') {
                        depth += match c {
                            ".." => -1,
                            "" | "." => 0,
                            _ => 1,
                        };
                        assert!(depth >= 0, "{path} -> {t} leaves the root");
                    }
                }
            }
            EntryKind::HardLink { target } => {
                assert_eq!(h.entry_type(), ::tar::EntryType::Link);
                assert_eq!(m.link_name_bytes().unwrap().as_ref(), &target.as_os_str().as_encoded_bytes()[1..]);
            }
            EntryKind::Directory => {
                assert_eq!(h.entry_type(), ::tar::EntryType::Directory);
                assert!(name.ends_with(b"/"));
            }
        }
        names.push(path);
    }
    // Same members, same (sorted) order as the plan; the long name came through whole.
    assert_eq!(names, paths(&plan));
    assert!(names.iter().any(|n| n.len() > 100));
    assert!(plan.get("/usr/bin/prog").unwrap().is_setuid());
}

#[test]
fn tar_is_deterministic_and_gzip_header_is_fixed() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    let a = tar_bytes(&plan, Compression::Gzip(9));
    let b = tar_bytes(&Rootfs::builder().closure(&c).add("/usr/bin/prog-hard").build().unwrap(), Compression::Gzip(9));
    assert_eq!(a, b);
    // magic, deflate, no flags (no name/comment/extra), mtime 0, XFL 2 (best), OS 255.
    assert_eq!(&a[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&a[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, tar_bytes(&plan, Compression::None));
    assert_eq!(plain.len() % 512, 0);
}

#[test]
fn tar_fails_when_a_source_changed() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    fs::write(root.host_path(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")), b"longer now").unwrap();
    let err = write_tar(&plan, &mut Vec::new(), &TarOptions::new()).unwrap_err();
    assert!(err.path().ends_with("libc.so.6"), "{err}");
}

#[test]
fn manifest_records_hashes_kinds_and_reasons() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    let mut out = Vec::new();
    write_manifest(&plan, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema"], MANIFEST_SCHEMA);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), plan.entries().len());
    let find = |p: &str| entries.iter().find(|e| e["path"] == p).unwrap().clone();
    let prog = find("/usr/bin/prog");
    // sha256("hello")
    assert_eq!(prog["sha256"], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_eq!(prog["mode"], "4755");
    assert_eq!(prog["setuid"], true);
    assert_eq!(prog["reasons"][0]["kind"], "input");
    let hard = find("/usr/bin/prog-hard");
    assert_eq!(hard["kind"], "hardlink");
    assert_eq!(hard["target"], "/usr/bin/prog");
    assert_eq!(hard["sha256"], prog["sha256"]);
    assert_eq!(find("/lib")["kind"], "symlink");
    assert_eq!(find("/lib")["target"], "usr/lib");
    assert_eq!(find("/usr")["kind"], "directory");
    let foo = find("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2");
    assert_eq!(foo["reasons"][0], serde_json::json!({"kind": "needed", "by": "/usr/bin/prog", "name": "libfoo.so.1"}));
    let mut again = Vec::new();
    write_manifest(&plan, &mut again).unwrap();
    assert_eq!(out, again);
}

#[test]
fn dir_writer_recreates_the_tree_atomically() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("rootfs");
    write_dir(&plan, &dest, DirOptions::new().mtime(86400)).unwrap();
    let m = fs::symlink_metadata(dest.join("usr/bin/prog")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755);
    assert_eq!(m.mtime(), 86400);
    let h = fs::symlink_metadata(dest.join("usr/bin/prog-hard")).unwrap();
    assert_eq!((h.ino(), h.nlink()), (m.ino(), 2));
    assert_eq!(fs::read_link(dest.join("lib64")).unwrap(), Path::new("usr/lib64"));
    assert_eq!(fs::symlink_metadata(dest.join("lib64")).unwrap().mtime(), 86400);
    assert_eq!(fs::read(dest.join("usr/lib/x86_64-linux-gnu/libfoo.so.1")).unwrap(), b"foo");
    assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o755);
    // Only the destination, no temporary left.
    let names: Vec<_> = fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["rootfs"]);
    // A non-empty destination is refused; an empty directory is replaced.
    assert!(write_dir(&plan, &dest, &DirOptions::new()).is_err());
    let empty = out.path().join("empty");
    fs::create_dir(&empty).unwrap();
    write_dir(&plan, &empty, &DirOptions::new()).unwrap();
    assert!(empty.join("usr/bin/prog").exists());
}

#[test]
fn dir_writer_leaves_nothing_on_error() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    fs::remove_file(root.host_path(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6"))).unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = write_dir(&plan, out.path().join("rootfs"), &DirOptions::new()).unwrap_err();
    assert!(err.path().ends_with("libc.so.6"), "{err}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn atomic_file_is_all_or_nothing() {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("x.tar");
    {
        let mut f = AtomicFile::create(&dest).unwrap();
        std::io::Write::write_all(&mut f, b"partial").unwrap();
        assert!(f.temp_path().exists());
    } // dropped: no commit
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
    let mut f = AtomicFile::create(&dest).unwrap();
    std::io::Write::write_all(&mut f, b"whole").unwrap();
    f.commit().unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"whole");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
    // Under a non-directory: refused up front.
    let e = AtomicFile::create(dest.join("y.tar")).unwrap_err();
    assert_eq!(e.io_error().and_then(|e| e.raw_os_error()), Some(libc::ENOTDIR));
}

fn text(f: impl Fn(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn ldd_layout() {
    let (_t, root) = tree();
    let c = closure(&root);
    let o = TextOptions::new();
    assert_eq!(
        text(|w| write_ldd(std::slice::from_ref(&c), w, &o)),
        "\tlibfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x0000000000000000)\n\
         \tlibmissing.so.9 => not found\n\
         \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x0000000000000000)\n\
         \t/lib64/ld-linux-x86-64.so.2 (0x0000000000000000)\n"
    );
    let mut stat = c.clone();
    stat.linkage = Linkage::Static;
    stat.input = "/bin/static".into();
    let two = text(|w| write_ldd(&[c.clone(), stat.clone()], w, &o));
    assert!(two.starts_with("/bin/prog:\n\tlibfoo.so.1"), "{two}");
    assert!(two.ends_with("/bin/static:\n\tstatically linked\n"), "{two}");
}

#[test]
fn paths_tree_and_why() {
    let (_t, root) = tree();
    let c = closure(&root);
    let o = TextOptions::new();
    let cs = std::slice::from_ref(&c);
    assert_eq!(
        text(|w| write_paths(cs, w, &o)),
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n\
         /usr/lib/x86_64-linux-gnu/libfoo.so.1.2\n\
         /usr/lib/x86_64-linux-gnu/libc.so.6\n\
         libmissing.so.9 => not found\n"
    );
    assert_eq!(
        text(|w| write_tree(cs, w, &o)),
        "/bin/prog\n\
         ├── libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 [runpath]\n\
         ├── libmissing.so.9 not found\n\
         │       tried /usr/lib/libmissing.so.9: no such file [default path]\n\
         ├── libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 [ld.so.cache]\n\
         └── /lib64/ld-linux-x86-64.so.2 [interpreter]\n"
    );
    assert_eq!(
        text(|w| write_why(cs, b"libc.so.6", w, &o)),
        "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n\
         \x20   /bin/prog -> libfoo.so.1 -> libc.so.6\n\
         \x20   /bin/prog -> libc.so.6\n"
    );
    assert_eq!(
        text(|w| write_why(cs, b"libmissing.so.9", w, &o)),
        "libmissing.so.9 => not found\n    /bin/prog -> libmissing.so.9 (not found)\n"
    );
    assert_eq!(text(|w| write_why(cs, b"nothing", w, &o)), "/bin/prog: nothing matches nothing\n");
}

#[test]
fn names_from_elf_files_are_escaped() {
    let (_t, root) = tree();
    let mut c = closure(&root);
    c.missing[0].name = Bytes::from(b"evil\n\x1b[31mlib\xff.so".to_vec());
    // For a pipe, control characters are escaped and other bytes kept; for a terminal,
    // invalid UTF-8 is escaped too.
    let mut raw = Vec::new();
    write_paths(std::slice::from_ref(&c), &mut raw, &TextOptions::new()).unwrap();
    assert!(raw.ends_with(b"evil\\x0a\\x1b[31mlib\xff.so => not found\n"));
    let mut tty = Vec::new();
    write_paths(std::slice::from_ref(&c), &mut tty, TextOptions::new().terminal(true)).unwrap();
    assert!(tty.ends_with(b"evil\\x0a\\x1b[31mlib\\xff.so => not found\n"));
    assert_eq!(escape(b"plain/name.so", &TextOptions::new()), &b"plain/name.so"[..]);
    assert_eq!(&*escape("a\u{202e}b".as_bytes(), TextOptions::new().terminal(true)), b"a\\u{202e}b");
}

#[test]
fn json_has_schema_closures_and_manifest() {
    let (_t, root) = tree();
    let c = closure(&root);
    let plan = plan_of(&c);
    let mut out = Vec::new();
    write_json(std::slice::from_ref(&c), Some(&plan), &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema"], JSON_SCHEMA);
    assert_eq!(v["closures"][0]["missing"][0]["name"], "libmissing.so.9");
    assert_eq!(v["closures"][0]["edges"][1]["via"]["step"], "runpath");
    assert_eq!(v["manifest"]["schema"], MANIFEST_SCHEMA);
}
