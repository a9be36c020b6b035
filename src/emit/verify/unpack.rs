//! The strict unpacker of `verify`: tar members, OCI layouts and docker archives, bounded.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

use super::{unreadable, Problem, ProblemKind, VerifyOptions};

// --- Unpacking --------------------------------------------------------------------------------

/// What is left of the limits across every archive of one image.
pub(super) struct Budget {
    entries: u64,
    bytes: u64,
    header: u64,
    json: u64,
}

impl Budget {
    pub(super) fn new(o: &VerifyOptions) -> Budget {
        Budget {
            entries: o.max_entries,
            bytes: o.max_unpacked_bytes,
            header: o.max_header_bytes,
            json: o.max_json_bytes,
        }
    }
}

/// Counts the bytes read through it against the budget (decompression bombs, endless streams).
pub(super) struct Bounded<'b, R> {
    inner: R,
    left: &'b mut u64,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > *self.left {
            return Err(io::Error::other("the archive unpacks to more bytes than the limit"));
        }
        *self.left -= n as u64;
        Ok(n)
    }
}

/// A member name made safe: relative, no `..`, no empty or `.` components. `None` for the
/// archive's root (`./`).
pub(super) fn member_path(raw: &[u8]) -> Result<Option<PathBuf>, String> {
    if raw.contains(&0) {
        return Err("NUL byte in a member name".into());
    }
    if raw.first() == Some(&b'/') {
        return Err("absolute member name".into());
    }
    let mut out = PathBuf::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("`..` in a member name".into()),
            c => out.push(std::ffi::OsStr::from_bytes(c)),
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

/// `dest/rel`'s parent directories, created as needed; an existing component that is not a
/// real directory (a symlink, a file) is refused.
pub(super) fn safe_parent(dest: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
    let mut cur = dest.to_path_buf();
    let comps: Vec<Component> = rel.components().collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!("{} is under a symlink ({})", rel.display(), strip(dest, &cur).display()))
            }
            Ok(_) => return Err(format!("{} is under a non-directory", rel.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                DirBuilder::new().mode(0o755).create(&cur).map_err(|e| e.to_string())?
            }
            Err(e) => return Err(format!("{}: {e}", strip(dest, &cur).display())),
        }
    }
    Ok(cur)
}

pub(super) fn strip<'a>(base: &Path, p: &'a Path) -> &'a Path {
    p.strip_prefix(base).unwrap_or(p)
}

/// Remove whatever is at `p` (never following a symlink).
pub(super) fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Read a bounded extension record (GNU long name, pax header).
pub(super) fn read_record<R: Read>(e: &mut R, size: u64, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    if size > limit {
        return Err(format!("{what} of {size} bytes (limit {limit})"));
    }
    let mut v = Vec::with_capacity(size as usize);
    e.take(limit + 1).read_to_end(&mut v).map_err(|x| x.to_string())?;
    Ok(v)
}

/// `path` and `linkpath` of a pax extended header.
pub(super) fn pax_fields(data: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut path, mut link) = (None, None);
    for x in tar::PaxExtensions::new(data).flatten() {
        match x.key_bytes() {
            b"path" => path = Some(x.value_bytes().to_vec()),
            b"linkpath" => link = Some(x.value_bytes().to_vec()),
            _ => {}
        }
    }
    (path, link)
}

