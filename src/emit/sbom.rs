//! What is inside an image: the root's dpkg database (read, never executed), the
//! distroless-style `/var/lib/dpkg/status.d/` records of the packages whose files the image
//! ships, and an SPDX 2.3 JSON document of the image's files and packages.
//!
//! The database is `var/lib/dpkg/status` (deb822 stanzas) and `var/lib/dpkg/info/<package>
//! [:<arch>].list` / `.md5sums`, read through the chroot-style [`Root`] so that no symlink
//! leads out of the root. A listed path is matched to the plan by its canonical in-root
//! form (directories resolved, the last component kept), so that Debian 12's
//! `/lib/x86_64-linux-gnu/libc.so.6` (via the `/lib -> usr/lib` link) is the plan's
//! `/usr/lib/x86_64-linux-gnu/libc.so.6`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::root::Root;

use super::plan::{relative, Entry, EntryKind, Reason, Rootfs};
use super::tar::open_source;

/// The directory of the generated records.
pub const STATUS_D: &str = "/var/lib/dpkg/status.d";

/// Largest dpkg database file read (status, a `.list`, a `.md5sums`).
const MAX_DB_FILE: u64 = 256 << 20;

/// One installed package of a dpkg database.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpkgPackage {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `all`, ...).
    pub architecture: String,
    /// The package's stanza in `status`, verbatim, ending with a newline.
    pub stanza: String,
    /// The `.md5sums` file's lines (`<md5>  <path without leading />`), verbatim, with the
    /// canonical in-root path each names.
    md5sums: Vec<(String, PathBuf)>,
}

/// A root's dpkg database: its installed packages and who owns which file.
#[derive(Clone, Debug, Default)]
pub struct DpkgDatabase {
    packages: Vec<DpkgPackage>,
    /// Canonical in-root path → indices of the owning packages.
    owners: HashMap<PathBuf, Vec<usize>>,
}

fn read_bounded(p: &Path) -> Result<Vec<u8>, Error> {
    let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut v = Vec::new();
    f.take(MAX_DB_FILE + 1).read_to_end(&mut v).map_err(|e| Error::io(p, e))?;
    if v.len() as u64 > MAX_DB_FILE {
        return Err(Error::new(ErrorKind::LimitExceeded, p, format!("larger than {MAX_DB_FILE} bytes")));
    }
    Ok(v)
}

/// The deb822 stanzas of a file: each stanza's text and its fields (continuation lines
/// joined with `\n`).
fn stanzas(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    let mut flush = |raw: &mut String, fields: &mut BTreeMap<String, String>| {
        if !fields.is_empty() {
            out.push((std::mem::take(raw), std::mem::take(fields)));
        }
        raw.clear();
    };
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches(['\n', '\r']);
        if l.trim().is_empty() {
            flush(&mut raw, &mut fields);
            last = None;
            continue;
        }
        raw.push_str(l);
        raw.push('\n');
        if l.starts_with([' ', '\t']) {
            if let Some(v) = last.as_ref().and_then(|k| fields.get_mut(k)) {
                v.push('\n');
                v.push_str(l.trim());
            }
        } else if let Some((k, v)) = l.split_once(':') {
            fields.insert(k.trim().to_string(), v.trim().to_string());
            last = Some(k.trim().to_string());
        }
    }
    flush(&mut raw, &mut fields);
    out
}

/// Canonical in-root form of listed paths: the parent resolved (cached), the last
/// component kept.
struct Canon<'r> {
    root: &'r Root,
    dirs: HashMap<Vec<u8>, Option<PathBuf>>,
}

impl Canon<'_> {
    fn path(&mut self, listed: &[u8]) -> Option<PathBuf> {
        let listed = listed.strip_suffix(b"/").unwrap_or(listed);
        let i = listed.iter().rposition(|&b| b == b'/')?;
        let (parent, name) = (&listed[..i], &listed[i + 1..]);
        if name.is_empty() || name == b"." || name == b".." {
            return None;
        }
        let root = self.root;
        let dir = self
            .dirs
            .entry(parent.to_vec())
            .or_insert_with(|| {
                let p = if parent.is_empty() { &b"/"[..] } else { parent };
                root.walk(p, true).ok().filter(|w| w.metadata.is_dir()).map(|w| w.realpath)
            })
            .clone()?;
        Some(dir.join(std::ffi::OsStr::from_bytes(name)))
    }
}

