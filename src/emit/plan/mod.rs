//! The rootfs plan: which files, symlinks and directories an image needs, and why.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::bytes::Bytes;
use crate::error::{Error, ErrorKind};
use crate::model::{Closure, FileId};
use crate::root::Root;
use crate::runtime::{Evidence, RuntimeFiles};

mod acc;

use self::acc::{hard_links, Acc, Slot, SlotMap};

/// What kind of filesystem object an [`Entry`] is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file, copied from [`Entry::source`].
    File,
    /// A second name of a regular file already in the plan (same device and inode on the
    /// host): `target` is the in-root path of the first name, in plan order.
    HardLink {
        /// In-root path of the [`EntryKind::File`] entry this is another name of.
        target: PathBuf,
    },
    /// A symbolic link.
    Symlink {
        /// The link's target exactly as `readlink` returns it (relative or absolute), except
        /// that leading `..` components that would climb above the root are dropped (see
        /// [`Rootfs::warnings`]).
        target: PathBuf,
    },
    /// A directory.
    Directory,
}

/// Why an entry is in a [`Rootfs`]. An entry has one or more.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The file a closure was computed for.
    Input,
    /// The ELF interpreter (`PT_INTERP`) of an input.
    Interpreter {
        /// In-root canonical path of the input.
        #[serde(with = "crate::serde_path")]
        of: PathBuf,
    },
    /// A preloaded library (`LD_PRELOAD`, `/etc/ld.so.preload`).
    Preload,
    /// Requested by an object's `DT_NEEDED` entry.
    Needed {
        /// In-root canonical path of the requesting object.
        #[serde(with = "crate::serde_path")]
        by: PathBuf,
        /// The name as written in the requester.
        name: Bytes,
    },
    /// A copy of a library that a CPU of another level loads instead (glibc-hwcaps).
    Variant {
        /// In-root canonical path of the copy the closure chose.
        #[serde(with = "crate::serde_path")]
        of: PathBuf,
        /// The hwcaps subdirectory (`glibc-hwcaps/x86-64-v3`), empty for the baseline copy.
        subdir: Bytes,
    },
    /// A symbolic link crossed on the way to a file of the plan.
    Symlink {
        /// In-root canonical path of the file reached.
        #[serde(with = "crate::serde_path")]
        to: PathBuf,
    },
    /// A directory that a path the loader opens passes through before a `..` component.
    Traversed {
        /// In-root canonical path of the file reached.
        #[serde(with = "crate::serde_path")]
        to: PathBuf,
    },
    /// A parent directory of other entries.
    Parent,
    /// Asked for with [`RootfsBuilder::add`], directly or as part of a directory.
    Added {
        /// The path as given to `add`.
        #[serde(with = "crate::serde_path")]
        arg: PathBuf,
    },
    /// A file the loader reads at start on which the closure depends (`ld.so.cache`,
    /// `ld.so.preload`, musl's path file).
    LoaderConfig,
    /// The target of a symbolic link found under an added directory.
    LinkTarget {
        /// In-root path of the link.
        #[serde(with = "crate::serde_path")]
        link: PathBuf,
    },
    /// Loaded after start-up by a `dlopen` call that the evidence says the program makes
    /// ([`Closure::dlopened`]).
    Dlopen {
        /// In-root canonical path of the calling object.
        #[serde(with = "crate::serde_path")]
        by: PathBuf,
        /// The name passed to `dlopen`.
        name: Bytes,
        /// The evidence for the call.
        evidence: String,
    },
    /// A runtime file: what no `DT_NEEDED` names but the program needs to work, with the
    /// evidence for it (see [`crate::runtime`]).
    Runtime {
        /// The pack and the evidence.
        #[serde(flatten)]
        evidence: Evidence,
    },
    /// A dpkg record generated for the files of a Debian package the image ships
    /// (`/var/lib/dpkg/status.d/<package>`, `<package>.md5sums`).
    PackageRecord {
        /// The package name.
        package: String,
    },
}