/// Unpack a tar stream into `dest` (an empty directory of ours), strictly. `layer`: apply
/// OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`).
pub(super) fn unpack<R: Read>(
    reader: R,
    dest: &Path,
    image: &Path,
    layer: bool,
    budget: &mut Budget,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let header_limit = budget.header;
    let bounded = Bounded { inner: reader, left: &mut budget.bytes };
    let mut archive = tar::Archive::new(bounded);
    let bad =
        |member: &[u8], why: &str| unreadable(image, format!("member {:?}: {why}", String::from_utf8_lossy(member)));
    let entries = archive.entries().map_err(|e| unreadable(image, format!("not a tar archive: {e}")))?.raw(true);
    let (mut long_name, mut long_link, mut pax_path, mut pax_link) = (None, None, None, None);
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(image, format!("malformed tar archive: {e}")))?;
        if budget.entries == 0 {
            return Err(unreadable(image, "more members than the limit"));
        }
        budget.entries -= 1;
        let h = entry.header().clone();
        let kind = h.entry_type();
        let size = h.entry_size().map_err(|e| unreadable(image, format!("malformed tar header: {e}")))?;
        let raw_name = h.path_bytes().into_owned();
        match kind {
            tar::EntryType::GNULongName => {
                let mut v = read_record(&mut entry, size, header_limit, "GNU long name record")
                    .map_err(|w| bad(&raw_name, &w))?;
                while v.last() == Some(&0) {
                    v.pop();
                }
                long_name = Some(v);
                continue;
            }
            tar::EntryType::GNULongLink => {
                let mut v = read_record(&mut entry, size, header_limit, "GNU long link record")
                    .map_err(|w| bad(&raw_name, &w))?;
                while v.last() == Some(&0) {
                    v.pop();
                }
                long_link = Some(v);
                continue;
            }
            tar::EntryType::XHeader => {
                let v = read_record(&mut entry, size, header_limit, "pax extended header")
                    .map_err(|w| bad(&raw_name, &w))?;
                let (p, l) = pax_fields(&v);
                pax_path = p;
                pax_link = l;
                continue;
            }
            tar::EntryType::XGlobalHeader => {
                read_record(&mut entry, size, header_limit, "pax global header").map_err(|w| bad(&raw_name, &w))?;
                continue;
            }
            _ => {}
        }
        let name = long_name.take().or(pax_path.take()).unwrap_or(raw_name);
        let link = long_link.take().or(pax_link.take()).or_else(|| h.link_name_bytes().map(|l| l.into_owned()));
        let Some(rel) = member_path(&name).map_err(|w| bad(&name, &w))? else {
            continue; // the root itself
        };
        let base = rel.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
        let parent_dir = safe_parent(dest, &rel, true).map_err(|w| bad(&name, &w))?;
        let target = parent_dir.join(rel.file_name().unwrap_or_default());
        if layer && base.starts_with(b".wh.") {
            if base == b".wh..wh..opq" {
                for e in fs::read_dir(&parent_dir).map_err(|e| Error::io(&parent_dir, e))? {
                    let e = e.map_err(|e| Error::io(&parent_dir, e))?;
                    remove_any(&e.path()).map_err(|e| Error::io(&parent_dir, e))?;
                }
            } else {
                let name_bytes = &base[4..];
                if name_bytes.is_empty() || name_bytes == b"." || name_bytes == b".." || name_bytes.contains(&b'/') {
                    return Err(bad(&name, "whiteout of an invalid name"));
                }
                let victim = parent_dir.join(std::ffi::OsStr::from_bytes(name_bytes));
                remove_any(&victim).map_err(|e| Error::io(&victim, e))?;
            }
            continue;
        }
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let err = |e: io::Error| bad(&name, &e.to_string());
        let existing = fs::symlink_metadata(&target).ok();
        if kind != tar::EntryType::Directory || existing.as_ref().is_some_and(|m| !m.is_dir()) {
            remove_any(&target).map_err(err)?;
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&target)
                    .map_err(err)?;
                let n = io::copy(&mut (&mut entry).take(size), &mut f).map_err(err)?;
                if n != size {
                    return Err(bad(&name, "archive ends inside the member"));
                }
                f.set_permissions(fs::Permissions::from_mode(mode)).map_err(err)?;
            }
            tar::EntryType::Directory => {
                if existing.is_none() || existing.as_ref().is_some_and(|m| !m.is_dir()) {
                    DirBuilder::new().mode(0o755).create(&target).map_err(err)?;
                }
                dirs.push((target.clone(), mode));
            }
            tar::EntryType::Symlink => {
                let l = link.ok_or_else(|| bad(&name, "symlink without a target"))?;
                if l.is_empty() || l.contains(&0) {
                    return Err(bad(&name, "empty symlink target or NUL in it"));
                }
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&l), &target).map_err(err)?;
            }
            tar::EntryType::Link => {
                let l = link.ok_or_else(|| bad(&name, "hard link without a target"))?;
                let trel = member_path(&l)
                    .map_err(|w| bad(&name, &format!("hard link target: {w}")))?
                    .ok_or_else(|| bad(&name, "hard link to the root"))?;
                let tparent =
                    safe_parent(dest, &trel, false).map_err(|w| bad(&name, &format!("hard link target: {w}")))?;
                let tpath = tparent.join(trel.file_name().unwrap_or_default());
                match fs::symlink_metadata(&tpath) {
                    Ok(m) if m.is_file() => {}
                    _ => return Err(bad(&name, "hard link target is not an earlier regular file of the archive")),
                }
                fs::hard_link(&tpath, &target).map_err(err)?;
            }
            other => {
                notes.push(format!(
                    "{}: member {} of type {:?} skipped",
                    image.display(),
                    rel.display(),
                    other.as_byte() as char
                ));
            }
        }
    }
    for (d, mode) in dirs.iter().rev() {
        fs::set_permissions(d, fs::Permissions::from_mode(*mode | 0o700)).map_err(|e| Error::io(d, e))?;
    }
    Ok(())
}

