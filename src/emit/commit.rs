//! Several outputs of one run: checked against each other and the inputs before anything is
//! written, and committed together (all renamed at the end, or none).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

use super::atomic::{check_interrupt, next_id, parent_dir, temp_name, AtomicFile};
use super::dir::{stage_dir, StagedDir};
use super::plan::{EntryKind, Rootfs};
use super::DirOptions;

/// One output of a run, for [`check_outputs`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct OutputPath<'a> {
    /// How the caller names it in messages (`--tar`, `--manifest`, ...).
    pub label: &'a str,
    /// Where it is written.
    pub path: &'a Path,
    /// A directory output (`--dir`, `--oci-layout`): nothing else may be written inside it.
    pub is_dir: bool,
}

impl<'a> OutputPath<'a> {
    /// A file output.
    pub fn file(label: &'a str, path: &'a Path) -> Self {
        OutputPath { label, path, is_dir: false }
    }

    /// A directory output.
    pub fn dir(label: &'a str, path: &'a Path) -> Self {
        OutputPath { label, path, is_dir: true }
    }
}

/// Where a path is: its directory resolved (symlinks and `..` as the file system has them),
/// then its own name; the path as given when its directory cannot be resolved.
fn location(p: &Path) -> PathBuf {
    let Some(name) = p.file_name() else { return p.to_path_buf() };
    match (fs::canonicalize(parent_dir(p)), p.parent()) {
        (Ok(dir), _) => dir.join(name),
        // A directory still to be made (`--dir new --tar new/x.tar`): where it would be.
        (Err(_), Some(up)) if !up.as_os_str().is_empty() => location(up).join(name),
        _ => p.to_path_buf(),
    }
}

fn inode(m: &fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// Check, before anything is written, that no output is another output, lies inside a
/// directory output, or is one of the inputs: a program or added path named by the caller
/// (`inputs`) or any source file of `plan`. Paths are compared by device and inode where
/// they exist (an existing output is the inode its rename would replace; an input counts
/// both as the link and as what it points to), and by location otherwise (the directory
/// resolved, then the name), so `s.tar` and `./s.tar` are the same output.
///
/// A directory output must not exist or be an empty directory, and a file output must not
/// be a directory: checked here too, so that no output is written before another is found
/// impossible.
///
/// # Errors
/// The first clash, naming the output and what it clashes with
/// ([`ErrorKind::Config`]); a directory output that exists and is not an empty directory, a
/// file output that is a directory ([`ErrorKind::Io`]).
pub fn check_outputs(outputs: &[OutputPath<'_>], inputs: &[&Path], plan: Option<&Rootfs>) -> Result<(), Error> {
    struct Out<'a> {
        o: OutputPath<'a>,
        at: PathBuf,
        ino: Option<(u64, u64)>,
    }
    let outs: Vec<Out<'_>> = outputs
        .iter()
        .map(|o| Out { o: *o, at: location(o.path), ino: fs::symlink_metadata(o.path).ok().map(|m| inode(&m)) })
        .collect();
    let clash = |o: &OutputPath<'_>, what: String| Err(Error::new(ErrorKind::Config, o.path, what));
    // What each writer would find out only once the outputs before it were written.
    for o in outputs {
        if o.is_dir {
            super::dir::check_destination(o.path)?;
        } else if fs::symlink_metadata(o.path).is_ok_and(|m| m.is_dir()) {
            return Err(Error::io(o.path, io::Error::from_raw_os_error(libc::EISDIR)));
        }
    }
    for (i, a) in outs.iter().enumerate() {
        for b in &outs[..i] {
            if a.at == b.at || (a.ino.is_some() && a.ino == b.ino) {
                return clash(&a.o, format!("{} and {} name the same file", b.o.label, a.o.label));
            }
        }
        for b in outs.iter().filter(|b| b.o.is_dir) {
            if a.at != b.at && a.at.starts_with(&b.at) {
                return clash(
                    &a.o,
                    format!("{} would be written inside {} {}", a.o.label, b.o.label, b.o.path.display()),
                );
            }
        }
    }
    // Only an output that exists can be an input (an input exists).
    let existing: Vec<&Out<'_>> = outs.iter().filter(|o| o.ino.is_some()).collect();
    if existing.is_empty() {
        return Ok(());
    }
    let sources = plan
        .into_iter()
        .flat_map(|p| p.entries())
        .filter(|e| matches!(e.kind, EntryKind::File) && e.data.is_none())
        .filter_map(|e| e.source.as_deref());
    for input in inputs.iter().copied().chain(sources) {
        let ids = [fs::symlink_metadata(input).ok(), fs::metadata(input).ok()];
        for o in &existing {
            // An input at the output's location is its inode: no need to compare locations.
            if ids.iter().flatten().any(|m| Some(inode(m)) == o.ino) {
                return clash(&o.o, format!("{} would overwrite the input {}", o.o.label, input.display()));
            }
        }
    }
    Ok(())
}

/// Check that no file of `plan` is larger than `max` bytes, before anything is read: a
/// larger file would be read in full (and hashed, and compressed) for every output. A sparse
/// source (holes found with `SEEK_HOLE`) is said to be one, with the bytes of data it holds.
///
/// # Errors
/// The first such file ([`ErrorKind::LimitExceeded`]), naming its source.
pub fn check_file_sizes(plan: &Rootfs, max: u64) -> Result<(), Error> {
    for e in plan.entries() {
        if e.kind != EntryKind::File || e.size <= max {
            continue;
        }
        let src = e.source.as_deref().unwrap_or(&e.path);
        let sparse = match data_bytes(src, e.size) {
            Some(d) if d < e.size => format!(" (a sparse file: {d} bytes of data)"),
            _ => String::new(),
        };
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            src,
            format!("{} bytes{sparse}, above the file size limit of {max} bytes", e.size),
        ));
    }
    Ok(())
}

