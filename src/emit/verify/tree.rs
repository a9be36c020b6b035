//! `verify`'s checks of an unpacked tree: ELF integrity, symlinks, and the depclose manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::emit::manifest::MANIFEST_SCHEMA;
use crate::error::Error;
use crate::root::Root;

use super::{unreadable, Problem, ProblemKind, VerifyOptions};

// --- The tree ---------------------------------------------------------------------------------

/// In-root paths of the ELF executables and shared objects (truncation checked) and of the
/// symlinks.
pub(super) fn scan_tree(
    root: &Root,
    opts: &VerifyOptions,
    problems: &mut Vec<Problem>,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    let dir = root.host_dir();
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut n = 0u64;
    for e in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name() {
        let e = e.map_err(|x| {
            let p = x.path().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
            Error::io(p, x.into())
        })?;
        n += 1;
        if n > opts.max_entries {
            return Err(unreadable(dir, "more entries than the limit"));
        }
        let in_root = Path::new("/").join(e.path().strip_prefix(dir).unwrap_or(e.path()));
        if e.file_type().is_symlink() {
            links.push(in_root);
        } else if e.file_type().is_file() {
            files.push((in_root, e.into_path()));
        }
    }
    let checked: Vec<(PathBuf, Option<Result<(), String>>)> = files
        .into_par_iter()
        .map(|(in_root, host)| {
            let r = elf_integrity(&host);
            (in_root, r)
        })
        .collect();
    let mut elf = Vec::new();
    for (p, r) in checked {
        match r {
            None => {}
            Some(Ok(())) => elf.push(p),
            Some(Err(msg)) => problems.push(Problem { kind: ProblemKind::Corrupt, path: p, message: msg }),
        }
    }
    Ok((elf, links))
}