// --- OCI layouts ------------------------------------------------------------------------------

/// `sha256:<64 hex>` → the hex; anything else (another algorithm, a path) is refused.
pub(super) fn digest_hex(d: &str) -> Option<&str> {
    let h = d.strip_prefix("sha256:")?;
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(h)
}

/// A regular file of the layout at `rel`, opened without following any symlink on the way.
pub(super) fn open_in(layout: &Path, rel: &Path) -> Result<File, Error> {
    let parent = safe_parent(layout, rel, false).map_err(|w| unreadable(layout, w))?;
    let p = parent.join(rel.file_name().unwrap_or_default());
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&p)
        .map_err(|e| Error::io(&p, e))?;
    let m = f.metadata().map_err(|e| Error::io(&p, e))?;
    if !m.is_file() {
        return Err(unreadable(&p, "not a regular file"));
    }
    Ok(f)
}

pub(super) fn read_json(layout: &Path, rel: &Path, limit: u64) -> Result<(Vec<u8>, serde_json::Value), Error> {
    let mut f = open_in(layout, rel)?;
    let mut v = Vec::new();
    (&mut f).take(limit + 1).read_to_end(&mut v).map_err(|e| Error::io(layout.join(rel), e))?;
    if v.len() as u64 > limit {
        return Err(unreadable(&layout.join(rel), format!("larger than {limit} bytes")));
    }
    let j = serde_json::from_slice(&v).map_err(|e| unreadable(&layout.join(rel), format!("invalid JSON: {e}")))?;
    Ok((v, j))
}

pub(super) fn blob_rel(d: &str) -> Option<PathBuf> {
    digest_hex(d).map(|h| Path::new("blobs/sha256").join(h))
}

pub(super) fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A JSON blob named by a descriptor: read, its digest and size checked.
pub(super) fn read_blob_json(
    layout: &Path,
    desc: &serde_json::Value,
    limit: u64,
    problems: &mut Vec<Problem>,
) -> Result<serde_json::Value, Error> {
    let d = desc["digest"].as_str().unwrap_or_default();
    let rel = blob_rel(d).ok_or_else(|| unreadable(layout, format!("invalid or unsupported digest {d:?}")))?;
    let (bytes, json) = read_json(layout, &rel, limit)?;
    if sha256_hex(&bytes) != d["sha256:".len()..] {
        problems.push(Problem {
            kind: ProblemKind::BlobMismatch,
            path: rel.clone(),
            message: format!("content does not match its digest {d}"),
        });
    }
    if desc["size"].as_u64() != Some(bytes.len() as u64) {
        problems.push(Problem {
            kind: ProblemKind::BlobMismatch,
            path: rel,
            message: format!("size {} differs from the descriptor's {}", bytes.len(), desc["size"]),
        });
    }
    Ok(json)
}

/// Hashes what is read through it.
pub(super) struct HashRead<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

