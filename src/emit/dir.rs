//! The directory writer: a [`Rootfs`] as a tree on disk, all or nothing.

use std::ffi::CString;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

use super::atomic::{next_id, temp_name};
use super::plan::{relative, EntryKind, Rootfs};
use super::tar::copy_source;

/// Options for [`write_dir`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DirOptions {
    /// Modification (and access) time given to every entry, in seconds since the epoch.
    /// Default: 0. A caller passes `SOURCE_DATE_EPOCH` here.
    pub mtime: u64,
}

impl DirOptions {
    /// Every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set [`DirOptions::mtime`].
    pub fn mtime(&mut self, mtime: u64) -> &mut Self {
        self.mtime = mtime;
        self
    }
}

/// Create `plan` as a directory tree at `dest`.
///
/// The tree is built in a fresh temporary directory beside `dest` (mode 0700 while it is
/// being filled) and renamed to `dest` at the end, so `dest` appears complete or not at all.
/// `dest` must not exist, or be an empty directory (which the rename replaces).
///
/// Nothing already on disk is ever followed: every file is created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW`, every directory with `mkdir` and every symlink with
/// `symlink` (all fail on an existing name), and the plan guarantees that no entry lives under
/// a symlink. Modes are applied as planned (set-ID bits included) once the content is written;
/// directory modes last, so a read-only directory can still be filled. Ownership is the
/// writer's. The filesystem is synced (`syncfs`) before the rename.
///
/// # Errors
/// `dest` exists and is not an empty directory, its parent is not writable, a source
/// cannot be read, or writing fails. The temporary tree is removed.
pub fn write_dir(plan: &Rootfs, dest: impl AsRef<Path>, opts: &DirOptions) -> Result<(), Error> {
    let mut staged = stage_dir(plan, dest.as_ref(), opts)?;
    staged.rename_into_place()
}

/// A directory tree built and synced under a temporary name, renamed by
/// [`rename_into_place`](StagedDir::rename_into_place); removed on drop otherwise.
pub(super) struct StagedDir {
    tmp: TempTree,
    dest: PathBuf,
    /// `dest` was an empty directory (which the rename replaced).
    pub(super) replaced_empty: bool,
}

impl StagedDir {
    /// The destination.
    pub(super) fn path(&self) -> &Path {
        &self.dest
    }

    pub(super) fn rename_into_place(&mut self) -> Result<(), Error> {
        let tmp = self.tmp.0.clone().unwrap_or_default();
        fs::rename(&tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.tmp.0 = None;
        Ok(())
    }
}

/// Build `plan` beside `dest` (see [`write_dir`]) without renaming it.
pub(super) fn stage_dir(plan: &Rootfs, dest: &Path, opts: &DirOptions) -> Result<StagedDir, Error> {
    check_destination(dest)?;
    let replaced_empty = fs::symlink_metadata(dest).is_ok();
    let tmp = loop {
        let tmp = temp_name(dest, next_id())?;
        match DirBuilder::new().mode(0o700).create(&tmp) {
            Ok(()) => break tmp,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(dest, e)),
        }
    };
    let guard = TempTree(Some(tmp.clone()));
    fill(plan, &tmp, opts, dest)?;
    sync_fs(&tmp).map_err(|e| Error::io(dest, e))?;
    Ok(StagedDir { tmp: guard, dest: dest.to_path_buf(), replaced_empty })
}

/// `dest` does not exist or is an empty directory.
pub(super) fn check_destination(dest: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            let mut it = fs::read_dir(dest).map_err(|e| Error::io(dest, e))?;
            if it.next().is_some() {
                return Err(Error::new(ErrorKind::Io, dest, "the destination directory is not empty"));
            }
            Ok(())
        }
        Ok(_) => Err(Error::new(ErrorKind::Io, dest, "exists and is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dest, e)),
    }
}

/// Removes a half-built tree on drop.
pub(super) struct TempTree(pub(super) Option<PathBuf>);

impl TempTree {
    pub(super) fn new(p: PathBuf) -> TempTree {
        TempTree(Some(p))
    }

    pub(super) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if fs::remove_dir_all(&p).is_err() {
                // Read-only directories (modes applied at the end) as a non-root user.
                for e in walkdir::WalkDir::new(&p).into_iter().flatten() {
                    if e.file_type().is_dir() {
                        let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
                    }
                }
                let _ = fs::remove_dir_all(&p);
            }
        }
    }
}

