//! The manifest: one JSON record per entry of a [`Rootfs`].

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

use super::plan::{Entry, EntryKind, MissingLibrary, Reason, Rootfs};
use super::tar::open_source;

/// The `schema` value of a manifest; bumped on any incompatible change.
pub const MANIFEST_SCHEMA: &str = "depclose-manifest/1";

#[derive(Serialize)]
pub(super) struct ManifestDoc<'a> {
    schema: &'static str,
    entries: Vec<ManifestEntry<'a>>,
    /// Libraries that closures of the plan need and that were not found (a rootfs written
    /// with `--allow-missing`); left out when there are none.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    missing: &'a [MissingLibrary],
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    #[serde(with = "crate::serde_path")]
    path: &'a Path,
    kind: &'static str,
    /// Octal, four digits: `"0755"`, `"4755"`.
    mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_path")]
    target: Option<&'a Path>,
    /// Extended attributes kept (`security.capability`), values in hex; left out when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    xattrs: BTreeMap<String, String>,
    /// Owner in the image, when not root (`uid`, `gid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<[u32; 2]>,
    setuid: bool,
    setgid: bool,
    reasons: &'a [Reason],
}

fn opt_path<S: serde::Serializer>(p: &Option<&Path>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => crate::serde_path::serialize(p, s),
        None => s.serialize_none(),
    }
}

/// Build the manifest document, hashing every file (in parallel; the result does not depend
/// on the thread count).
pub(super) fn manifest_doc(plan: &Rootfs) -> Result<ManifestDoc<'_>, Error> {
    let hashes: Vec<Option<String>> = plan
        .entries()
        .par_iter()
        .map(|e| if e.kind == EntryKind::File { sha256_of(e).map(Some) } else { Ok(None) })
        .collect::<Result<_, Error>>()?;
    let hash_of =
        |p: &Path| plan.entries().binary_search_by(|e| e.path.as_path().cmp(p)).ok().and_then(|i| hashes[i].clone());
    let entries = plan
        .entries()
        .iter()
        .zip(&hashes)
        .map(|(e, h)| {
            let (kind, target, size, sha256) = match &e.kind {
                EntryKind::File => ("file", None, Some(e.size), h.clone()),
                EntryKind::HardLink { target } => ("hardlink", Some(target.as_path()), Some(e.size), hash_of(target)),
                EntryKind::Symlink { target } => ("symlink", Some(target.as_path()), None, None),
                EntryKind::Directory => ("directory", None, None, None),
            };
            ManifestEntry {
                path: &e.path,
                kind,
                mode: format!("{:04o}", e.mode & 0o7777),
                size,
                sha256,
                target,
                owner: (e.uid != 0 || e.gid != 0).then_some([e.uid, e.gid]),
                xattrs: e
                    .xattrs
                    .iter()
                    .map(|(k, v)| {
                        (k.to_string_lossy().into_owned(), v.as_bytes().iter().map(|b| format!("{b:02x}")).collect())
                    })
                    .collect(),
                setuid: e.is_setuid(),
                setgid: e.is_setgid(),
                reasons: &e.reasons,
            }
        })
        .collect();
    Ok(ManifestDoc { schema: MANIFEST_SCHEMA, entries, missing: plan.missing() })
}

fn sha256_of(e: &Entry) -> Result<String, Error> {
    if let Some(data) = &e.data {
        return Ok(Sha256::digest(data.as_bytes()).iter().map(|b| format!("{b:02x}")).collect());
    }
    let src = e.source.as_deref().unwrap_or(Path::new(""));
    let err = |x: io::Error| Error::io(src, x);
    let mut f = open_source(src).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        super::atomic::check_interrupt().map_err(err)?;
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > e.size {
            break;
        }
        h.update(&buf[..n]);
        super::progress::add(n as u64);
    }
    if total != e.size {
        return Err(Error::new(
            ErrorKind::Io,
            src,
            format!("size changed from {} to {total} bytes since the plan was made", e.size),
        ));
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Write the manifest of `plan` as pretty-printed JSON (schema [`MANIFEST_SCHEMA`]),
/// followed by a newline:
///
/// ```json
/// {
///   "schema": "depclose-manifest/1",
///   "entries": [
///     { "path": "/usr/lib/x86_64-linux-gnu/libc.so.6", "kind": "file", "mode": "0755",
///       "size": 1922136, "sha256": "…", "setuid": false, "setgid": false,
///       "reasons": [ { "kind": "needed", "by": "/usr/bin/ls", "name": "libc.so.6" } ] }
///   ]
/// }
/// ```
///
/// `kind` is `file`, `hardlink` (`target` names the file; `size` and `sha256` repeat its
/// values), `symlink` (`target` verbatim) or `directory`. Paths are byte-exact: a UTF-8 path
/// is a plain string; a path that is not UTF-8 is its display string (invalid bytes replaced
/// by U+FFFD) and, beside it, `path_bytes` (or `target_bytes`, `by_bytes`, ...: the field's
/// name and `_bytes`) holding its exact bytes in standard base64; [`path_from_json`](super::path_from_json) reads
/// either back.
///
/// # Errors
/// A source file cannot be read or changed size since the plan was made; writing fails.
pub fn write_manifest<W: Write>(plan: &Rootfs, mut out: W) -> Result<(), Error> {
    let doc = manifest_doc(plan)?;
    let werr = |e: io::Error| Error::io("<manifest>", e);
    crate::serde_path::to_writer_exact(&mut out, &doc, true).map_err(|e| werr(e.into()))?;
    out.write_all(b"\n").map_err(werr)?;
    out.flush().map_err(werr)
}
