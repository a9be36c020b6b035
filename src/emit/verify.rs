//! `verify`: is an image self-contained? Every ELF file of the image is resolved with the
//! image as the root; what is missing, truncated, dangling or different from a depclose
//! manifest is named.
//!
//! An image is a directory (a rootfs), a `.tar` or `.tar.gz` of a rootfs, an OCI image layout
//! directory or an OCI image archive. Archives and layers are unpacked into a fresh
//! directory under [`VerifyOptions::scratch_dir`] by a strict unpacker: member names that are
//! absolute or contain `..`, members under a symlink, hard links to anything but an earlier
//! regular file and oversized GNU long-name or pax records are refused; the number of
//! members and of unpacked bytes is bounded. Nothing is ever read through a symlink of the
//! image except by the chroot-style [`Root`] walk, which cannot leave the image.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::resolver::Resolver;
use crate::root::Root;

use super::atomic::{next_id, temp_name};
use super::dir::TempTree;
use super::manifest::MANIFEST_SCHEMA;

/// Options for [`verify_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Directory in which archives and layers are unpacked (in a fresh subdirectory, removed
    /// afterwards). The library never reads `TMPDIR`: a caller passes it here.
    pub scratch_dir: PathBuf,
    /// A depclose manifest to check the image against. Default: none given, in which case
    /// `.depclose/manifest.json` inside the image, then `IMAGE.manifest.json` and (for
    /// `NAME.tar`, `NAME.tar.gz`, `NAME.tgz`) `NAME.manifest.json` beside it are used when
    /// they exist.
    pub manifest: Option<PathBuf>,
    /// Most members an archive (or all layers together) may have. Default: 1,000,000.
    pub max_entries: u64,
    /// Most bytes an archive (or all layers together) may unpack to, headers included.
    /// Default: 64 GiB.
    pub max_unpacked_bytes: u64,
    /// Largest GNU long-name or long-link record, or pax extended header. Default: 64 KiB.
    pub max_header_bytes: u64,
    /// Largest JSON document read (index, manifest, config, depclose manifest). Default: 64 MiB.
    pub max_json_bytes: u64,
}

impl VerifyOptions {
    /// Every default, unpacking under `scratch_dir`.
    pub fn new(scratch_dir: impl Into<PathBuf>) -> VerifyOptions {
        VerifyOptions {
            scratch_dir: scratch_dir.into(),
            manifest: None,
            max_entries: 1_000_000,
            max_unpacked_bytes: 64 << 30,
            max_header_bytes: 64 << 10,
            max_json_bytes: 64 << 20,
        }
    }

    /// Set [`VerifyOptions::manifest`].
    pub fn manifest(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.manifest = Some(path.into());
        self
    }

    /// Set [`VerifyOptions::max_unpacked_bytes`].
    pub fn max_unpacked_bytes(&mut self, n: u64) -> &mut Self {
        self.max_unpacked_bytes = n;
        self
    }

    /// Set [`VerifyOptions::max_entries`].
    pub fn max_entries(&mut self, n: u64) -> &mut Self {
        self.max_entries = n;
        self
    }
}

/// What an image turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// A directory holding a rootfs.
    Directory,
    /// A tar archive of a rootfs.
    Tar,
    /// A gzip-compressed tar archive of a rootfs.
    TarGz,
    /// An OCI image layout directory.
    OciLayout,
    /// An OCI image archive (a tar of a layout).
    OciArchive,
    /// A docker archive without an OCI layout (`docker save` before Docker 25, `podman save
    /// --format docker-archive`): `manifest.json` naming the config and the layer tarballs.
    DockerArchive,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Directory => "directory",
            ImageFormat::Tar => "tar",
            ImageFormat::TarGz => "tar.gz",
            ImageFormat::OciLayout => "OCI layout",
            ImageFormat::OciArchive => "OCI archive",
            ImageFormat::DockerArchive => "docker archive",
        })
    }
}