/// `None`: not an ELF executable or shared object. `Some(Err)`: one that is truncated or
/// damaged (a segment or the section header table past the end of the file).
pub(super) fn elf_integrity(host: &Path) -> Option<Result<(), String>> {
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(host).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = [0u8; 64];
    let n = read_at_most(&f, &mut head, 0);
    if !crate::elf::is_elf(&head[..n]) {
        return None;
    }
    let Some(h) = crate::elf::RawHeader::read(&head[..n]) else {
        return Some(Err(format!("ELF header truncated or damaged ({len} bytes)")));
    };
    if h.e_type != 2 && h.e_type != 3 {
        return None; // object files, core dumps: data
    }
    let be = h.big_endian();
    let is64 = h.class() == crate::Class::Elf64;
    let u16_at = |o: usize| {
        let b = [head[o], head[o + 1]];
        u64::from(if be { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    };
    let (shoff, shentsize, shnum) = if is64 {
        let b: [u8; 8] = head[40..48].try_into().ok()?;
        (if be { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) }, u16_at(58), u16_at(60))
    } else {
        let b: [u8; 4] = head[32..36].try_into().ok()?;
        (u64::from(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }), u16_at(46), u16_at(48))
    };
    let phsize = if is64 { 56u64 } else { 32 };
    let ph_end = h.phoff.checked_add(u64::from(h.phnum) * phsize);
    if ph_end.is_none_or(|e| e > len) {
        return Some(Err(format!("program header table past the end of the file ({len} bytes)")));
    }
    let mut table = vec![0u8; (u64::from(h.phnum) * phsize) as usize];
    if read_at_most(&f, &mut table, h.phoff) != table.len() {
        return Some(Err("program header table cannot be read".into()));
    }
    let rd = |b: &[u8], o: usize, w: usize| -> u64 {
        let s = &b[o..o + w];
        let mut v = 0u64;
        for i in 0..w {
            let byte = if be { s[i] } else { s[w - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        v
    };
    for (i, e) in table.chunks_exact(phsize as usize).enumerate() {
        let p_type = rd(e, 0, 4);
        let (off, filesz) = if is64 { (rd(e, 8, 8), rd(e, 32, 8)) } else { (rd(e, 4, 4), rd(e, 16, 4)) };
        if p_type == 1 && off.checked_add(filesz).is_none_or(|end| end > len) {
            return Some(Err(format!(
                "truncated: segment {i} (PT_LOAD) ends at byte {}, the file has {len}",
                off.saturating_add(filesz)
            )));
        }
    }
    if shoff != 0 && shnum != 0 && shoff.checked_add(shnum * shentsize).is_none_or(|end| end > len) {
        return Some(Err(format!(
            "truncated: the section header table ends at byte {}, the file has {len}",
            shoff.saturating_add(shnum * shentsize)
        )));
    }
    Some(Ok(()))
}

pub(super) fn read_at_most(f: &File, buf: &mut [u8], off: u64) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

pub(super) fn check_links(root: &Root, links: &[PathBuf], problems: &mut Vec<Problem>) {
    for l in links {
        let host = root.host_path(l);
        let target = fs::read_link(&host).unwrap_or_default();
        if climbs_above_root(l, &target) {
            problems.push(Problem {
                kind: ProblemKind::LinkEscapes,
                path: l.clone(),
                message: format!("relative target {} climbs above the image root", target.display()),
            });
        }
        match root.walk(l.as_os_str().as_bytes(), true) {
            Ok(_) => {}
            Err(libc::ELOOP) => problems.push(Problem {
                kind: ProblemKind::LinkLoop,
                path: l.clone(),
                message: format!("-> {}: too many levels of symbolic links", target.display()),
            }),
            Err(errno) => problems.push(Problem {
                kind: ProblemKind::DanglingLink,
                path: l.clone(),
                message: format!("-> {}: {}", target.display(), io::Error::from_raw_os_error(errno)),
            }),
        }
    }
}

/// Lexically, from the link's directory.
pub(super) fn climbs_above_root(link: &Path, target: &Path) -> bool {
    let t = target.as_os_str().as_bytes();
    if t.first() == Some(&b'/') {
        return false;
    }
    let mut depth = link.parent().map_or(0, |p| p.components().filter(|c| matches!(c, Component::Normal(_))).count());
    for c in t.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." if depth == 0 => return true,
            b".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

// --- The manifest -----------------------------------------------------------------------------

pub(super) fn find_manifest(image: &Path, root: &Root, opts: &VerifyOptions) -> Option<PathBuf> {
    if let Some(m) = &opts.manifest {
        return Some(m.clone());
    }
    if let Ok(w) = root.walk(b"/.depclose/manifest.json", true) {
        if w.metadata.is_file() {
            return Some(root.host_path(&w.realpath));
        }
    }
    let name = image.file_name()?.as_bytes();
    let mut candidates = vec![[name, b".manifest.json"].concat()];
    for ext in [&b".tar.gz"[..], b".tgz", b".tar"] {
        if let Some(stem) = name.strip_suffix(ext) {
            candidates.push([stem, b".manifest.json"].concat());
        }
    }
    candidates
        .into_iter()
        .map(|c| image.with_file_name(std::ffi::OsStr::from_bytes(&c)))
        .find(|p| fs::metadata(p).map(|m| m.is_file()).unwrap_or(false))
}

/// Canonical absolute in-image path (no `.`, `..`, empty components, NUL).
pub(super) fn canonical(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && !p.contains('\0')
        && p[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

pub(super) fn check_manifest(
    path: &Path,
    root: &Root,
    opts: &VerifyOptions,
    unpacked: bool,
    problems: &mut Vec<Problem>,
) -> Result<(), Error> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut v = Vec::new();
    f.take(opts.max_json_bytes + 1).read_to_end(&mut v).map_err(|e| Error::io(path, e))?;
    if v.len() as u64 > opts.max_json_bytes {
        return Err(unreadable(path, "manifest larger than the limit"));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&v).map_err(|e| unreadable(path, format!("not a depclose manifest: {e}")))?;
    if doc["schema"] != MANIFEST_SCHEMA {
        return Err(unreadable(
            path,
            format!("not a depclose manifest (schema {}, expected {MANIFEST_SCHEMA})", doc["schema"]),
        ));
    }
    let entries = doc["entries"].as_array().ok_or_else(|| unreadable(path, "no entries"))?;
    let mismatch =
        |p: &str, msg: String| Problem { kind: ProblemKind::ManifestMismatch, path: PathBuf::from(p), message: msg };
    let mut listed = BTreeSet::new();
    let mut inodes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut to_hash = Vec::new();
    for e in entries {
        let p = e["path"].as_str().unwrap_or_default();
        if !canonical(p) {
            problems.push(mismatch(p, "invalid path in the manifest (not absolute and canonical)".into()));
            continue;
        }
        listed.insert(PathBuf::from(p));
        let kind = e["kind"].as_str().unwrap_or_default();
        // No symlink is followed on the way: a manifest path is canonical in the image.
        let w = match root.walk(p.as_bytes(), false) {
            Ok(w) if w.hops.is_empty() && w.realpath == Path::new(p) => w,
            Ok(w) => {
                problems.push(mismatch(p, format!("reached through a symlink ({})", w.realpath.display())));
                continue;
            }
            Err(errno) => {
                problems.push(mismatch(
                    p,
                    format!("listed in the manifest ({kind}) but missing: {}", io::Error::from_raw_os_error(errno)),
                ));
                continue;
            }
        };
        let m = &w.metadata;
        let actual_kind = if m.is_dir() {
            "directory"
        } else if m.is_symlink() {
            "symlink"
        } else if m.is_file() {
            "file"
        } else {
            "special file"
        };
        let want_kind = if kind == "hardlink" { "file" } else { kind };
        if actual_kind != want_kind {
            problems.push(mismatch(p, format!("is a {actual_kind}, the manifest says {kind}")));
            continue;
        }
        if kind != "symlink" {
            let mode = format!("{:04o}", m.mode & 0o7777);
            // An unpacked archive's directories get the owner's rwx (so that the unpacker
            // can fill and remove them): a directory's mode is compared without those bits.
            let same = match (kind, e["mode"].as_str().and_then(|s| u32::from_str_radix(s, 8).ok())) {
                ("directory", Some(want)) if unpacked => (m.mode & 0o7777) | 0o700 == want | 0o700,
                (_, Some(want)) => m.mode & 0o7777 == want,
                _ => false,
            };
            if !same {
                problems.push(mismatch(p, format!("mode {mode}, the manifest says {}", e["mode"])));
            }
        }
        match kind {
            "symlink" => {
                let t = fs::read_link(root.host_path(&w.realpath)).unwrap_or_default();
                if e["target"].as_str() != Some(&*t.to_string_lossy()) {
                    problems.push(mismatch(p, format!("points to {}, the manifest says {}", t.display(), e["target"])));
                }
            }
            "file" | "hardlink" => {
                if e["size"].as_u64() != Some(m.size) {
                    problems.push(mismatch(p, format!("{} bytes, the manifest says {}", m.size, e["size"])));
                }
                inodes.insert(p.to_string(), (m.dev, m.ino));
                to_hash.push((
                    p.to_string(),
                    root.host_path(&w.realpath),
                    e["sha256"].as_str().unwrap_or_default().to_string(),
                    m.size,
                ));
                if kind == "hardlink" {
                    let t = e["target"].as_str().unwrap_or_default().to_string();
                    if let Some(id) = inodes.get(&t) {
                        if *id != (m.dev, m.ino) {
                            problems.push(mismatch(
                                p,
                                format!("is not the same file as {t}, the manifest says it is a hard link"),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let hashed: Vec<Option<Problem>> = to_hash
        .par_iter()
        .map(|(p, host, want, size)| match hash_file(host, *size) {
            Ok(h) if h == *want => None,
            Ok(h) => Some(Problem {
                kind: ProblemKind::HashMismatch,
                path: PathBuf::from(p),
                message: format!("sha256 {h}, the manifest says {want}"),
            }),
            Err(e) => Some(mismatch(p, format!("cannot be read: {e}"))),
        })
        .collect();
    problems.extend(hashed.into_iter().flatten());
    // Entries the manifest does not list (the manifest itself, inside, excepted).
    let dir = root.host_dir();
    for e in walkdir::WalkDir::new(dir).min_depth(1).follow_links(false).sort_by_file_name().into_iter().flatten() {
        let in_root = Path::new("/").join(e.path().strip_prefix(dir).unwrap_or(e.path()));
        if in_root.starts_with("/.depclose") {
            continue;
        }
        if !listed.contains(&in_root) {
            problems.push(Problem {
                kind: ProblemKind::ManifestMismatch,
                path: in_root,
                message: "in the image but not in the manifest".into(),
            });
        }
    }
    Ok(())
}

/// sha256 of at most `size` bytes (and whether there are more).
pub(super) fn hash_file(host: &Path, size: u64) -> io::Result<String> {
    let f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(host)?;
    let mut h = Sha256::new();
    let mut r = f.take(size.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|x| format!("{x:02x}")).collect())
}