/// One file, symlink or directory of a [`Rootfs`]. Returned by [`Rootfs::entries`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// In-root absolute path, canonical (no symlink, `.` or `..` in it).
    pub path: PathBuf,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits, set-user-ID, set-group-ID and sticky bits included
    /// (`st_mode & 0o7777`). Symlinks: `0o777`.
    pub mode: u32,
    /// Size in bytes of a file or hard link's content; 0 otherwise.
    pub size: u64,
    /// Host path the content is read from (files and hard links), unless the content is
    /// [`data`](Self::data).
    pub source: Option<PathBuf>,
    /// The content itself, for a file the plan makes rather than copies (`/etc/passwd`
    /// written for the image, say).
    pub data: Option<Bytes>,
    /// Owner user ID in the image (0 unless a runtime pack says otherwise).
    pub uid: u32,
    /// Owner group ID in the image.
    pub gid: u32,
    /// Device and inode of the source on the host (files and hard links).
    pub file_id: Option<FileId>,
    /// Extended attributes kept in the image, by name (`security.capability`: the file
    /// capabilities a program needs to work as a non-root user). Sorted by name.
    pub xattrs: Vec<(Bytes, Bytes)>,
    /// Why it is there, sorted, without duplicates.
    pub reasons: Vec<Reason>,
}

impl Entry {
    /// A directory entry.
    pub fn directory(path: impl Into<PathBuf>, mode: u32) -> Entry {
        Entry::bare(path.into(), EntryKind::Directory, mode & 0o7777)
    }

    /// A regular file entry whose content is read from `source` (a host path).
    pub fn file(path: impl Into<PathBuf>, source: impl Into<PathBuf>, mode: u32, size: u64) -> Entry {
        let mut e = Entry::bare(path.into(), EntryKind::File, mode & 0o7777);
        e.source = Some(source.into());
        e.size = size;
        e
    }

    /// A regular file entry whose content is `data` (made by the plan, not copied).
    pub fn generated(path: impl Into<PathBuf>, data: impl Into<Bytes>, mode: u32) -> Entry {
        let data = data.into();
        let mut e = Entry::bare(path.into(), EntryKind::File, mode & 0o7777);
        e.size = data.len() as u64;
        e.data = Some(data);
        e
    }

    /// Set the owner (builder style).
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// A symbolic link entry.
    pub fn symlink(path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Entry {
        Entry::bare(path.into(), EntryKind::Symlink { target: target.into() }, 0o777)
    }

    fn bare(path: PathBuf, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            path,
            kind,
            mode,
            size: 0,
            source: None,
            data: None,
            uid: 0,
            gid: 0,
            file_id: None,
            xattrs: Vec::new(),
            reasons: Vec::new(),
        }
    }

    /// Add a reason (builder style).
    pub fn with_reason(mut self, reason: Reason) -> Entry {
        self.push_reason(reason);
        self
    }

    fn push_reason(&mut self, reason: Reason) {
        if let Err(pos) = self.reasons.binary_search(&reason) {
            self.reasons.insert(pos, reason);
        }
    }

    /// The set-user-ID bit is set.
    pub fn is_setuid(&self) -> bool {
        self.is_content() && self.mode & 0o4000 != 0
    }

    /// The set-group-ID bit is set (on a file: set-group-ID on execution).
    pub fn is_setgid(&self) -> bool {
        self.is_content() && self.mode & 0o2000 != 0
    }

    fn is_content(&self) -> bool {
        matches!(self.kind, EntryKind::File | EntryKind::HardLink { .. })
    }

    /// The archive member name: the path without its leading `/` (`usr/lib/libc.so.6`).
    pub fn member_name(&self) -> &Path {
        relative(&self.path)
    }
}

pub(super) fn relative(p: &Path) -> &Path {
    let b = p.as_os_str().as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] == b'/' {
        i += 1;
    }
    Path::new(OsStr::from_bytes(&b[i..]))
}

/// The sorted set of entries a rootfs needs. Built by [`RootfsBuilder`] (from closures) or
/// [`Rootfs::from_entries`]; written by [`write_tar`](super::write_tar),
/// [`write_dir`](super::write_dir) and [`write_manifest`](super::write_manifest).
///
/// Invariants, checked on construction: paths are absolute, canonical and unique; entries are
/// sorted by path (component-wise), so every directory precedes its contents; every parent
/// of an entry is a [`EntryKind::Directory`] entry (so no writer ever creates anything under
/// a symlink); every hard link points to a file entry that precedes it; no relative symlink
/// target climbs above the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rootfs {
    root: PathBuf,
    entries: Vec<Entry>,
    warnings: Vec<String>,
    added_elf: Vec<PathBuf>,
    missing: Vec<MissingLibrary>,
}

/// A library a closure of the plan needs that nothing satisfies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct MissingLibrary {
    /// In-root canonical path of the object that needs it.
    #[serde(with = "crate::serde_path")]
    pub by: PathBuf,
    /// The name as written in it.
    pub name: Bytes,
}