/// The bytes of data of a file, holes left out (`SEEK_DATA`/`SEEK_HOLE`); `None` when the
/// file cannot be opened or the file system cannot say.
fn data_bytes(p: &Path, size: u64) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let f = super::tar::open_source(p).ok()?;
    let fd = f.as_raw_fd();
    let (mut at, mut data) = (0i64, 0u64);
    let end = i64::try_from(size).ok()?;
    // Bounded: each round moves past one data extent; give up on absurd extent counts.
    for _ in 0..1_000_000 {
        if at >= end {
            return Some(data);
        }
        // SAFETY: `fd` is a valid descriptor owned by `f`, alive here.
        let start = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if start < 0 {
            return (io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO)).then_some(data);
        }
        // SAFETY: as above.
        let stop = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        if stop < start {
            return None;
        }
        data += (stop.min(end) - start.min(end)) as u64;
        at = stop;
    }
    None
}

enum Staged {
    File(AtomicFile),
    Dir(StagedDir),
}

impl Staged {
    fn dest(&self) -> &Path {
        match self {
            Staged::File(f) => f.path(),
            Staged::Dir(d) => d.path(),
        }
    }
}

/// What a rename replaced, to put it back if a later rename fails.
enum Undo {
    /// The file was new: remove it.
    Remove(PathBuf),
    /// An older file was there: its hard-linked copy goes back.
    Restore { dest: PathBuf, backup: PathBuf },
    /// A directory output (over nothing or an empty directory).
    Dir { dest: PathBuf, was_empty_dir: bool },
}

/// The outputs of one run, committed together: every file and directory is written under a
/// temporary name first, and [`commit`](Outputs::commit) renames them all at the end, or
/// none.
///
/// - Dropped without a commit (an error, an [`interrupt`](super::interrupt)), every
///   temporary file and tree is removed, and every directory already placed
///   ([`placed_dir`](Outputs::placed_dir)) is removed too.
/// - [`commit`](Outputs::commit) first flushes and syncs every file (where a full disk
///   shows), and only then renames. Should a rename fail after others succeeded, those are
///   rolled back: a new file or directory is removed, a file that replaced an older one gets
///   the older one back (a hard link to it is kept aside during the renames). What cannot be
///   rolled back: an older file on a file system without hard links is gone once replaced,
///   an empty directory replaced by a directory output is recreated empty (its own mode and
///   owner are not kept), and a rollback step that itself fails leaves that output in place.
/// - Interrupted after its first rename has begun, a commit completes.
#[derive(Default)]
pub struct Outputs {
    staged: Vec<Staged>,
    placed: Vec<PathBuf>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("staged", &self.staged.iter().map(Staged::dest).collect::<Vec<_>>())
            .field("placed", &self.placed)
            .finish()
    }
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file output, written and not yet committed.
    pub fn file(&mut self, f: AtomicFile) {
        self.staged.push(Staged::File(f));
    }

    /// Write `plan` as a directory tree for `dest` (see [`write_dir`](super::write_dir)),
    /// renamed into place by the commit.
    ///
    /// # Errors
    /// As [`write_dir`](super::write_dir); the temporary tree is removed.
    pub fn dir(&mut self, plan: &Rootfs, dest: impl AsRef<Path>, opts: &DirOptions) -> Result<(), Error> {
        let d = stage_dir(plan, dest.as_ref(), opts)?;
        self.staged.push(Staged::Dir(d));
        Ok(())
    }

    /// A directory a writer has already renamed into place (for example
    /// [`write_oci_layout`](super::write_oci_layout)): removed if these outputs are dropped
    /// uncommitted or their commit fails.
    pub fn placed_dir(&mut self, dest: impl Into<PathBuf>) {
        self.placed.push(dest.into());
    }

    /// Sync every output, then rename each over its destination (all, or none: see
    /// [`Outputs`]).
    ///
    /// # Errors
    /// Syncing or renaming fails (the error names the output), or
    /// [`interrupt`](super::interrupt) was called before the renames began; nothing is then
    /// left at any destination that was not there before.
    pub fn commit(mut self) -> Result<(), Error> {
        for s in &mut self.staged {
            if let Staged::File(f) = s {
                f.prepare()?;
            }
        }
        check_interrupt().map_err(|e| Error::io(self.staged.first().map(Staged::dest).unwrap_or(Path::new("")), e))?;
        let mut undo: Vec<Undo> = Vec::new();
        let staged = std::mem::take(&mut self.staged);
        for mut s in staged {
            let step = match &mut s {
                Staged::File(f) => rename_file(f),
                Staged::Dir(d) => {
                    let was_empty_dir = d.replaced_empty;
                    d.rename_into_place().map(|()| Undo::Dir { dest: d.path().to_path_buf(), was_empty_dir })
                }
            };
            match step {
                Ok(u) => undo.push(u),
                Err(e) => {
                    rollback(undo);
                    // `self` drops here: the placed directories go too.
                    return Err(e);
                }
            }
        }
        for u in undo {
            if let Undo::Restore { backup, .. } = u {
                let _ = fs::remove_file(backup);
            }
        }
        self.placed.clear();
        Ok(())
    }
}