pub(super) fn unpack_layout(
    layout: &Path,
    rootfs: &Path,
    opts: &VerifyOptions,
    budget: &mut Budget,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let (_, index) = read_json(layout, Path::new("index.json"), opts.max_json_bytes)?;
    let mut desc = index["manifests"]
        .as_array()
        .and_then(|m| m.first())
        .cloned()
        .ok_or_else(|| unreadable(&layout.join("index.json"), "no manifest in the index"))?;
    let mut manifest = read_blob_json(layout, &desc, budget.json, problems)?;
    // A nested index (one level): take its first manifest.
    if manifest["mediaType"] == crate::emit::oci::MEDIA_TYPE_INDEX || manifest.get("manifests").is_some() {
        desc = manifest["manifests"]
            .as_array()
            .and_then(|m| m.first())
            .cloned()
            .ok_or_else(|| unreadable(layout, "nested index without a manifest"))?;
        manifest = read_blob_json(layout, &desc, budget.json, problems)?;
    }
    let config = read_blob_json(layout, &manifest["config"], budget.json, problems)?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    if layers.len() != diff_ids.len() {
        problems.push(Problem {
            kind: ProblemKind::BlobMismatch,
            path: PathBuf::from("config"),
            message: format!("{} layers but {} diff_ids", layers.len(), diff_ids.len()),
        });
    }
    for (i, l) in layers.iter().enumerate() {
        let d = l["digest"].as_str().unwrap_or_default();
        let rel = blob_rel(d).ok_or_else(|| unreadable(layout, format!("layer {i}: invalid digest {d:?}")))?;
        let media = l["mediaType"].as_str().unwrap_or_default();
        let f = open_in(layout, &rel)?;
        let mut outer = HashRead { inner: io::BufReader::new(f), hash: Sha256::new() };
        let gz = media.ends_with("+gzip") || media.ends_with(".gzip");
        if !gz && !media.ends_with(".tar") && !media.ends_with("tar") {
            return Err(unreadable(&layout.join(&rel), format!("unsupported layer media type {media:?}")));
        }
        let diff_hash = {
            let inner: Box<dyn Read + '_> =
                if gz { Box::new(flate2::read::GzDecoder::new(&mut outer)) } else { Box::new(&mut outer) };
            let mut hr = HashRead { inner, hash: Sha256::new() };
            unpack(&mut hr, rootfs, &layout.join(&rel), true, budget, notes)?;
            // The rest of the stream (end-of-archive blocks, padding) counts for the digests.
            io::copy(&mut Bounded { inner: &mut hr, left: &mut budget.bytes }, &mut io::sink())
                .map_err(|e| Error::io(layout.join(&rel), e))?;
            hr.hash.finalize()
        };
        io::copy(&mut outer, &mut io::sink()).map_err(|e| Error::io(layout.join(&rel), e))?;
        let got = outer.hash.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>();
        if got != d["sha256:".len()..] {
            problems.push(Problem {
                kind: ProblemKind::BlobMismatch,
                path: rel.clone(),
                message: format!("layer content does not match its digest {d}"),
            });
        }
        let diff = format!("sha256:{}", diff_hash.iter().map(|x| format!("{x:02x}")).collect::<String>());
        if diff_ids.get(i).and_then(|v| v.as_str()) != Some(diff.as_str()) {
            problems.push(Problem {
                kind: ProblemKind::BlobMismatch,
                path: rel,
                message: format!(
                    "uncompressed layer is {diff}, the config's diff_id {}",
                    diff_ids.get(i).unwrap_or(&serde_json::Value::Null)
                ),
            });
        }
    }
    Ok(())
}

/// A docker archive's layers (relative paths, checked) and its config's diff_ids, when the
/// unpacked archive is one: a `manifest.json` array whose first image names a config and
/// layer files that are all there.
pub(super) fn docker_archive_layers(outer: &Path, opts: &VerifyOptions) -> Option<(Vec<PathBuf>, Vec<String>)> {
    let (_, m) = read_json(outer, Path::new("manifest.json"), opts.max_json_bytes).ok()?;
    let image = m.as_array()?.first()?;
    let rel = |v: &serde_json::Value| -> Option<PathBuf> {
        let p = member_path(v.as_str()?.as_bytes()).ok()??;
        open_in(outer, &p).ok().map(|_| p)
    };
    let config = rel(&image["Config"])?;
    let layers = image["Layers"].as_array()?.iter().map(rel).collect::<Option<Vec<_>>>()?;
    let (_, c) = read_json(outer, &config, opts.max_json_bytes).ok()?;
    let diff_ids =
        c["rootfs"]["diff_ids"].as_array()?.iter().map(|d| d.as_str().unwrap_or_default().to_string()).collect();
    Some((layers, diff_ids))
}

pub(super) fn unpack_docker_layers(
    outer: &Path,
    (layers, diff_ids): &(Vec<PathBuf>, Vec<String>),
    rootfs: &Path,
    budget: &mut Budget,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    if layers.len() != diff_ids.len() {
        problems.push(Problem {
            kind: ProblemKind::BlobMismatch,
            path: PathBuf::from("config"),
            message: format!("{} layers but {} diff_ids in the config", layers.len(), diff_ids.len()),
        });
    }
    for (i, rel) in layers.iter().enumerate() {
        let mut magic = [0u8; 2];
        let gz = open_in(outer, rel)?.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        let f = io::BufReader::new(open_in(outer, rel)?);
        let inner: Box<dyn Read> = if gz { Box::new(flate2::read::GzDecoder::new(f)) } else { Box::new(f) };
        let mut hr = HashRead { inner, hash: Sha256::new() };
        unpack(&mut hr, rootfs, &outer.join(rel), true, budget, notes)?;
        io::copy(&mut Bounded { inner: &mut hr, left: &mut budget.bytes }, &mut io::sink())
            .map_err(|e| Error::io(outer.join(rel), e))?;
        let diff = format!("sha256:{}", hr.hash.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>());
        if diff_ids.get(i) != Some(&diff) {
            problems.push(Problem {
                kind: ProblemKind::BlobMismatch,
                path: format!("/{}", rel.display()).into(),
                message: format!("uncompressed layer is {diff}, the config's diff_id {:?}", diff_ids.get(i)),
            });
        }
    }
    Ok(())
}
