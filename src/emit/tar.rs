//! The tarball writer: a byte-reproducible `.tar` / `.tar.gz` of a [`Rootfs`].
//!
//! Policy (tested in `emit::tests`):
//!
//! - members in plan order (sorted by path, so directories precede their contents and a hard
//!   link follows its target), names relative (`usr/lib/...`; directories end in `/`), never
//!   absolute, never containing `..`;
//! - GNU headers; names or link targets longer than 100 bytes get a GNU `././@LongLink`
//!   record (type `L` or `K`), exactly as GNU tar writes them;
//! - owner and group 0 with empty names, mode as planned (set-ID bits kept), every mtime the
//!   same explicit value, device numbers 0;
//! - symlink targets byte for byte as planned; hard links as type `1` members naming their
//!   target member;
//! - gzip: one member, no file name, no comment, mtime 0, OS byte 255 ("unknown"), fixed
//!   level. The deflate stream comes from flate2's pure-Rust backend (miniz_oxide); a
//!   different backend or version may produce different (equally valid) bytes, which is why
//!   the level and backend are pinned rather than left to defaults.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, ErrorKind};

use super::plan::{relative, Entry, EntryKind, Rootfs};

/// Compression of a tarball.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// A plain `.tar`.
    None,
    /// gzip (`.tar.gz`) at this level, 0 to 9.
    Gzip(u32),
}

/// Options for [`write_tar`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TarOptions {
    /// Modification time of every member, in seconds since the epoch. Default: 0. A caller
    /// passes `SOURCE_DATE_EPOCH` here; the library never reads the environment.
    pub mtime: u64,
    /// Default: [`Compression::Gzip`] at level 9.
    pub compression: Compression,
}

impl Default for TarOptions {
    fn default() -> Self {
        TarOptions { mtime: 0, compression: Compression::Gzip(9) }
    }
}

impl TarOptions {
    /// Every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set [`TarOptions::mtime`].
    pub fn mtime(&mut self, mtime: u64) -> &mut Self {
        self.mtime = mtime;
        self
    }

    /// Set [`TarOptions::compression`].
    pub fn compression(&mut self, compression: Compression) -> &mut Self {
        self.compression = compression;
        self
    }
}

const BLOCK: usize = 512;

/// Write `plan` as a tar archive (optionally gzip-compressed) to `out`. Same plan, same
/// options, same file contents: same bytes, whatever the machine, time, directory or thread
/// count.
///
/// Nothing is flushed to disk and nothing is renamed: wrap a file in
/// [`AtomicFile`](super::AtomicFile) to get all-or-nothing output.
///
/// # Errors
/// A source file cannot be read or its size changed since the plan was made (the error
/// names the source); writing to `out` fails (the error names the member being written).
pub fn write_tar<W: Write>(plan: &Rootfs, out: W, opts: &TarOptions) -> Result<(), Error> {
    match opts.compression {
        Compression::None => {
            let mut out = out;
            write_members(plan, &mut out, opts.mtime)?;
            out.flush().map_err(|e| sink(Path::new("<end of archive>"), e))
        }
        Compression::Gzip(level) => {
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(out, flate2::Compression::new(level.min(9)));
            write_members(plan, &mut gz, opts.mtime)?;
            let mut inner = gz.finish().map_err(|e| sink(Path::new("<end of archive>"), e))?;
            inner.flush().map_err(|e| sink(Path::new("<end of archive>"), e))
        }
    }
}

fn sink(member: &Path, e: io::Error) -> Error {
    Error::io(member, e)
}

fn write_members(plan: &Rootfs, out: &mut dyn Write, mtime: u64) -> Result<(), Error> {
    for e in plan.entries() {
        super::atomic::check_interrupt().map_err(|err| sink(&e.path, err))?;
        write_entry(e, out, mtime)?;
    }
    // End of archive: two zero blocks (GNU tar then pads to its record size; we do not,
    // every reader accepts it).
    out.write_all(&[0u8; 2 * BLOCK]).map_err(|e| sink(Path::new("<end of archive>"), e))
}