impl Rootfs {
    /// A builder with every default.
    pub fn builder<'a>() -> RootfsBuilder<'a> {
        RootfsBuilder::default()
    }

    /// A plan from explicit entries (any order). `root` is the host directory the entries'
    /// sources live under (informational).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when an invariant of [`Rootfs`] does not hold: a path that is
    /// relative, not canonical or repeated, a parent that is missing or not a directory, a
    /// hard link to something that is not an earlier file, a file without a source.
    pub fn from_entries(root: impl Into<PathBuf>, entries: Vec<Entry>) -> Result<Rootfs, Error> {
        let mut plan =
            Rootfs { root: root.into(), entries, warnings: Vec::new(), added_elf: Vec::new(), missing: Vec::new() };
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&mut self) -> Result<(), Error> {
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let bad = |p: &Path, what: &str| Error::new(ErrorKind::Config, p, format!("invalid rootfs entry: {what}"));
        let mut warnings = Vec::new();
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            let p = e.path.as_path();
            if !is_canonical(p) {
                return Err(bad(p, "not an absolute canonical path"));
            }
            if i > 0 && self.entries[i - 1].path == e.path {
                return Err(bad(p, "listed twice"));
            }
            if let Some(parent) = p.parent().filter(|q| *q != Path::new("/")) {
                match self.find(parent) {
                    Some(d) if d.kind == EntryKind::Directory => {}
                    Some(_) => return Err(bad(p, "its parent is not a directory")),
                    None => return Err(bad(p, "its parent directory is missing")),
                }
            }
            match &e.kind {
                EntryKind::File => {
                    if e.source.is_none() && e.data.is_none() {
                        return Err(bad(p, "file without a source"));
                    }
                }
                EntryKind::HardLink { target } => {
                    if e.source.is_none() {
                        return Err(bad(p, "hard link without a source"));
                    }
                    match self.find(target) {
                        Some(t) if t.kind == EntryKind::File && t.path < e.path => {}
                        _ => return Err(bad(p, "hard link target is not an earlier file entry")),
                    }
                }
                EntryKind::Symlink { target } => {
                    let tb = target.as_os_str().as_bytes();
                    if tb.is_empty() || tb.contains(&0) {
                        return Err(bad(p, "empty symlink target or NUL byte in it"));
                    }
                    if let Some(clamped) = clamp_link_target(p, target) {
                        warnings.push(format!(
                            "{}: symlink target {} climbs above the root; stored as {}",
                            p.display(),
                            target.display(),
                            clamped.display()
                        ));
                        self.entries[i].kind = EntryKind::Symlink { target: clamped };
                    }
                }
                EntryKind::Directory => {}
            }
        }
        self.warnings.extend(warnings);
        Ok(())
    }

    fn find(&self, path: &Path) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.path.as_path().cmp(path)).ok().map(|i| &self.entries[i])
    }

    /// The entry at an in-root path.
    pub fn get(&self, path: impl AsRef<Path>) -> Option<&Entry> {
        self.find(path.as_ref())
    }

    /// The host directory that plays `/` for the entries' sources.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every entry, sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Files with the set-user-ID or set-group-ID bit, which the plan keeps as they are.
    pub fn setid_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_setuid() || e.is_setgid())
    }

    /// Things worth telling the user that did not stop the plan (skipped special files,
    /// rewritten symlink targets).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// In-root paths of the ELF executables and shared objects among the added entries
    /// ([`RootfsBuilder::add`]), sorted. A caller closes over them ([`RootfsBuilder::added_closure`]) so that what they
    /// need is in the rootfs too.
    pub fn added_elf_files(&self) -> &[PathBuf] {
        &self.added_elf
    }

    /// Libraries the plan's closures need that were not found, sorted.
    pub fn missing(&self) -> &[MissingLibrary] {
        &self.missing
    }

    /// The plan with `extra` entries added (generated files, for example), and the
    /// directories above them that the plan does not have yet (mode 0755).
    ///
    /// # Errors
    /// [`ErrorKind::Config`]: an extra entry's path is already in the plan, or a path above
    /// it is in the plan as something other than a directory, or another invariant of
    /// [`Rootfs`] does not hold.
    pub fn with_entries(mut self, extra: Vec<Entry>) -> Result<Rootfs, Error> {
        let mut added: BTreeMap<PathBuf, Entry> = BTreeMap::new();
        for e in extra {
            if self.find(&e.path).is_some() || added.contains_key(&e.path) {
                return Err(Error::new(ErrorKind::Config, &e.path, "invalid rootfs entry: already in the plan"));
            }
            let mut cur = e.path.parent();
            while let Some(d) = cur.filter(|d| *d != Path::new("/")) {
                if self.find(d).is_none() && !added.contains_key(d) {
                    added.insert(d.to_path_buf(), Entry::directory(d, 0o755).with_reason(Reason::Parent));
                }
                cur = d.parent();
            }
            added.insert(e.path.clone(), e);
        }
        self.entries.extend(added.into_values());
        self.validate()?;
        Ok(self)
    }

    /// Total bytes of file content.
    pub fn content_bytes(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind == EntryKind::File).map(|e| e.size).sum()
    }
}

