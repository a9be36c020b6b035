//! All-or-nothing output files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use tempfile::{NamedTempFile, TempPath};

use crate::error::{Error, ErrorKind};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The signal that asked the writers to stop (0: none).
static INTERRUPT: AtomicI32 = AtomicI32::new(0);

/// Ask every writer of this process to stop at its next step: the write in progress fails
/// with an error, whose unwinding removes the temporary files (see [`AtomicFile`]). Meant to
/// be called from a signal handler (it only stores an atomic integer, which is
/// async-signal-safe); `sig` is the signal number, reported by [`interrupted`].
///
/// The library installs no handler itself: a program does (`depclose-cli` for `SIGINT`,
/// `SIGTERM` and `SIGHUP`), then exits with status 128 + `sig` once the writer returned.
/// The check is made before every buffered write to an [`AtomicFile`], every 64 KiB of a
/// source file copied or hashed, and before the first rename of
/// [`Outputs::commit`](super::Outputs::commit); once renaming has begun it completes.
pub fn interrupt(sig: i32) {
    INTERRUPT.store(sig.max(1), Ordering::SeqCst);
}

/// Install, for each of `signals`, a handler that calls [`interrupt`] with it (and
/// `SA_RESTART`, so that system calls in progress are not failed with `EINTR`). A program
/// calls this once it starts writing outputs (before, the signals' default action is right:
/// there is nothing to remove); the library never installs a handler on its own.
///
/// # Errors
/// `sigaction` refuses a signal (`SIGKILL`, `SIGSTOP`, an invalid number).
pub fn interrupt_on(signals: &[i32]) -> Result<(), Error> {
    extern "C" fn handler(sig: libc::c_int) {
        interrupt(sig);
    }
    for &sig in signals {
        // SAFETY: a zeroed sigaction is a valid value to fill; the handler only stores an
        // atomic integer, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!("signal {sig}"),
                format!("no handler: {}", io::Error::last_os_error()),
            ));
        }
    }
    Ok(())
}

/// The signal passed to [`interrupt`], if it was called.
pub fn interrupted() -> Option<i32> {
    match INTERRUPT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// An I/O error when [`interrupt`] was called.
pub(super) fn check_interrupt() -> io::Result<()> {
    match interrupted() {
        None => Ok(()),
        Some(sig) => Err(io::Error::other(format!("interrupted by signal {sig}"))),
    }
}

/// A temporary name beside `dest` (same directory, so a rename is atomic).
pub(super) fn temp_name(dest: &Path, n: usize) -> Result<PathBuf, Error> {
    let name =
        dest.file_name().ok_or_else(|| Error::new(ErrorKind::Config, dest, "the destination has no file name"))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".depclose-{}-{n}.tmp", std::process::id()));
    Ok(parent_dir(dest).join(tmp))
}

pub(super) fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// The directory a path is in (`.` for a bare name).
pub(super) fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A file written under a temporary name in the destination's directory (a
/// [`tempfile::NamedTempFile`], `.NAME.depclose-XXXXXX.tmp`) and renamed over the
/// destination by [`commit`](AtomicFile::commit), after an `fsync`. Dropped without a commit
/// (an error, a panic), it removes the temporary file: the destination is either untouched
/// or complete, never half-written.
///
/// Writes are buffered. An existing destination file (or symlink) is replaced, never written
/// through. The file is created with mode `0o666` less the umask, as `open(2)` would.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    state: State,
}

/// Where an [`AtomicFile`] is in its life.
#[derive(Debug)]
enum State {
    /// Being written.
    Open(BufWriter<NamedTempFile>),
    /// Flushed, synced and closed, not yet renamed (removed on drop).
    Closed(TempPath),
    /// Renamed over the destination.
    Done,
}

impl AtomicFile {
    /// Create the temporary file for `dest`.
    ///
    /// # Errors
    /// `dest` is an existing directory, or its directory does not exist or is not writable.
    pub fn create(dest: impl AsRef<Path>) -> Result<AtomicFile, Error> {
        let dest = dest.as_ref().to_path_buf();
        if fs::symlink_metadata(&dest).map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::io(&dest, io::Error::from_raw_os_error(libc::EISDIR)));
        }
        let name =
            dest.file_name().ok_or_else(|| Error::new(ErrorKind::Config, &dest, "the destination has no file name"))?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".depclose-");
        // `make_in`, not `tempfile_in`: its errors are the open's own (no path appended), and
        // the mode is that of any new file (`0o666` less the umask), not `0o600`.
        let file = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .make_in(parent_dir(&dest), |tmp| {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(tmp)
            })
            .map_err(|e| Error::io(&dest, e))?;
        Ok(AtomicFile { dest, state: State::Open(BufWriter::with_capacity(256 * 1024, file)) })
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path (removed on drop unless committed).
    pub fn temp_path(&self) -> &Path {
        match &self.state {
            State::Open(w) => w.get_ref().path(),
            State::Closed(p) => p,
            State::Done => Path::new(""),
        }
    }

    /// Flush, `fsync`, rename over the destination, `fsync` the directory.
    ///
    /// # Errors
    /// Any of those steps fails; the temporary file is then removed.
    pub fn commit(mut self) -> Result<(), Error> {
        self.prepare()?;
        self.rename_into_place()
    }

    /// Flush and `fsync` the temporary file (where a full disk shows); the file is closed.
    pub(super) fn prepare(&mut self) -> Result<(), Error> {
        if !matches!(self.state, State::Open(_)) {
            return Ok(());
        }
        let State::Open(w) = std::mem::replace(&mut self.state, State::Done) else { unreachable!() };
        // On an error the temporary file is dropped here, which removes it.
        let file = w.into_inner().map_err(|e| Error::io(&self.dest, e.into_error()))?;
        file.as_file().sync_all().map_err(|e| Error::io(&self.dest, e))?;
        self.state = State::Closed(file.into_temp_path());
        Ok(())
    }

    /// Rename a prepared file over the destination; `fsync` the directory.
    pub(super) fn rename_into_place(&mut self) -> Result<(), Error> {
        self.prepare()?;
        let State::Closed(tmp) = std::mem::replace(&mut self.state, State::Done) else {
            return Err(Error::io(&self.dest, io::Error::other("the file was already committed")));
        };
        if let Err(e) = tmp.persist(&self.dest) {
            // Still to be removed, on drop.
            self.state = State::Closed(e.path);
            return Err(Error::io(&self.dest, e.error));
        }
        // Durability of the rename itself; a failure here leaves a complete file.
        if let Ok(d) = File::open(parent_dir(&self.dest)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl AtomicFile {
    fn writer(&mut self) -> io::Result<&mut BufWriter<NamedTempFile>> {
        match &mut self.state {
            State::Open(w) => Ok(w),
            _ => Err(io::Error::other("the file was already committed")),
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        check_interrupt()?;
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        check_interrupt()?;
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

/// Seeking flushes the buffer first (as [`BufWriter`] does).
impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.writer()?.seek(pos)
    }
}
