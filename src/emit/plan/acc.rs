//! The accumulator behind [`RootfsBuilder::build`](super::RootfsBuilder::build): each path
//! `lstat`ed once, with its reasons, then the parents and hard links.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::model::{Closure, FileId, Location, Role};
use crate::root::Root;
use crate::runtime::ItemKind;

use super::{kept_xattrs, Entry, EntryKind, Reason};

pub(super) struct Slot {
    pub(super) entry: Entry,
    pub(super) nlink: u64,
}

/// The plan's entries while it is built, by in-root path bytes (paths are canonical, so
/// bytes and components name the same entry); sorted once at the end.
#[derive(Default)]
pub(super) struct SlotMap(rustc_hash::FxHashMap<Vec<u8>, Slot>);

impl SlotMap {
    fn get_mut(&mut self, p: &Path) -> Option<&mut Slot> {
        self.0.get_mut(p.as_os_str().as_bytes())
    }
    fn contains_key(&self, p: &Path) -> bool {
        self.0.contains_key(p.as_os_str().as_bytes())
    }
    fn insert(&mut self, p: PathBuf, slot: Slot) {
        self.0.insert(std::os::unix::ffi::OsStringExt::into_vec(p.into_os_string()), slot);
    }
    fn keys(&self) -> impl Iterator<Item = &Path> {
        self.0.keys().map(|k| Path::new(std::ffi::OsStr::from_bytes(k)))
    }
    pub(super) fn into_values(self) -> impl Iterator<Item = Slot> {
        self.0.into_values()
    }
}

pub(super) struct Acc<'r> {
    pub(super) root: &'r Root,
    pub(super) map: SlotMap,
    pub(super) warnings: Vec<String>,
    pub(super) added_elf: Vec<PathBuf>,
}

fn conflict(p: &Path, what: &str) -> Error {
    Error::new(ErrorKind::Io, p, format!("{what} (did the tree change while it was read?)"))
}