fn write_entry(e: &Entry, out: &mut dyn Write, mtime: u64) -> Result<(), Error> {
    let mut name = e.member_name().as_os_str().as_bytes().to_vec();
    let (kind, link, size): (tar::EntryType, Option<Vec<u8>>, u64) = match &e.kind {
        EntryKind::File => (tar::EntryType::Regular, None, e.size),
        EntryKind::Directory => {
            name.push(b'/');
            (tar::EntryType::Directory, None, 0)
        }
        EntryKind::Symlink { target } => (tar::EntryType::Symlink, Some(target.as_os_str().as_bytes().to_vec()), 0),
        EntryKind::HardLink { target } => {
            (tar::EntryType::Link, Some(relative(target).as_os_str().as_bytes().to_vec()), 0)
        }
    };
    let w = |r: io::Result<()>| r.map_err(|err| sink(&e.path, err));
    if !e.xattrs.is_empty() && kind == tar::EntryType::Regular {
        w(pax_xattrs(out, &e.xattrs, mtime))?;
    }
    if name.len() > 100 {
        w(long_record(out, b'L', &name, mtime))?;
    }
    if let Some(l) = &link {
        if l.len() > 100 {
            w(long_record(out, b'K', l, mtime))?;
        }
    }
    let mut h = tar::Header::new_gnu();
    {
        let g = h.as_gnu_mut().expect("a GNU header");
        let n = name.len().min(100);
        g.name[..n].copy_from_slice(&name[..n]);
        if let Some(l) = &link {
            let n = l.len().min(100);
            g.linkname[..n].copy_from_slice(&l[..n]);
        }
    }
    h.set_mode(e.mode & 0o7777);
    h.set_uid(u64::from(e.uid));
    h.set_gid(u64::from(e.gid));
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_cksum();
    w(out.write_all(h.as_bytes()))?;
    if kind == tar::EntryType::Regular {
        copy_source(e, out, &|err| sink(&e.path, err))?;
        w(pad(out, e.size))?;
    }
    Ok(())
}

/// A PAX extended header (`x`) for the next member holding its extended attributes as
/// `SCHILY.xattr.NAME` records (what GNU tar `--xattrs`, bsdtar and container runtimes read).
fn pax_xattrs(
    out: &mut dyn Write,
    xattrs: &[(crate::bytes::Bytes, crate::bytes::Bytes)],
    mtime: u64,
) -> io::Result<()> {
    let mut body = Vec::new();
    for (k, v) in xattrs {
        // "LEN KEY=VALUE\n", LEN counting itself.
        let rest = b" SCHILY.xattr.".len() + k.len() + 1 + v.len() + 1;
        let mut len = rest + 1;
        while len.to_string().len() + rest > len {
            len += 1;
        }
        body.extend_from_slice(len.to_string().as_bytes());
        body.extend_from_slice(b" SCHILY.xattr.");
        body.extend_from_slice(k.as_bytes());
        body.push(b'=');
        body.extend_from_slice(v.as_bytes());
        body.push(b'\n');
    }
    let mut h = tar::Header::new_ustar();
    h.set_path("././@PaxHeader")?;
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime.min(0o77777777777));
    h.set_size(body.len() as u64);
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_cksum();
    out.write_all(h.as_bytes())?;
    out.write_all(&body)?;
    pad(out, body.len() as u64)
}

/// A GNU long name (`L`) or long link (`K`) record: a pseudo-member holding the full value.
fn long_record(out: &mut dyn Write, kind: u8, value: &[u8], mtime: u64) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    let tag = b"././@LongLink";
    h.as_gnu_mut().expect("a GNU header").name[..tag.len()].copy_from_slice(tag);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime.min(0o77777777777));
    h.set_size(value.len() as u64 + 1);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    out.write_all(h.as_bytes())?;
    out.write_all(value)?;
    out.write_all(&[0])?;
    pad(out, value.len() as u64 + 1)
}

fn pad(out: &mut dyn Write, len: u64) -> io::Result<()> {
    let rem = (len % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

/// Copy exactly `e.size` bytes of the source to `out`, or fail (an archive would be
/// corrupt). Read errors name the source, write errors are made by `on_write`. Stops when
/// [`interrupt`](super::interrupt) was called.
pub(super) fn copy_source(e: &Entry, out: &mut dyn Write, on_write: &dyn Fn(io::Error) -> Error) -> Result<(), Error> {
    if let Some(data) = &e.data {
        return out.write_all(data.as_bytes()).map_err(on_write);
    }
    let src = e.source.as_deref().unwrap_or(Path::new(""));
    let read_err = |err: io::Error| Error::io(src, err);
    let mut f = open_source(src).map_err(read_err)?;
    let len = f.metadata().map_err(read_err)?.len();
    if len != e.size {
        return Err(Error::new(
            ErrorKind::Io,
            src,
            format!("size changed from {} to {len} bytes since the plan was made", e.size),
        ));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = e.size;
    while left > 0 {
        super::atomic::check_interrupt().map_err(on_write)?;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want]).map_err(read_err)?;
        if n == 0 {
            return Err(Error::new(ErrorKind::Io, src, "file shrank while it was copied"));
        }
        out.write_all(&buf[..n]).map_err(on_write)?;
        left -= n as u64;
        super::progress::add(n as u64);
    }
    Ok(())
}

/// Open a source file without following a final symlink (the plan says it is a file).
pub(super) fn open_source(p: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(p)
}
