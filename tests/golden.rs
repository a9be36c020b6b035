//! Golden outputs, for the hermetic tier (no root, no apt, no network, no host loader): a root
//! of ELF files generated here (the fuzz crate's tiny ELF writer), its closures written in
//! every report format, and a rootfs of one of them (manifest and the tarball's SHA-256),
//! compared byte for byte with `tests/golden/`. The loader rules themselves are checked
//! against the real `ld.so` elsewhere (tests/fixtures.rs, tests/system_oracle.rs); these
//! files pin the output bytes, which nothing else can judge.
//!
//! After an intended change of an output: `DEPCLOSE_BLESS=1 cargo test --test golden`
//! rewrites the files; review the diff and commit it.
#![cfg(feature = "emit")]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use depclose::emit::{self, Rootfs, TarOptions, TextOptions};
use depclose::{CacheSource, Closure, Hwcaps, Resolver};
use sha2::{Digest, Sha256};

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use bodies::elfgen::{self, Spec};

const INTERP: &str = "/lib64/ld-linux-x86-64.so.2";

fn put(root: &Path, rel: &str, spec: &Spec) {
    let p = root.join(rel.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, elfgen::build(spec)).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The root: a program whose library finds its own dependency through `DT_RUNPATH`
/// (`$ORIGIN`) ahead of a decoy in the default directory, a library named by a symlinked
/// SONAME, one that is missing, and an `DT_RPATH` directory that does not exist.
fn build_root(root: &Path) {
    put(root, INTERP, &Spec::lib("ld-linux-x86-64.so.2", &[]));
    put(root, "/lib/libc.so.6", &Spec::lib("libc.so.6", &[]));
    let mut a = Spec::lib("liba.so.1", &["libb.so.1", "libc.so.6"]);
    a.runpath = Some(b"$ORIGIN/../opt/b".to_vec());
    put(root, "/lib/liba.so.1.2.3", &a);
    symlink("liba.so.1.2.3", root.join("lib/liba.so.1")).unwrap();
    put(root, "/opt/b/libb.so.1", &Spec::lib("libb.so.1", &["libc.so.6"]));
    put(root, "/lib/libb.so.1", &Spec::lib("libb.so.1", &[]));
    let mut prog = Spec::exe(INTERP, &["liba.so.1", "libmissing.so.9", "libc.so.6"]);
    prog.rpath = Some(b"/opt/none".to_vec());
    put(root, "/bin/prog", &prog);
    put(root, "/bin/ok", &Spec::exe(INTERP, &["liba.so.1"]));
    // Directory modes as the umask left them would differ between machines.
    fn dirs_0755(d: &Path) {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        for e in fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs_0755(&e.path());
            }
        }
    }
    dirs_0755(root);
}

/// JSON with what differs from machine to machine taken out: the root's host path and the
/// file identities (device and inode numbers).
fn stable_json(bytes: &[u8], root: &Path) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("file_id");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    strip(&mut v);
    stable_text(&serde_json::to_vec_pretty(&v).unwrap(), root) + "\n"
}

fn stable_text(bytes: &[u8], root: &Path) -> String {
    String::from_utf8(bytes.to_vec()).unwrap().replace(root.to_str().unwrap(), "$ROOT")
}

/// Compare `got` with `tests/golden/NAME`, or write it there under `DEPCLOSE_BLESS=1`.
fn golden(name: &str, got: &str, failures: &mut Vec<String>) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("DEPCLOSE_BLESS").is_some_and(|v| v == "1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, got).unwrap();
        return;
    }
    match fs::read_to_string(&path) {
        Ok(want) if want == got => {}
        Ok(want) => failures.push(format!("{name} differs:\n--- want\n{want}\n--- got\n{got}")),
        Err(e) => failures.push(format!("{}: {e} (DEPCLOSE_BLESS=1 writes it)", path.display())),
    }
}

#[test]
fn outputs_match_the_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(tmp.path()).unwrap();
    build_root(&root);
    let resolver = Resolver::builder()
        .root(&root)
        .cache(CacheSource::None)
        .hwcaps(Hwcaps::None)
        .default_dirs(Some(&["/lib".as_ref()]))
        .threads(1)
        .build()
        .unwrap();
    let closures: Vec<Closure> =
        resolver.closures_in_root(&["/bin/prog", "/bin/ok"]).into_iter().map(Result::unwrap).collect();
    let mut failures = Vec::new();
    let text = TextOptions::new();
    let mut out = Vec::new();
    emit::write_json(&closures, None, &mut out).unwrap();
    golden("closures.json", &stable_json(&out, &root), &mut failures);
    type Writer = fn(&[Closure], &mut Vec<u8>, &TextOptions) -> std::io::Result<()>;
    let writers: [(&str, Writer); 3] = [
        ("closures.ldd", |c, o, t| emit::write_ldd(c, o, t)),
        ("closures.tree", |c, o, t| emit::write_tree(c, o, t)),
        ("closures.paths", |c, o, t| emit::write_paths(c, o, t)),
    ];
    for (name, write) in writers {
        let mut out = Vec::new();
        write(&closures, &mut out, &text).unwrap();
        golden(name, &stable_text(&out, &root), &mut failures);
    }

    // A rootfs of the program whose closure is complete: its manifest, and the archive's
    // digest (the tar writer's bytes: order, headers, modes, links).
    let plan = Rootfs::builder().root(&root).closure(&closures[1]).variants(false).build().unwrap();
    let mut manifest = Vec::new();
    emit::write_manifest(&plan, &mut manifest).unwrap();
    golden("ok.manifest.json", &stable_json(&manifest, &root), &mut failures);
    let mut digests = String::new();
    for (name, compression) in [("tar", emit::Compression::None), ("tar.gz", emit::Compression::Gzip(9))] {
        let mut tar = Vec::new();
        let mut opts = TarOptions::new();
        opts.mtime(0).compression(compression);
        emit::write_tar(&plan, &mut tar, &opts).unwrap();
        digests += &format!("{name} {:x}\n", Sha256::digest(&tar));
    }
    golden("ok.rootfs.sha256", &digests, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