impl DpkgDatabase {
    /// Read the dpkg database of the root directory `root` (`var/lib/dpkg` inside it).
    /// `Ok(None)` when the root has no `var/lib/dpkg/status`.
    ///
    /// # Errors
    /// The root is not a directory; a database file exists but cannot be read or is larger
    /// than 256 MiB.
    pub fn read(root: impl AsRef<Path>) -> Result<Option<DpkgDatabase>, Error> {
        Self::read_with(root.as_ref(), None)
    }

    /// Like [`read`](Self::read) for the root of `plan`, keeping only what concerns the
    /// plan's files (much less work on a big root): [`owners`](Self::owners) answers only
    /// for the plan's paths.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_for(plan: &Rootfs) -> Result<Option<DpkgDatabase>, Error> {
        let names: HashSet<Vec<u8>> = plan
            .entries()
            .iter()
            .filter(|e| e.kind != EntryKind::Directory)
            .filter_map(|e| e.path.file_name().map(|n| n.as_bytes().to_vec()))
            .collect();
        Self::read_with(plan.root(), Some(&names))
    }

    fn read_with(root_dir: &Path, wanted: Option<&HashSet<Vec<u8>>>) -> Result<Option<DpkgDatabase>, Error> {
        let root = Root::new(root_dir).map_err(|e| Error::io(root_dir, e))?;
        let Ok(status) = root.walk(b"/var/lib/dpkg/status", true) else {
            return Ok(None);
        };
        if !status.metadata.is_file() {
            return Ok(None);
        }
        let status_host = root.host_path(&status.realpath);
        let text = String::from_utf8_lossy(&read_bounded(&status_host)?).into_owned();
        let info_dir = root
            .walk(b"/var/lib/dpkg/info", true)
            .ok()
            .filter(|w| w.metadata.is_dir())
            .map(|w| root.host_path(&w.realpath));
        let keep = |path: &[u8]| {
            wanted.is_none_or(|w| {
                let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                w.contains(base)
            })
        };
        struct Pkg {
            stanza: String,
            name: String,
            version: String,
            arch: String,
        }
        let pkgs: Vec<Pkg> = stanzas(&text)
            .into_iter()
            .filter_map(|(stanza, mut f)| {
                let state = f.get("Status").and_then(|s| s.split_whitespace().last()).unwrap_or_default();
                if matches!(state, "not-installed" | "config-files" | "") {
                    return None;
                }
                let name = f.remove("Package")?;
                let version = f.remove("Version")?;
                let arch = f.remove("Architecture").unwrap_or_default();
                Some(Pkg { stanza, name, version, arch })
            })
            .collect();
        // Regular files of the info directory only (a symlink there is not followed).
        let info = |p: &Pkg, ext: &str| -> Vec<u8> {
            let Some(dir) = info_dir.as_ref() else { return Vec::new() };
            for n in [format!("{}:{}.{ext}", p.name, p.arch), format!("{}.{ext}", p.name)] {
                if n.contains('/') {
                    break;
                }
                if let Ok(f) = open_source(&dir.join(&n)) {
                    if f.metadata().map(|m| m.is_file()).unwrap_or(false) {
                        let mut v = Vec::new();
                        if f.take(MAX_DB_FILE).read_to_end(&mut v).is_ok() {
                            return v;
                        }
                    }
                }
            }
            Vec::new()
        };
        // The lines that matter, read in parallel: listed non-directories and md5sums lines.
        // Per package: the owned lines of its .list, the kept lines of its .md5sums.
        type Lines = (Vec<Vec<u8>>, Vec<Vec<u8>>);
        let lines: Vec<Lines> = pkgs
            .par_iter()
            .map(|p| {
                let list = info(p, "list");
                let all = || list.split(|&b| b == b'\n').filter(|l| !l.is_empty());
                if !all().any(&keep) {
                    return (Vec::new(), Vec::new()); // nothing of the plan: .md5sums not read
                }
                // A listed path with listed paths under it is a directory the package uses
                // (even where the root now has a symlink, as `/lib` in a merged-/usr root).
                let dirs: rustc_hash::FxHashSet<&[u8]> =
                    all().filter_map(|l| l.iter().rposition(|&b| b == b'/').map(|i| &l[..i])).collect();
                let owned: Vec<Vec<u8>> = all().filter(|l| keep(l) && !dirs.contains(l)).map(<[u8]>::to_vec).collect();
                if owned.is_empty() {
                    return (Vec::new(), Vec::new());
                }
                let md5 = info(p, "md5sums");
                let sums =
                    md5.split(|&b| b == b'\n').filter(|l| !l.is_empty() && keep(l)).map(<[u8]>::to_vec).collect();
                (owned, sums)
            })
            .collect();
        let mut canon = Canon { root: &root, dirs: HashMap::new() };
        let mut db = DpkgDatabase::default();
        for (idx, (p, (owned, sums))) in pkgs.into_iter().zip(lines).enumerate() {
            for line in owned {
                if let Some(c) = canon.path(&line) {
                    let owners = db.owners.entry(c).or_default();
                    if !owners.contains(&idx) {
                        owners.push(idx);
                    }
                }
            }
            let mut md5sums = Vec::new();
            for line in sums {
                let text = String::from_utf8_lossy(&line).into_owned();
                let Some((_, path)) = text.split_once("  ") else { continue };
                let abs = format!("/{}", path.trim_start_matches('/'));
                if let Some(c) = canon.path(abs.as_bytes()) {
                    md5sums.push((text.clone(), c));
                }
            }
            db.packages.push(DpkgPackage {
                name: p.name,
                version: p.version,
                architecture: p.arch,
                stanza: p.stanza,
                md5sums,
            });
        }
        Ok(Some(db))
    }

    /// Every installed package, in the order of `status`.
    pub fn packages(&self) -> &[DpkgPackage] {
        &self.packages
    }

    /// The packages that own a canonical in-root path.
    pub fn owners(&self, path: &Path) -> impl Iterator<Item = &DpkgPackage> {
        self.owners.get(path).into_iter().flatten().map(|&i| &self.packages[i])
    }

    fn owner_indices(&self, path: &Path) -> &[usize] {
        self.owners.get(path).map_or(&[], Vec::as_slice)
    }
}