/// The kind of a [`Problem`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A library an ELF file needs is not in the image.
    MissingLibrary,
    /// The loader would abort (a corrupt file where a library was expected, ...).
    LoaderError,
    /// An ELF file is corrupted or truncated (a segment or the section table lies past its
    /// end, the header is damaged).
    Corrupt,
    /// A symbolic link leads nowhere inside the image.
    DanglingLink,
    /// A symbolic link loop.
    LinkLoop,
    /// A relative symbolic link climbs above the image root.
    LinkEscapes,
    /// A file's sha256 differs from the manifest's.
    HashMismatch,
    /// The image differs from the manifest otherwise (missing or extra entry, size, kind,
    /// mode, link target).
    ManifestMismatch,
    /// An OCI blob differs from its digest, or a layer from its diff_id.
    BlobMismatch,
    /// A symbol version an object requires is not defined by the library it names: the
    /// loader would refuse to start the program (`ldd -r`'s "version `V' not found").
    MissingVersion,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::MissingLibrary => "missing library",
            ProblemKind::MissingVersion => "missing symbol version",
            ProblemKind::LoaderError => "loader error",
            ProblemKind::Corrupt => "corrupted or truncated file",
            ProblemKind::DanglingLink => "dangling link",
            ProblemKind::LinkLoop => "symlink loop",
            ProblemKind::LinkEscapes => "link escapes the image",
            ProblemKind::HashMismatch => "hash mismatch",
            ProblemKind::ManifestMismatch => "manifest mismatch",
            ProblemKind::BlobMismatch => "blob digest mismatch",
        })
    }
}

/// One thing wrong with an image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The in-image path concerned (absolute), or the blob.
    pub path: PathBuf,
    /// The details.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.path.display(), self.message)
    }
}

/// The outcome of [`verify_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// What the image was.
    pub format: ImageFormat,
    /// How many ELF executables and shared objects were resolved.
    pub elf_files: usize,
    /// The manifest checked, if any.
    pub manifest: Option<PathBuf>,
    /// Everything wrong, sorted.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not problems (skipped device nodes, ...).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

fn unreadable(p: &Path, msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Io, p, msg)
}

/// Verify `image`: resolve every ELF executable and shared object in it with the image as
/// the root (its own `ld.so.cache` and configuration), check ELF files for truncation,
/// every symlink for a target inside the image, OCI blobs against their digests and layers
/// against their diff_ids, and the image against a depclose manifest (see
/// [`VerifyOptions::manifest`]).
///
/// # Errors
/// The image cannot be read or unpacked safely: it does not exist, an archive is malformed
/// or hostile (absolute or `..` member names, a member under a symlink, a hard link out of
/// the image, a limit of [`VerifyOptions`] exceeded), an OCI index or manifest is invalid.
/// Problems of a readable image are not errors: see [`VerifyReport::problems`].
pub fn verify_image(image: impl AsRef<Path>, opts: &VerifyOptions) -> Result<VerifyReport, Error> {
    let image = image.as_ref();
    let meta = fs::metadata(image).map_err(|e| Error::io(image, e))?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut scratch: Option<(PathBuf, TempTree)> = None;
    let mut make_scratch = || -> Result<PathBuf, Error> {
        let base = opts.scratch_dir.join("depclose-verify");
        loop {
            let tmp = temp_name(&base, next_id())?;
            match DirBuilder::new().mode(0o700).create(&tmp) {
                Ok(()) => {
                    scratch = Some((tmp.clone(), TempTree::new(tmp.clone())));
                    return Ok(tmp);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&opts.scratch_dir, e)),
            }
        }
    };
    let mut budget = Budget::new(opts);
    let (format, rootdir) = if meta.is_dir() {
        if fs::symlink_metadata(image.join("oci-layout")).is_ok() {
            let tmp = make_scratch()?;
            let rootfs = tmp.join("rootfs");
            mkdir(&rootfs)?;
            unpack_layout(image, &rootfs, opts, &mut budget, &mut problems, &mut notes)?;
            (ImageFormat::OciLayout, rootfs)
        } else {
            (ImageFormat::Directory, image.to_path_buf())
        }
    } else {
        let tmp = make_scratch()?;
        let outer = tmp.join("outer");
        mkdir(&outer)?;
        let mut f = File::open(image).map_err(|e| Error::io(image, e))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(|e| Error::io(image, e))?;
        drop(f);
        let gz = n == 2 && magic == [0x1f, 0x8b];
        let f = File::open(image).map_err(|e| Error::io(image, e))?;
        let r: Box<dyn Read> =
            if gz { Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(f))) } else { Box::new(f) };
        unpack(r, &outer, image, false, &mut budget, &mut notes)?;
        let is_oci = fs::symlink_metadata(outer.join("oci-layout")).map(|m| m.is_file()).unwrap_or(false)
            && fs::symlink_metadata(outer.join("index.json")).map(|m| m.is_file()).unwrap_or(false);
        if is_oci {
            let rootfs = tmp.join("rootfs");
            mkdir(&rootfs)?;
            unpack_layout(&outer, &rootfs, opts, &mut budget, &mut problems, &mut notes)?;
            (ImageFormat::OciArchive, rootfs)
        } else if let Some(layers) = docker_archive_layers(&outer, opts) {
            let rootfs = tmp.join("rootfs");
            mkdir(&rootfs)?;
            unpack_docker_layers(&outer, &layers, &rootfs, &mut budget, &mut problems, &mut notes)?;
            (ImageFormat::DockerArchive, rootfs)
        } else {
            (if gz { ImageFormat::TarGz } else { ImageFormat::Tar }, outer)
        }
    };
    let root = Root::new(&rootdir).map_err(|e| Error::io(&rootdir, e))?;
    let (elf_files, symlinks) = scan_tree(&root, opts, &mut problems)?;
    check_links(&root, &symlinks, &mut problems);
    let resolver = Resolver::builder().root(root.host_dir()).build()?;
    // The symbol check of every closure, as `ldd -r` would make it inside the image: a
    // missing version stops the program from starting (a problem); references nothing
    // defines are normal for plugins, whose host program defines them (a note).
    let symbols = crate::symcheck::SymbolCache::new();
    let results: Vec<(PathBuf, Result<Checked, Error>)> = elf_files
        .par_iter()
        .map(|p| {
            let r = resolver.closure_in_root(p).map(|c| {
                let report = symbols.check(&c, &resolver);
                (c, report)
            });
            (p.clone(), r)
        })
        .collect();
    let mut undefined = 0usize;
    for (p, r) in results {
        match r {
            Ok((c, report)) => {
                for v in report.version_problems.iter().filter(|v| v.is_fatal()) {
                    let name = |i: usize| c.objects.get(i).map(|o| o.file.location.realpath.display().to_string());
                    problems.push(Problem {
                        kind: ProblemKind::MissingVersion,
                        path: p.clone(),
                        message: format!(
                            "{}: version `{}' not found (required by {})",
                            name(v.provider).unwrap_or_default(),
                            v.version,
                            name(v.required_by).unwrap_or_default()
                        ),
                    });
                }
                undefined += usize::from(!report.undefined.is_empty());
                for m in &c.missing {
                    let by = c.objects.get(m.from).map(|o| o.file.location.realpath.clone()).unwrap_or_default();
                    let via = if by == p { String::new() } else { format!(" (needed by {})", by.display()) };
                    problems.push(Problem {
                        kind: ProblemKind::MissingLibrary,
                        path: p.clone(),
                        message: format!("{}{via}: not found in the image", m.name),
                    });
                }
                if let Some(f) = &c.fatal {
                    problems.push(Problem {
                        kind: ProblemKind::LoaderError,
                        path: p.clone(),
                        message: format!("{}: {}: {}", f.name, f.path.display(), f.message),
                    });
                }
            }
            Err(e) => problems.push(Problem {
                kind: ProblemKind::Corrupt,
                path: p.clone(),
                message: format!("cannot be resolved: {}", e.message()),
            }),
        }
    }
    if undefined > 0 {
        notes.push(format!(
            "{undefined} ELF files have symbol references nothing in their closure defines (plugins and \
             extension modules get them from their host program; `depclose-cli -r` lists them)"
        ));
    }
    let manifest = find_manifest(image, &root, opts);
    if let Some(m) = &manifest {
        check_manifest(m, &root, opts, scratch.is_some(), &mut problems)?;
    }
    problems.sort();
    problems.dedup();
    drop(scratch);
    Ok(VerifyReport { format, elf_files: elf_files.len(), manifest, problems, notes })
}

