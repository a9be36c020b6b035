//! The emitters over real closures of this machine's programs, through the library API only:
//! the plan holds every file the loader maps with every symlink on the way, the archive does
//! not depend on the thread count, and the manifest's hashes are the files' hashes.
#![cfg(feature = "emit")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::emit::{self, Compression, EntryKind, Rootfs, TarOptions};
use depclose::Resolver;

#[test]
fn plan_holds_every_mapped_file_and_every_hop() {
    let c = depclose::closure("/bin/ls").unwrap();
    let plan = Rootfs::builder().closure(&c).build().unwrap();
    for p in c.loaded_files() {
        let e = plan.get(p).unwrap_or_else(|| panic!("{} missing from the plan", p.display()));
        assert!(matches!(e.kind, EntryKind::File | EntryKind::HardLink { .. }), "{}", p.display());
    }
    for o in &c.objects {
        for hop in &o.file.location.hops {
            let e = plan.get(&hop.link).unwrap_or_else(|| panic!("hop {} missing", hop.link.display()));
            assert_eq!(e.kind, EntryKind::Symlink { target: hop.target.clone() });
        }
    }
    // The interpreter's path as PT_INTERP names it resolves inside the plan, chroot-style.
    let interp = c.interpreter.as_ref().unwrap().as_path();
    let real = resolve_in_plan(&plan, interp).expect("the interpreter resolves inside the rootfs");
    assert_eq!(plan.get(&real).unwrap().kind, EntryKind::File);
    let input = resolve_in_plan(&plan, Path::new("/bin/ls")).expect("the input resolves inside the rootfs");
    assert_eq!(input, Path::new("/usr/bin/ls"));
}

/// Follow `path` through the plan's own directories and symlinks, as a chroot would.
fn resolve_in_plan(plan: &Rootfs, path: &Path) -> Option<PathBuf> {
    let mut pending: Vec<String> = path.to_str()?.split('/').filter(|c| !c.is_empty()).map(String::from).collect();
    pending.reverse();
    let mut cur = PathBuf::from("/");
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            cur.pop();
            continue;
        }
        if comp == "." {
            continue;
        }
        let cand = cur.join(&comp);
        match &plan.get(&cand)?.kind {
            EntryKind::Symlink { target } => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let t = target.to_str()?;
                if t.starts_with('/') {
                    cur = PathBuf::from("/");
                }
                pending.extend(t.split('/').filter(|c| !c.is_empty()).rev().map(String::from));
            }
            _ => cur = cand,
        }
    }
    Some(cur)
}

fn tar_with_threads(threads: usize) -> Vec<u8> {
    let r = Resolver::builder().threads(threads).build().unwrap();
    let inputs = ["/usr/bin/redis-server", "/bin/ls", "/usr/bin/curl"];
    let inputs: Vec<&str> = inputs.into_iter().filter(|p| Path::new(p).exists()).collect();
    let closures: Vec<_> = r.closures(&inputs).into_iter().map(Result::unwrap).collect();
    let mut b = Rootfs::builder();
    for c in &closures {
        b.closure(c);
    }
    let plan = b.build().unwrap();
    let mut out = Vec::new();
    emit::write_tar(&plan, &mut out, TarOptions::new().mtime(1).compression(Compression::None)).unwrap();
    out
}

#[test]
fn archive_does_not_depend_on_thread_count() {
    if common::hermetic_skip_without(&["/usr/bin/redis-server", "/usr/bin/curl"]) {
        return;
    }
    let one = tar_with_threads(1);
    let many = tar_with_threads(4);
    assert!(one == many, "archives differ ({} vs {} bytes)", one.len(), many.len());
}

#[test]
fn manifest_hashes_are_the_files_hashes() {
    let c = depclose::closure("/bin/ls").unwrap();
    let plan = Rootfs::builder().closure(&c).build().unwrap();
    let mut out = Vec::new();
    emit::write_manifest(&plan, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let mut checked = 0;
    for e in v["entries"].as_array().unwrap() {
        if e["kind"] != "file" {
            continue;
        }
        let path = e["path"].as_str().unwrap();
        let sum = Command::new("sha256sum").arg(path).output().unwrap();
        let sum = String::from_utf8_lossy(&sum.stdout);
        assert_eq!(e["sha256"].as_str().unwrap(), sum.split_whitespace().next().unwrap(), "{path}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} files");
}
