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

use std::fmt;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, ErrorKind};
use crate::resolver::Resolver;
use crate::root::Root;

use super::atomic::{next_id, temp_name};
use super::dir::TempTree;

mod tree;
mod unpack;

use self::tree::{check_links, check_manifest, find_manifest, scan_tree};
use self::unpack::{docker_archive_layers, unpack, unpack_docker_layers, unpack_layout, Budget};

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
    use super::tree::climbs_above_root;
    use super::unpack::{digest_hex, member_path};
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