/// The packages owning each non-directory entry of the plan (a hard link: its own path or
/// its target's), by entry index. A symlink to a directory (`/lib -> usr/lib` of a merged
/// /usr) is nobody's: dpkg lists such a path as a directory of every package with files
/// under it.
fn plan_owners(plan: &Rootfs, db: &DpkgDatabase) -> Vec<Vec<usize>> {
    let root = Root::new(plan.root()).ok();
    plan.entries()
        .iter()
        .map(|e| {
            let mut v = match &e.kind {
                EntryKind::Directory => return Vec::new(),
                EntryKind::Symlink { .. } => {
                    let to_dir = root
                        .as_ref()
                        .and_then(|r| r.walk(e.path.as_os_str().as_bytes(), true).ok())
                        .is_some_and(|w| w.metadata.is_dir());
                    if to_dir {
                        return Vec::new();
                    }
                    db.owner_indices(&e.path).to_vec()
                }
                EntryKind::HardLink { target } => {
                    let mut v = db.owner_indices(&e.path).to_vec();
                    v.extend_from_slice(db.owner_indices(target));
                    v
                }
                _ => db.owner_indices(&e.path).to_vec(),
            };
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect()
}

/// The file name of a package's records: the package name, or `name_arch` when two
/// installed architectures of it ship files.
fn record_names(db: &DpkgDatabase, pkgs: &BTreeSet<usize>) -> BTreeMap<usize, String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for &i in pkgs {
        *count.entry(db.packages[i].name.as_str()).or_default() += 1;
    }
    pkgs.iter()
        .map(|&i| {
            let p = &db.packages[i];
            let n = if count[p.name.as_str()] > 1 { format!("{}_{}", p.name, p.architecture) } else { p.name.clone() };
            (i, n)
        })
        .collect()
}

/// Generated entries for the packages that own a file, symlink or hard link of `plan`:
/// `/var/lib/dpkg/status.d/<package>` (the package's `status` stanza) and
/// `/var/lib/dpkg/status.d/<package>.md5sums` (its `.md5sums` lines for the files the plan
/// ships; left out when none). Add them with [`Rootfs::with_entries`]. Records whose path
/// the plan already has are left out.
pub fn dpkg_records(plan: &Rootfs, db: &DpkgDatabase) -> Vec<Entry> {
    let mut pkgs = BTreeSet::new();
    let mut shipped = BTreeSet::new();
    for (e, owners) in plan.entries().iter().zip(plan_owners(plan, db)) {
        if e.kind == EntryKind::Directory {
            continue;
        }
        shipped.insert(e.path.clone());
        pkgs.extend(owners);
    }
    let names = record_names(db, &pkgs);
    let mut out = Vec::new();
    for (i, name) in names {
        let p = &db.packages[i];
        let reason = Reason::PackageRecord { package: p.name.clone() };
        let path = Path::new(STATUS_D).join(&name);
        if plan.get(&path).is_none() {
            out.push(Entry::generated(path, p.stanza.clone().into_bytes(), 0o644).with_reason(reason.clone()));
        }
        let mut md5 = String::new();
        for (line, canon) in &p.md5sums {
            if shipped.contains(canon) {
                md5.push_str(line);
                md5.push('\n');
            }
        }
        let path = Path::new(STATUS_D).join(format!("{name}.md5sums"));
        if !md5.is_empty() && plan.get(&path).is_none() {
            out.push(Entry::generated(path, md5.into_bytes(), 0o644).with_reason(reason));
        }
    }
    out
}

// --- SPDX 2.3 ---------------------------------------------------------------------------------

/// Options for [`write_spdx`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SbomOptions {
    /// The document's and the image package's name. Default: `rootfs`.
    pub name: String,
    /// `creationInfo.created`, seconds since the epoch. Default: 0. A caller passes
    /// `SOURCE_DATE_EPOCH` here.
    pub created: u64,
}