/// The extended attributes an image keeps: `security.capability` (file capabilities). Others
/// (SELinux labels, user attributes) belong to the host and are left out.
const KEPT_XATTRS: &[&[u8]] = &[b"security.capability"];

/// The kept extended attributes of a host file (not following a final symlink). A file
/// system without xattr support, or none set, gives none; values are bounded (64 KiB, the
/// kernel's own limit).
fn kept_xattrs(host: &Path) -> Vec<(Bytes, Bytes)> {
    use std::ffi::CString;
    let Ok(c) = CString::new(host.as_os_str().as_bytes()) else { return Vec::new() };
    let mut out = Vec::new();
    for name in KEPT_XATTRS {
        let cname = CString::new(*name).expect("no NUL in a constant");
        let mut buf = vec![0u8; 64 * 1024];
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        let n = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            out.push((Bytes::from(*name), Bytes::from(buf)));
        }
    }
    out
}

/// Absolute, at least one component, only normal components, no NUL.
fn is_canonical(p: &Path) -> bool {
    let b = p.as_os_str().as_bytes();
    if b.first() != Some(&b'/')
        || b.len() < 2
        || b.contains(&0)
        || b.ends_with(b"/")
        || b.windows(2).any(|w| w == b"//")
    {
        return false;
    }
    p.components().skip(1).all(|c| matches!(c, Component::Normal(_)))
        && b.split(|&c| c == b'/').skip(1).all(|c| c != b"." && c != b"..")
}

/// For a relative target whose `..` components would climb above the root (lexically,
/// from the link's directory), the same target with those extra `..` dropped: what a
/// chroot (and the loader inside the image) resolves it to anyway, and harmless when the
/// archive is unpacked and followed on a host.
fn clamp_link_target(link: &Path, target: &Path) -> Option<PathBuf> {
    let tb = target.as_os_str().as_bytes();
    if tb.first() == Some(&b'/') {
        return None;
    }
    let mut depth = link.parent().map(|p| p.components().count().saturating_sub(1)).unwrap_or(0);
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut clamped = false;
    for c in tb.split(|&b| b == b'/') {
        if c == b".." {
            if depth == 0 {
                clamped = true;
                continue;
            }
            depth -= 1;
        } else if !c.is_empty() && c != b"." {
            depth += 1;
        }
        kept.push(c);
    }
    if !clamped {
        return None;
    }
    let mut out = kept.join(&b'/');
    if out.is_empty() {
        out = b".".to_vec();
    }
    Some(PathBuf::from(OsStr::from_bytes(&out)))
}

/// Builds a [`Rootfs`] from closures and extra paths.
///
/// ```no_run
/// let closure = depclose::closure("/usr/bin/curl")?;
/// let plan = depclose::emit::Rootfs::builder()
///     .closure(&closure)
///     .add("/etc/ssl/certs")
///     .build()?;
/// # Ok::<(), depclose::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RootfsBuilder<'a> {
    root: Option<PathBuf>,
    closures: Vec<(&'a Closure, bool)>,
    adds: Vec<PathBuf>,
    runtime: Vec<&'a RuntimeFiles>,
    variants: bool,
    follow_added_links: bool,
}

impl Default for RootfsBuilder<'_> {
    fn default() -> Self {
        RootfsBuilder {
            root: None,
            closures: Vec::new(),
            adds: Vec::new(),
            runtime: Vec::new(),
            variants: true,
            follow_added_links: true,
        }
    }
}