fn rename_file(f: &mut AtomicFile) -> Result<Undo, Error> {
    let dest = f.path().to_path_buf();
    let old = fs::symlink_metadata(&dest).ok().filter(|m| !m.is_dir());
    let backup = match old {
        None => None,
        Some(_) => {
            let b = temp_name(&dest, next_id())?.with_extension("old");
            // link(2) links a symlink itself, never its target.
            fs::hard_link(&dest, &b).ok().map(|()| b)
        }
    };
    match f.rename_into_place() {
        Ok(()) => Ok(match (old, backup) {
            (None, _) => Undo::Remove(dest),
            (Some(_), Some(backup)) => Undo::Restore { dest, backup },
            // Nothing to put back: the older file is gone.
            (Some(_), None) => Undo::Remove(PathBuf::new()),
        }),
        Err(e) => {
            if let Some(b) = backup {
                let _ = fs::remove_file(b);
            }
            Err(e)
        }
    }
}

fn rollback(undo: Vec<Undo>) {
    for u in undo.into_iter().rev() {
        match u {
            Undo::Remove(p) if p.as_os_str().is_empty() => {}
            Undo::Remove(p) => {
                let _ = fs::remove_file(p);
            }
            Undo::Restore { dest, backup } => {
                let _ = fs::rename(backup, dest);
            }
            Undo::Dir { dest, was_empty_dir } => {
                // Moved aside first, so that `dest` is never half-removed.
                if let Ok(aside) = temp_name(&dest, next_id()) {
                    if fs::rename(&dest, &aside).is_ok() {
                        drop(super::dir::TempTree(Some(aside)));
                        if was_empty_dir {
                            let _ = fs::create_dir(&dest);
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for p in self.placed.drain(..) {
            let _ = fs::remove_dir_all(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashes_are_found_by_location_and_inode() {
        let t = tempfile::tempdir().unwrap();
        let p = |n: &str| t.path().join(n);
        let (a, a2, sub) = (p("a.tar"), t.path().join("x/../a.tar"), p("d/m.json"));
        fs::create_dir(p("x")).unwrap();
        let err =
            |outs: &[OutputPath<'_>], inputs: &[&Path]| check_outputs(outs, inputs, None).unwrap_err().to_string();
        assert!(err(&[OutputPath::file("--tar", &a), OutputPath::file("--manifest", &a2)], &[])
            .ends_with("--tar and --manifest name the same file"));
        let d = p("d");
        assert!(
            err(&[OutputPath::dir("--dir", &d), OutputPath::file("--manifest", &sub)], &[]).contains("inside --dir")
        );
        fs::write(p("in"), "x").unwrap();
        fs::hard_link(p("in"), &a).unwrap();
        let input = p("in");
        assert!(err(&[OutputPath::file("--tar", &a)], &[&input]).contains("would overwrite the input"));
        // A symlink to an input, as an output, is replaced, not written through: no clash.
        std::os::unix::fs::symlink("in", p("link.tar")).unwrap();
        let link = p("link.tar");
        assert!(check_outputs(&[OutputPath::file("--tar", &link)], &[&input], None).is_ok());
        // But an input that is a symlink to an output is that output.
        assert!(err(&[OutputPath::file("--tar", &input)], &[&link]).contains("would overwrite"));
    }

    #[test]
    fn a_failed_rename_rolls_back_the_renamed_files() {
        let t = tempfile::tempdir().unwrap();
        let old = t.path().join("old.txt");
        fs::write(&old, b"before").unwrap();
        let mut outs = Outputs::new();
        for (name, body) in [("old.txt", &b"after"[..]), ("new.txt", b"new")] {
            let mut f = AtomicFile::create(t.path().join(name)).unwrap();
            io::Write::write_all(&mut f, body).unwrap();
            outs.file(f);
        }
        // The third destination becomes a non-empty directory: its rename fails.
        let blocked = t.path().join("blocked");
        let f = AtomicFile::create(&blocked).unwrap();
        outs.file(f);
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"x").unwrap();
        assert!(outs.commit().is_err());
        assert_eq!(fs::read(&old).unwrap(), b"before");
        assert!(!t.path().join("new.txt").exists());
        let mut names: Vec<String> =
            fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["blocked", "old.txt"]);
    }
}