impl Acc<'_> {
    pub(super) fn closure(&mut self, c: &Closure, added: bool, variants: bool) -> Result<(), Error> {
        for f in &c.loader_files {
            self.location(f, vec![Reason::LoaderConfig])?;
        }
        let input_real = c.objects.first().map(|o| o.file.location.realpath.clone()).unwrap_or_default();
        for (i, o) in c.objects.iter().enumerate() {
            let real = o.file.location.realpath.clone();
            let mut reasons = Vec::new();
            match o.role {
                Role::Input if added => reasons.push(Reason::Added { arg: o.file.location.path.clone() }),
                Role::Input => reasons.push(Reason::Input),
                Role::Interpreter => reasons.push(Reason::Interpreter { of: input_real.clone() }),
                Role::Preload => reasons.push(Reason::Preload),
                _ => {}
            }
            for e in c.edges.iter().filter(|e| e.to == i && e.from != i) {
                if let Some(by) = c.objects.get(e.from) {
                    let by_path = by.file.location.realpath.clone();
                    let dl = c
                        .dlopened
                        .iter()
                        .find(|d| d.to == Some(i) && d.request.from == e.from && d.request.name == e.name);
                    reasons.push(match dl {
                        Some(d) => {
                            Reason::Dlopen { by: by_path, name: e.name.clone(), evidence: d.request.reason.clone() }
                        }
                        None => Reason::Needed { by: by_path, name: e.name.clone() },
                    });
                }
            }
            if reasons.is_empty() {
                let by = o.loaded_by.and_then(|j| c.objects.get(j)).unwrap_or(&c.objects[0]);
                let name = o.names.first().cloned().unwrap_or_default();
                reasons.push(Reason::Needed { by: by.file.location.realpath.clone(), name });
            }
            self.location(&o.file.location, reasons)?;
            if variants {
                for v in &o.file.variants {
                    let reason = Reason::Variant { of: real.clone(), subdir: v.subdir.clone() };
                    self.location(&v.location, vec![reason])?;
                }
            }
        }
        Ok(())
    }

    /// Everything needed for `loc.path` to open `loc.realpath` inside the image.
    fn location(&mut self, loc: &Location, reasons: Vec<Reason>) -> Result<(), Error> {
        let real = &loc.realpath;
        for hop in &loc.hops {
            self.symlink(&hop.link, &hop.target, Reason::Symlink { to: real.clone() })?;
        }
        for dir in self.traversed(&loc.path)? {
            self.directory(&dir, Reason::Traversed { to: real.clone() })?;
        }
        for r in reasons {
            self.file(real, r)?;
        }
        Ok(())
    }

    /// Directories `path` walks through before a `..` (they must exist in the image even
    /// when nothing else in them is shipped), with the symlinks on the way.
    fn traversed(&mut self, path: &Path) -> Result<Vec<PathBuf>, Error> {
        let b = path.as_os_str().as_bytes();
        if b.first() != Some(&b'/') {
            return Ok(Vec::new());
        }
        let comps: Vec<&[u8]> = b.split(|&c| c == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
        let mut out = Vec::new();
        for i in 0..comps.len().saturating_sub(1) {
            if comps[i + 1] == b".." && comps[i] != b".." {
                let mut prefix = Vec::new();
                for c in &comps[..=i] {
                    prefix.push(b'/');
                    prefix.extend_from_slice(c);
                }
                if let Ok(w) = self.root.walk(&prefix, true) {
                    if w.metadata.is_dir() {
                        for hop in &w.hops {
                            self.symlink(&hop.link, &hop.target, Reason::Symlink { to: w.realpath.clone() })?;
                        }
                        out.push(w.realpath);
                    }
                }
            }
        }
        Ok(out)
    }

    fn host(&self, p: &Path) -> PathBuf {
        self.root.host_path(p)
    }

    fn lstat(&self, p: &Path) -> Result<(PathBuf, fs::Metadata), Error> {
        let host = self.host(p);
        let m = fs::symlink_metadata(&host).map_err(|e| Error::io(&host, e))?;
        Ok((host, m))
    }

    fn file(&mut self, p: &Path, reason: Reason) -> Result<(), Error> {
        if let Some(s) = self.map.get_mut(p) {
            if s.entry.kind != EntryKind::File {
                return Err(conflict(p, "needed both as a file and as something else"));
            }
            s.entry.push_reason(reason);
            return Ok(());
        }
        let (host, m) = self.lstat(p)?;
        if !m.file_type().is_file() {
            return Err(conflict(&host, "not a regular file"));
        }
        let xattrs = kept_xattrs(&host);
        let mut entry = Entry::file(p, host, m.mode(), m.len()).with_reason(reason);
        entry.file_id = Some(FileId { dev: m.dev(), ino: m.ino() });
        entry.xattrs = xattrs;
        self.map.insert(p.to_path_buf(), Slot { entry, nlink: m.nlink() });
        Ok(())
    }

    fn symlink(&mut self, p: &Path, target: &Path, reason: Reason) -> Result<(), Error> {
        if let Some(s) = self.map.get_mut(p) {
            match &s.entry.kind {
                EntryKind::Symlink { target: t } if t == target => {}
                _ => return Err(conflict(p, "needed both as a symlink and as something else")),
            }
            s.entry.push_reason(reason);
            return Ok(());
        }
        let (host, m) = self.lstat(p)?;
        if !m.file_type().is_symlink() {
            return Err(conflict(&host, "not a symbolic link"));
        }
        let on_disk = fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
        if on_disk != target {
            return Err(conflict(&host, &format!("symlink now points to {}", on_disk.display())));
        }
        self.map.insert(p.to_path_buf(), Slot { entry: Entry::symlink(p, target).with_reason(reason), nlink: 1 });
        Ok(())
    }

    fn directory(&mut self, p: &Path, reason: Reason) -> Result<(), Error> {
        if p == Path::new("/") {
            return Ok(());
        }
        if let Some(s) = self.map.get_mut(p) {
            if s.entry.kind != EntryKind::Directory {
                return Err(conflict(p, "needed both as a directory and as something else"));
            }
            s.entry.push_reason(reason);
            return Ok(());
        }
        let (host, m) = self.lstat(p)?;
        if !m.is_dir() {
            return Err(conflict(&host, "not a directory"));
        }
        self.map.insert(p.to_path_buf(), Slot { entry: Entry::directory(p, m.mode()).with_reason(reason), nlink: 1 });
        Ok(())
    }

    /// One runtime item, with a reason per piece of evidence.
    pub(super) fn runtime_item(&mut self, item: &crate::runtime::Item, follow_links: bool) -> Result<(), Error> {
        let reasons: Vec<Reason> = item.evidence.iter().map(|e| Reason::Runtime { evidence: e.clone() }).collect();
        let p = item.path.as_path();
        match &item.kind {
            ItemKind::Path | ItemKind::Program => self.add(p, follow_links, &reasons)?,
            ItemKind::Generated { data, mode, uid, gid } => {
                self.made_parents(p)?;
                match self.map.get_mut(p) {
                    Some(s) => {
                        self.warnings
                            .push(format!("{}: already in the image; not replaced by the runtime file", p.display()));
                        for r in reasons {
                            s.entry.push_reason(r);
                        }
                    }
                    None => {
                        let mut entry = Entry::generated(p, data.clone(), *mode).with_owner(*uid, *gid);
                        for r in reasons {
                            entry.push_reason(r);
                        }
                        self.map.insert(p.to_path_buf(), Slot { entry, nlink: 1 });
                    }
                }
            }
            ItemKind::Directory { mode, uid, gid } => {
                self.made_parents(p)?;
                if let Some(s) = self.map.get_mut(p) {
                    for r in reasons {
                        s.entry.push_reason(r);
                    }
                    return Ok(());
                }
                let host = self.host(p);
                let mut entry = match fs::symlink_metadata(&host) {
                    Ok(m) if m.is_dir() => Entry::directory(p, m.mode()),
                    _ => Entry::directory(p, *mode),
                };
                if *uid != 0 || *gid != 0 {
                    entry = entry.with_owner(*uid, *gid);
                }
                for r in reasons {
                    entry.push_reason(r);
                }
                self.map.insert(p.to_path_buf(), Slot { entry, nlink: 1 });
            }
        }
        Ok(())
    }

    /// The parent directories of a path the plan makes: the root's where it has them,
    /// else made (mode 0755).
    fn made_parents(&mut self, p: &Path) -> Result<(), Error> {
        let mut dirs: Vec<&Path> = p.ancestors().skip(1).filter(|d| *d != Path::new("/")).collect();
        dirs.reverse();
        for d in dirs {
            if self.map.contains_key(d) {
                continue;
            }
            match fs::symlink_metadata(self.host(d)) {
                Ok(m) if m.is_dir() => self.directory(d, Reason::Parent)?,
                Ok(_) => return Err(conflict(d, "a runtime file's parent is not a directory in the root")),
                Err(_) => {
                    let entry = Entry::directory(d, 0o755).with_reason(Reason::Parent);
                    self.map.insert(d.to_path_buf(), Slot { entry, nlink: 1 });
                }
            }
        }
        Ok(())
    }

    /// `arg` (a file, or a directory and everything under it) with every one of `reasons`:
    /// the tree is walked once, whatever the number of reasons.
    pub(super) fn add(&mut self, arg: &Path, follow_links: bool, reasons: &[Reason]) -> Result<(), Error> {
        let b = arg.as_os_str().as_bytes();
        if b.first() != Some(&b'/') {
            return Err(Error::new(ErrorKind::Config, arg, "an added path must be an absolute path inside the root"));
        }
        let w = self.root.walk(b, true).map_err(|errno| Error::io(arg, io::Error::from_raw_os_error(errno)))?;
        for hop in &w.hops {
            for r in reasons {
                self.symlink(&hop.link, &hop.target, r.clone())?;
            }
        }
        if w.metadata.is_file() {
            for r in reasons {
                self.file(&w.realpath, r.clone())?;
            }
            self.sniff_elf(&w.realpath);
            return Ok(());
        }
        if !w.metadata.is_dir() {
            return Err(Error::new(ErrorKind::Io, arg, "not a regular file or a directory"));
        }
        let host_dir = self.host(&w.realpath);
        let walker = walkdir::WalkDir::new(&host_dir).follow_links(false).sort_by_file_name();
        for item in walker {
            let item = item.map_err(|e| {
                let p = e.path().map(Path::to_path_buf).unwrap_or_else(|| host_dir.clone());
                Error::io(p, e.into())
            })?;
            let rel = item.path().strip_prefix(&host_dir).unwrap_or(Path::new(""));
            let in_root = if rel.as_os_str().is_empty() { w.realpath.clone() } else { w.realpath.join(rel) };
            let ft = item.file_type();
            if ft.is_dir() {
                for r in reasons {
                    self.directory(&in_root, r.clone())?;
                }
            } else if ft.is_file() {
                for r in reasons {
                    self.file(&in_root, r.clone())?;
                }
                self.sniff_elf(&in_root);
            } else if ft.is_symlink() {
                let target = fs::read_link(item.path()).map_err(|e| Error::io(item.path(), e))?;
                for r in reasons {
                    self.symlink(&in_root, &target, r.clone())?;
                }
                if follow_links {
                    self.link_target(&in_root)?;
                }
            } else {
                let what = if ft.is_fifo() {
                    "FIFO"
                } else if ft.is_socket() {
                    "socket"
                } else {
                    "device node"
                };
                self.warnings.push(format!("{}: {what} skipped", in_root.display()));
            }
        }
        Ok(())
    }

    /// Bring the file a symlink found under an added directory points to (inside the root).
    fn link_target(&mut self, link: &Path) -> Result<(), Error> {
        let Ok(w) = self.root.walk(link.as_os_str().as_bytes(), true) else {
            return Ok(()); // dangling: kept as it is
        };
        if !w.metadata.is_file() {
            return Ok(());
        }
        for hop in &w.hops {
            self.symlink(&hop.link, &hop.target, Reason::Symlink { to: w.realpath.clone() })?;
        }
        self.file(&w.realpath, Reason::LinkTarget { link: link.to_path_buf() })?;
        self.sniff_elf(&w.realpath);
        Ok(())
    }

    /// Remember `p` if it is an ELF executable or shared object (not an object file or a
    /// core dump: those are shipped as data).
    fn sniff_elf(&mut self, p: &Path) {
        let mut head = [0u8; 18];
        let ok = fs::File::open(self.host(p)).and_then(|mut f| f.read_exact(&mut head)).is_ok();
        if !ok || !crate::elf::is_elf(&head) {
            return;
        }
        let e_type = match head[5] {
            2 => u16::from_be_bytes([head[16], head[17]]),
            _ => u16::from_le_bytes([head[16], head[17]]),
        };
        if e_type == 2 || e_type == 3 {
            self.added_elf.push(p.to_path_buf());
        }
    }

    pub(super) fn parents(&mut self) -> Result<(), Error> {
        let mut need: Vec<PathBuf> = Vec::new();
        for p in self.map.keys() {
            let mut cur = p.parent();
            while let Some(d) = cur.filter(|d| *d != Path::new("/")) {
                if !self.map.contains_key(d) {
                    need.push(d.to_path_buf());
                }
                cur = d.parent();
            }
        }
        need.sort();
        need.dedup();
        for d in need {
            self.directory(&d, Reason::Parent)?;
        }
        Ok(())
    }
}

/// Files that are the same host inode (and have more than one link) become hard links to
/// the first of them in plan order (`slots` is sorted).
pub(super) fn hard_links(slots: &mut [Slot]) {
    let mut first: BTreeMap<FileId, PathBuf> = BTreeMap::new();
    for s in slots.iter_mut() {
        if s.entry.kind != EntryKind::File || s.nlink < 2 {
            continue;
        }
        let Some(id) = s.entry.file_id else { continue };
        match first.get(&id) {
            Some(target) => s.entry.kind = EntryKind::HardLink { target: target.clone() },
            None => {
                first.insert(id, s.entry.path.clone());
            }
        }
    }
}