/// A closure of the image and its symbol report.
type Checked = (crate::Closure, crate::symcheck::SymbolReport);

fn mkdir(p: &Path) -> Result<(), Error> {
    DirBuilder::new().mode(0o755).create(p).map_err(|e| Error::io(p, e))
}

// --- Unpacking --------------------------------------------------------------------------------

/// What is left of the limits across every archive of one image.
struct Budget {
    entries: u64,
    bytes: u64,
    header: u64,
    json: u64,
}

impl Budget {
    fn new(o: &VerifyOptions) -> Budget {
        Budget {
            entries: o.max_entries,
            bytes: o.max_unpacked_bytes,
            header: o.max_header_bytes,
            json: o.max_json_bytes,
        }
    }
}

/// Counts the bytes read through it against the budget (decompression bombs, endless streams).
struct Bounded<'b, R> {
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
fn member_path(raw: &[u8]) -> Result<Option<PathBuf>, String> {
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
fn safe_parent(dest: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
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

fn strip<'a>(base: &Path, p: &'a Path) -> &'a Path {
    p.strip_prefix(base).unwrap_or(p)
}

/// Remove whatever is at `p` (never following a symlink).
fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Read a bounded extension record (GNU long name, pax header).
fn read_record<R: Read>(e: &mut R, size: u64, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    if size > limit {
        return Err(format!("{what} of {size} bytes (limit {limit})"));
    }
    let mut v = Vec::with_capacity(size as usize);
    e.take(limit + 1).read_to_end(&mut v).map_err(|x| x.to_string())?;
    Ok(v)
}