fn fill(plan: &Rootfs, tmp: &Path, opts: &DirOptions, dest: &Path) -> Result<(), Error> {
    for e in plan.entries() {
        let host = tmp.join(e.member_name());
        // A write error is about the output (a full disk, a read-only file system): it names
        // the output and the entry; a read error names the source (see `copy_source`).
        let err = |x: io::Error| out_err(dest, &e.path, x);
        super::atomic::check_interrupt().map_err(err)?;
        match &e.kind {
            EntryKind::Directory => DirBuilder::new().mode(0o700).create(&host).map_err(err)?,
            EntryKind::File => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&host)
                    .map_err(err)?;
                {
                    let mut w = io::BufWriter::with_capacity(256 * 1024, &mut f);
                    copy_source(e, &mut w, &err)?;
                    w.flush().map_err(err)?;
                }
                set_owner(&host, e).map_err(err)?;
                f.set_permissions(fs::Permissions::from_mode(e.mode & 0o7777)).map_err(err)?;
                // After chown and chmod, which would clear file capabilities.
                set_xattrs(&host, e).map_err(err)?;
                set_times(&host, opts.mtime).map_err(err)?;
            }
            EntryKind::HardLink { target } => {
                fs::hard_link(tmp.join(relative(target)), &host).map_err(err)?;
            }
            EntryKind::Symlink { target } => {
                std::os::unix::fs::symlink(target, &host).map_err(err)?;
                set_times(&host, opts.mtime).map_err(err)?;
            }
        }
    }
    // Directories last, deepest first: creating entries changes a directory's mtime, and a
    // read-only mode would have stopped us filling it.
    for e in plan.entries().iter().rev().filter(|e| e.kind == EntryKind::Directory) {
        let host = tmp.join(e.member_name());
        let err = |x: io::Error| out_err(dest, &e.path, x);
        set_owner(&host, e).map_err(err)?;
        fs::set_permissions(&host, fs::Permissions::from_mode(e.mode & 0o7777)).map_err(err)?;
        set_times(&host, opts.mtime).map_err(err)?;
    }
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(tmp, e))?;
    set_times(tmp, opts.mtime).map_err(|e| Error::io(tmp, e))?;
    Ok(())
}

/// An error writing entry `member` of the directory output `dest`.
fn out_err(dest: &Path, member: &Path, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, dest, format!("writing {}: {e}", member.display()))
}

/// The entry's kept extended attributes. A caller that may not set them (not root, or a file
/// system without them) gets the file without: the plan and manifest still say what it had.
fn set_xattrs(p: &Path, e: &super::plan::Entry) -> io::Result<()> {
    use std::ffi::CString;
    for (k, v) in &e.xattrs {
        let (Ok(cp), Ok(ck)) = (CString::new(p.as_os_str().as_bytes()), CString::new(k.as_bytes())) else {
            continue;
        };
        // SAFETY: valid NUL-terminated strings and a value buffer of the given length.
        let r = unsafe { libc::lsetxattr(cp.as_ptr(), ck.as_ptr(), v.as_bytes().as_ptr().cast(), v.len(), 0) };
        if r != 0 {
            let err = io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOTSUP)) {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// The entry's owner, when it is not root. A caller that may not give files away (not
/// root) keeps them as its own: the modes still hold.
fn set_owner(p: &Path, e: &super::plan::Entry) -> io::Result<()> {
    if e.uid == 0 && e.gid == 0 {
        return Ok(());
    }
    match std::os::unix::fs::lchown(p, Some(e.uid), Some(e.gid)) {
        Err(x) if x.raw_os_error() == Some(libc::EPERM) => Ok(()),
        r => r,
    }
}

/// `utimensat(AT_SYMLINK_NOFOLLOW)`: set a link's own times, never its target's.
fn set_times(p: &Path, secs: u64) -> io::Result<()> {
    let c = CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let t = libc::timespec { tv_sec: secs.min(i64::MAX as u64) as _, tv_nsec: 0 };
    let times = [t, t];
    // SAFETY: `c` is a valid NUL-terminated string and `times` two valid timespecs, both
    // alive for the duration of the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn sync_fs(p: &Path) -> io::Result<()> {
    let d = fs::File::open(p)?;
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is valid while `d` is alive.
    let rc = unsafe { libc::syncfs(d.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