impl Default for SbomOptions {
    fn default() -> Self {
        SbomOptions { name: "rootfs".into(), created: 0 }
    }
}

impl SbomOptions {
    /// Every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set [`SbomOptions::name`].
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = name.into();
        self
    }

    /// Set [`SbomOptions::created`].
    pub fn created(&mut self, secs: u64) -> &mut Self {
        self.created = secs;
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxDoc<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: &'a str,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    files: Vec<SpdxFile>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: &'static str,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxFile {
    file_name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    checksums: [Checksum; 2],
    license_concluded: &'static str,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// sha1 and sha256 of an entry's content, in one read.
fn hashes(e: &Entry) -> Result<(String, String), Error> {
    let (mut h1, mut h2) = (Sha1::new(), Sha256::new());
    if let Some(c) = &e.data {
        h1.update(c.as_bytes());
        h2.update(c.as_bytes());
    } else {
        let src = e.source.as_deref().unwrap_or(Path::new(""));
        let err = |x: io::Error| Error::io(src, x);
        let mut f = open_source(src).map_err(err)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(err)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            h1.update(&buf[..n]);
            h2.update(&buf[..n]);
        }
        if total != e.size {
            return Err(Error::new(
                ErrorKind::Io,
                src,
                format!("size changed from {} to {total} bytes since the plan was made", e.size),
            ));
        }
    }
    Ok((hex(&h1.finalize()), hex(&h2.finalize())))
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH`, percent-encoded where the purl spec wants it.
pub fn deb_purl(name: &str, version: &str, arch: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!("pkg:deb/debian/{}@{}?arch={}", enc(name), enc(version), enc(arch))
}

fn spdx_id_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// Write an SPDX 2.3 JSON document of `plan` to `out`: one package for the image (described
/// by the document), one per Debian package owning a file of the image (`name`,
/// `versionInfo`, a `purl` with its architecture), each regular file (and hard link) of the
/// image with its SHA1 and SHA256, and the relationships: the document DESCRIBES the image,
/// the image CONTAINS each Debian package and each file that no package owns (those carry
/// the comment `not owned by any Debian package`), a Debian package CONTAINS its files.
/// Without a database (`db` is `None`), every file is unowned.
///
/// Deterministic: the same plan, contents and options give the same bytes (the
/// `documentNamespace` is derived from the content).
///
/// # Errors
/// A source cannot be read or changed size since the plan was made; writing fails.
pub fn write_spdx<W: Write>(
    plan: &Rootfs,
    db: Option<&DpkgDatabase>,
    mut out: W,
    opts: &SbomOptions,
) -> Result<(), Error> {
    let files: Vec<&Entry> = plan.entries().iter().filter(|e| e.kind == EntryKind::File).collect();
    let sums: Vec<(String, String)> = files.par_iter().map(|e| hashes(e)).collect::<Result<_, Error>>()?;
    let by_path: HashMap<&Path, &(String, String)> = files.iter().map(|e| e.path.as_path()).zip(sums.iter()).collect();
    let empty = DpkgDatabase::default();
    let dbr = db.unwrap_or(&empty);
    let image_id = "SPDXRef-Image".to_string();
    let mut spdx_files = Vec::new();
    let mut rels = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: image_id.clone(),
    }];
    let mut contains: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut ns = Sha256::new();
    ns.update(opts.name.as_bytes());
    let mut n = 0usize;
    let owners_of = plan_owners(plan, dbr);
    for (e, owners) in plan.entries().iter().zip(&owners_of) {
        let sum = match &e.kind {
            EntryKind::File => by_path.get(e.path.as_path()).copied(),
            EntryKind::HardLink { target } => by_path.get(target.as_path()).copied(),
            _ => None,
        };
        let Some((sha1, sha256)) = sum else { continue };
        n += 1;
        let id = format!("SPDXRef-File-{n}");
        ns.update(e.path.as_os_str().as_bytes());
        ns.update(sha256.as_bytes());
        let comment = if owners.is_empty() {
            rels.push(Relationship {
                spdx_element_id: image_id.clone(),
                relationship_type: "CONTAINS",
                related_spdx_element: id.clone(),
            });
            Some(if e.data.is_some() {
                "not owned by any Debian package (generated by depclose)"
            } else {
                "not owned by any Debian package"
            })
        } else {
            for o in owners {
                contains.entry(*o).or_default().push(id.clone());
            }
            None
        };
        spdx_files.push(SpdxFile {
            file_name: format!("./{}", relative(&e.path).to_string_lossy()),
            spdx_id: id,
            checksums: [
                Checksum { algorithm: "SHA1", checksum_value: sha1.clone() },
                Checksum { algorithm: "SHA256", checksum_value: sha256.clone() },
            ],
            license_concluded: "NOASSERTION",
            copyright_text: "NOASSERTION",
            comment,
        });
    }
    // Packages that own a symlink only are in the image too.
    for (e, owners) in plan.entries().iter().zip(&owners_of) {
        if matches!(e.kind, EntryKind::Symlink { .. }) {
            for o in owners {
                contains.entry(*o).or_default();
            }
        }
    }
    let mut packages = vec![SpdxPackage {
        name: opts.name.clone(),
        spdx_id: image_id.clone(),
        version_info: None,
        download_location: "NOASSERTION",
        files_analyzed: true,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION",
        copyright_text: "NOASSERTION",
        primary_package_purpose: Some("CONTAINER"),
        external_refs: Vec::new(),
        comment: Some(match db {
            Some(_) => "the image; its Debian packages as the root's dpkg database records them".into(),
            None => "the image; the root has no dpkg database".into(),
        }),
    }];
    let mut order: Vec<usize> = contains.keys().copied().collect();
    order.sort_by(|a, b| {
        let (p, q) = (&dbr.packages[*a], &dbr.packages[*b]);
        (&p.name, &p.architecture).cmp(&(&q.name, &q.architecture))
    });
    for i in order {
        let p = &dbr.packages[i];
        let id = format!("SPDXRef-Package-deb-{}-{}", spdx_id_part(&p.name), spdx_id_part(&p.architecture));
        ns.update(id.as_bytes());
        ns.update(p.version.as_bytes());
        rels.push(Relationship {
            spdx_element_id: image_id.clone(),
            relationship_type: "CONTAINS",
            related_spdx_element: id.clone(),
        });
        for f in &contains[&i] {
            rels.push(Relationship {
                spdx_element_id: id.clone(),
                relationship_type: "CONTAINS",
                related_spdx_element: f.clone(),
            });
        }
        packages.push(SpdxPackage {
            name: p.name.clone(),
            spdx_id: id,
            version_info: Some(p.version.clone()),
            download_location: "NOASSERTION",
            files_analyzed: true,
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION",
            copyright_text: "NOASSERTION",
            primary_package_purpose: None,
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: deb_purl(&p.name, &p.version, &p.architecture),
            }],
            comment: Some(format!("architecture {}", p.architecture)),
        });
    }
    let h = ns.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&h[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let x = hex(&u);
    let namespace = format!("urn:uuid:{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..]);
    let doc = SpdxDoc {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: &opts.name,
        document_namespace: namespace,
        creation_info: CreationInfo {
            created: super::oci::rfc3339(opts.created),
            creators: vec![format!("Tool: depclose-{}", env!("CARGO_PKG_VERSION"))],
        },
        packages,
        files: spdx_files,
        relationships: rels,
    };
    let werr = |e: io::Error| Error::io("<sbom>", e);
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| werr(e.into()))?;
    out.write_all(b"\n").map_err(werr)?;
    out.flush().map_err(werr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_keep_their_text_and_fields() {
        let s =
            stanzas("Package: a\nStatus: install ok installed\nDescription: x\n more\n\n\nPackage: b\nVersion: 1:2\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "Package: a\nStatus: install ok installed\nDescription: x\n more\n");
        assert_eq!(s[0].1["Description"], "x\nmore");
        assert_eq!(s[1].1["Version"], "1:2");
    }

    #[test]
    fn purls_are_encoded() {
        assert_eq!(deb_purl("libc6", "2.36-9+deb12u4", "amd64"), "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64");
        assert_eq!(deb_purl("login", "1:4.13+dfsg1-1", "amd64"), "pkg:deb/debian/login@1%3A4.13%2Bdfsg1-1?arch=amd64");
    }
}