impl<'a> RootfsBuilder<'a> {
    /// The host directory that plays `/`. Default: the root of the first closure, else `/`.
    /// Every closure must have been computed in this root.
    pub fn root(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.root = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Include everything a closure maps: its input at its own path, every object at its
    /// canonical path, every symlink crossed on the way (kept as a symlink), every directory
    /// a path walks through before `..`, and the hwcaps variants (see
    /// [`variants`](Self::variants)). Can be called any number of times.
    pub fn closure(&mut self, closure: &'a Closure) -> &mut Self {
        self.closures.push((closure, false));
        self
    }

    /// Like [`closure`](Self::closure) for the closure of an added ELF file: its input is
    /// recorded as added rather than as an input.
    pub fn added_closure(&mut self, closure: &'a Closure) -> &mut Self {
        self.closures.push((closure, true));
        self
    }

    /// Include an in-root path (absolute): a file, or a directory with everything under it
    /// (symlinks kept as symlinks; a symlink's target is included too when it is a file
    /// inside the root, see [`follow_added_links`](Self::follow_added_links)). Symlinks on
    /// the way to the path are kept. FIFOs, sockets and device nodes are skipped with a
    /// warning. Default: nothing added. Can be called any number of times.
    pub fn add(&mut self, in_root: impl AsRef<Path>) -> &mut Self {
        self.adds.push(in_root.as_ref().to_path_buf());
        self
    }

    /// Include runtime files ([`crate::runtime::Runtime::files`]): paths of the root (a
    /// directory with everything under it), programs, generated files and directories,
    /// each with its evidence as the reason. ELF files among them are listed in
    /// [`Rootfs::added_elf_files`], like those of [`add`](Self::add).
    pub fn runtime(&mut self, files: &'a RuntimeFiles) -> &mut Self {
        self.runtime.push(files);
        self
    }

    /// Whether the glibc-hwcaps variants of each library are included, so that the image
    /// works on any CPU level (the loader of each machine picks its copy). Turn off to keep
    /// only the copies the closure chose for its CPU level. Default: true.
    pub fn variants(&mut self, yes: bool) -> &mut Self {
        self.variants = yes;
        self
    }

    /// Whether a symlink found under an added directory brings its target (when the target
    /// is a regular file inside the root). Default: true.
    pub fn follow_added_links(&mut self, yes: bool) -> &mut Self {
        self.follow_added_links = yes;
        self
    }

    /// Compute the plan: `lstat` of every path on the host (inside the root), nothing read.
    ///
    /// # Errors
    /// A path of a closure no longer exists or changed kind ([`ErrorKind::Io`]); closures
    /// from different roots, or an added path that is relative ([`ErrorKind::Config`]).
    pub fn build(&self) -> Result<Rootfs, Error> {
        let root_dir = match (&self.root, self.closures.first()) {
            (Some(r), _) => r.clone(),
            (None, Some((c, _))) => c.root.clone(),
            (None, None) => PathBuf::from("/"),
        };
        let root = Root::new(&root_dir).map_err(|e| Error::io(&root_dir, e))?;
        for (c, _) in &self.closures {
            if c.root != root_dir && fs::canonicalize(&c.root).ok().as_deref() != Some(root.host_dir()) {
                return Err(Error::new(
                    ErrorKind::Config,
                    &c.input,
                    format!("computed in root {} but the rootfs root is {}", c.root.display(), root_dir.display()),
                ));
            }
        }
        let mut acc = Acc { root: &root, map: SlotMap::default(), warnings: Vec::new(), added_elf: Vec::new() };
        for (c, added) in &self.closures {
            acc.closure(c, *added, self.variants)?;
        }
        for arg in &self.adds {
            acc.add(arg, self.follow_added_links, &[Reason::Added { arg: arg.clone() }])?;
        }
        for files in &self.runtime {
            for item in &files.items {
                acc.runtime_item(item, self.follow_added_links)?;
            }
        }
        acc.parents()?;
        let Acc { map, warnings, mut added_elf, .. } = acc;
        // Plan order: by path, component by component.
        let mut slots: Vec<Slot> = map.into_values().collect();
        slots.sort_unstable_by(|a, b| a.entry.path.cmp(&b.entry.path));
        hard_links(&mut slots);
        added_elf.sort();
        added_elf.dedup();
        let mut missing: Vec<MissingLibrary> = self
            .closures
            .iter()
            .flat_map(|(c, _)| {
                c.missing.iter().map(|m| MissingLibrary {
                    by: c.objects.get(m.from).map(|o| o.file.location.realpath.clone()).unwrap_or_default(),
                    name: m.name.clone(),
                })
            })
            .collect();
        missing.sort();
        missing.dedup();
        let mut plan = Rootfs {
            root: root.host_dir().to_path_buf(),
            entries: slots.into_iter().map(|s| s.entry).collect(),
            warnings,
            added_elf,
            missing,
        };
        plan.validate()?;
        Ok(plan)
    }
}
