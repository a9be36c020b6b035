//! All-or-nothing output files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, ErrorKind};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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

/// A file written under a temporary name in the destination's directory and renamed over
/// the destination by [`commit`](AtomicFile::commit), after an `fsync`. Dropped without a
/// commit (an error, a panic), it removes the temporary file: the destination is either
/// untouched or complete, never half-written.
///
/// Writes are buffered. An existing destination file (or symlink) is replaced, never written
/// through.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
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
        loop {
            let tmp = temp_name(&dest, next_id())?;
            let opened = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o666)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp);
            match opened {
                Ok(f) => return Ok(AtomicFile { dest, tmp, file: Some(BufWriter::with_capacity(256 * 1024, f)) }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dest, e)),
            }
        }
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path (removed on drop unless committed).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flush, `fsync`, rename over the destination, `fsync` the directory.
    ///
    /// # Errors
    /// Any of those steps fails; the temporary file is then removed.
    pub fn commit(mut self) -> Result<(), Error> {
        let file = self.file.take().expect("not yet committed");
        let res = (|| {
            let f = file.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            fs::rename(&self.tmp, &self.dest)?;
            // Durability of the rename itself; a failure here leaves a complete file.
            if let Ok(d) = File::open(parent_dir(&self.dest)) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        res.map_err(|e: io::Error| {
            let _ = fs::remove_file(&self.tmp);
            Error::io(&self.dest, e)
        })?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not yet committed").write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("not yet committed").write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not yet committed").flush()
    }
}

/// Seeking flushes the buffer first (as [`BufWriter`] does).
impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.as_mut().expect("not yet committed").seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