/// `path` and `linkpath` of a pax extended header.
fn pax_fields(data: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
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
fn unpack<R: Read>(
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
fn digest_hex(d: &str) -> Option<&str> {
    let h = d.strip_prefix("sha256:")?;
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(h)
}

/// A regular file of the layout at `rel`, opened without following any symlink on the way.
fn open_in(layout: &Path, rel: &Path) -> Result<File, Error> {
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

fn read_json(layout: &Path, rel: &Path, limit: u64) -> Result<(Vec<u8>, serde_json::Value), Error> {
    let mut f = open_in(layout, rel)?;
    let mut v = Vec::new();
    (&mut f).take(limit + 1).read_to_end(&mut v).map_err(|e| Error::io(layout.join(rel), e))?;
    if v.len() as u64 > limit {
        return Err(unreadable(&layout.join(rel), format!("larger than {limit} bytes")));
    }
    let j = serde_json::from_slice(&v).map_err(|e| unreadable(&layout.join(rel), format!("invalid JSON: {e}")))?;
    Ok((v, j))
}

fn blob_rel(d: &str) -> Option<PathBuf> {
    digest_hex(d).map(|h| Path::new("blobs/sha256").join(h))
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A JSON blob named by a descriptor: read, its digest and size checked.
fn read_blob_json(
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
struct HashRead<R> {
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

fn unpack_layout(
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
    if manifest["mediaType"] == super::oci::MEDIA_TYPE_INDEX || manifest.get("manifests").is_some() {
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
fn docker_archive_layers(outer: &Path, opts: &VerifyOptions) -> Option<(Vec<PathBuf>, Vec<String>)> {
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

fn unpack_docker_layers(
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

// --- The tree ---------------------------------------------------------------------------------

/// In-root paths of the ELF executables and shared objects (truncation checked) and of the
/// symlinks.
fn scan_tree(
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
fn elf_integrity(host: &Path) -> Option<Result<(), String>> {
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

fn read_at_most(f: &File, buf: &mut [u8], off: u64) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

fn check_links(root: &Root, links: &[PathBuf], problems: &mut Vec<Problem>) {
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
fn climbs_above_root(link: &Path, target: &Path) -> bool {
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

fn find_manifest(image: &Path, root: &Root, opts: &VerifyOptions) -> Option<PathBuf> {
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
fn canonical(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && !p.contains('\0')
        && p[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

fn check_manifest(
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
fn hash_file(host: &Path, size: u64) -> io::Result<String> {
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

/// Write a report as text: one line per problem, then a summary.
///
/// # Errors
/// Writing fails.
pub fn write_verify_report<W: Write>(image: &Path, report: &VerifyReport, mut out: W) -> io::Result<()> {
    for p in &report.problems {
        writeln!(out, "{p}")?;
    }
    let manifest = match &report.manifest {
        Some(m) => format!(", manifest {}", m.display()),
        None => ", no manifest".into(),
    };
    writeln!(
        out,
        "{}: {} ({}, {} ELF files{manifest}): {}",
        image.display(),
        if report.is_sound() { "sound" } else { "NOT sound" },
        report.format,
        report.elf_files,
        match report.problems.len() {
            0 => "no problem".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        }
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_made_safe() {
        assert_eq!(member_path(b"./usr/bin/x").unwrap(), Some(PathBuf::from("usr/bin/x")));
        assert_eq!(member_path(b"./").unwrap(), None);
        assert_eq!(member_path(b"usr//lib/").unwrap(), Some(PathBuf::from("usr/lib")));
        assert!(member_path(b"/etc/passwd").is_err());
        assert!(member_path(b"usr/../../etc").is_err());
        assert!(member_path(b"a\0b").is_err());
    }

    #[test]
    fn climbing_links_are_seen() {
        assert!(climbs_above_root(Path::new("/usr/lib/x"), Path::new("../../../etc")));
        assert!(!climbs_above_root(Path::new("/usr/lib/x"), Path::new("../../etc")));
        assert!(!climbs_above_root(Path::new("/lib"), Path::new("usr/lib")));
        assert!(!climbs_above_root(Path::new("/lib"), Path::new("/../../x")));
    }

    #[test]
    fn digests_are_checked_before_they_become_paths() {
        assert!(digest_hex(&format!("sha256:{}", "a".repeat(64))).is_some());
        assert!(digest_hex("sha256:../../etc/passwd").is_none());
        assert!(digest_hex(&format!("sha512:{}", "a".repeat(64))).is_none());
        assert!(digest_hex(&format!("sha256:{}", "A".repeat(64))).is_none());
    }
}
