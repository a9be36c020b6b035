//! A read-only view of a directory tree as if it were `/` (chroot-style path walking).
//!
//! Every path the resolver touches goes through one walk ([`Root::resolve`]), which follows
//! the kernel's rules one component at a time, inside the root:
//!
//! - an absolute symlink target starts again at the root, never at the host's `/`;
//! - `..` applies to the directory reached so far (after symlinks, as the kernel does) and
//!   stops at the root;
//! - at most [`Root::max_hops`] symlinks are followed (40, like Linux), then `ELOOP`;
//! - a non-directory in the middle of a path gives `ENOTDIR`.
//!
//! The walk records every symlink crossed ([`Hop`]), because a rootfs must recreate each one.
//! Directory prefixes are cached (the loader probes many names in few directories), so the
//! view assumes the tree does not change while it is in use.

use rustc_hash::FxHashMap as HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::model::{FileId, Hop};

/// An errno value, as the real `open(2)` would have reported it.
pub(crate) type Errno = i32;

const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;
/// Directory-descriptor table marks: looked into once, no descriptor yet.
const FD_SEEN: RawFd = -1;
/// Could not be opened (or over budget): always use paths.
const FD_FAILED: RawFd = -2;
/// At most this many directory descriptors are kept open per root (beyond it, paths are
/// looked up from the root again).
const MAX_DIR_FDS: usize = 512;

/// What `lstat(2)` says about a file, the parts depclose uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// `st_size`.
    pub size: u64,
}

impl Stat {
    fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }

    /// A socket.
    pub fn is_socket(&self) -> bool {
        self.kind() == libc::S_IFSOCK
    }

    /// A FIFO, or a character or block device: files the loader would block on or that
    /// opening could act on.
    pub fn is_special(&self) -> bool {
        matches!(self.kind(), libc::S_IFIFO | libc::S_IFCHR | libc::S_IFBLK)
    }

    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

impl From<&fs::Metadata> for Stat {
    fn from(m: &fs::Metadata) -> Stat {
        Stat { dev: m.dev(), ino: m.ino(), mode: m.mode(), size: m.len() }
    }
}

/// The outcome of a successful walk: where a path leads.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Walked {
    /// Canonical in-root path (absolute, no symlinks, no `.` or `..`).
    pub realpath: PathBuf,
    /// Symlinks crossed, in order.
    pub hops: Vec<Hop>,
    /// `lstat` of the final file (not a symlink unless `follow_last` was false).
    pub metadata: Stat,
}

impl Walked {
    /// Device and inode of the file reached.
    pub fn file_id(&self) -> FileId {
        FileId { dev: self.metadata.dev, ino: self.metadata.ino }
    }
}

/// A directory walk, remembered: where it leads, or the errno.
type DirWalk = Result<Arc<CachedDir>, Errno>;

#[derive(Clone)]
struct CachedDir {
    realpath: Vec<u8>,
    hops: Vec<Hop>,
}

/// A directory on the host that plays the role of `/`.
///
/// `Root` is `Send + Sync`; share one between threads to share its directory cache.
/// It keeps `O_PATH` descriptors of the directories it has looked into, so that a name in
/// a known directory costs one short lookup rather than a walk from `/`.
pub struct Root {
    host: PathBuf,
    max_hops: u32,
    dirs: RwLock<HashMap<Vec<u8>, DirWalk>>,
    /// Canonical in-root directory -> open `O_PATH` descriptor, or [`FD_SEEN`] /
    /// [`FD_FAILED`].
    fds: RwLock<HashMap<Vec<u8>, RawFd>>,
    /// Successful walks (following the last link) that crossed a symlink, by path: such a
    /// path (an interpreter behind `/lib64`, a library behind `/lib`) is asked for again
    /// and again, and each walk is a dozen calls.
    links: RwLock<HashMap<Vec<u8>, Walked>>,
}

impl Drop for Root {
    fn drop(&mut self) {
        let fds = self.fds.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, fd) in fds.drain() {
            if fd >= 0 {
                // SAFETY: the descriptor was opened by this root and is closed once.
                unsafe { libc::close(fd) };
            }
        }
    }
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").field("host", &self.host).finish()
    }
}

/// Call `f` with `name` as a NUL-terminated C string (on the stack when it is short).
fn with_cname<T>(name: &[u8], f: impl FnOnce(*const libc::c_char) -> T) -> Result<T, Errno> {
    if name.contains(&0) {
        return Err(libc::EINVAL);
    }
    let mut buf = [0u8; 512];
    if name.len() < buf.len() {
        buf[..name.len()].copy_from_slice(name);
        Ok(f(buf.as_ptr().cast()))
    } else {
        let mut v = name.to_vec();
        v.push(0);
        Ok(f(v.as_ptr().cast()))
    }
}

fn last_errno() -> Errno {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
fn lstat_at(dir: RawFd, name: &[u8]) -> Result<Stat, Errno> {
    with_cname(name, |p| {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `p` is a NUL-terminated string, `st` a valid out-pointer.
        let r = unsafe { libc::fstatat(dir, p, &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        if r == 0 {
            Ok(Stat { dev: st.st_dev, ino: st.st_ino, mode: st.st_mode, size: st.st_size as u64 })
        } else {
            Err(last_errno())
        }
    })?
}

/// `readlinkat(dir, name)`.
fn readlink_at(dir: RawFd, name: &[u8]) -> Result<Vec<u8>, Errno> {
    with_cname(name, |p| {
        let mut buf: Vec<u8> = Vec::with_capacity(PATH_MAX);
        // SAFETY: `p` is NUL-terminated; `buf` has room for `PATH_MAX` bytes, and exactly the
        // `n` bytes readlinkat wrote are then marked initialised.
        let n = unsafe { libc::readlinkat(dir, p, buf.as_mut_ptr().cast(), PATH_MAX) };
        if n < 0 {
            return Err(last_errno());
        }
        unsafe { buf.set_len(n as usize) };
        Ok(buf)
    })?
}

impl Root {
    /// A view of `dir` as `/`. `dir` must be an existing directory; it is made absolute and
    /// canonical on the host (the only host-side canonicalisation depclose ever does).
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Root> {
        let host = fs::canonicalize(dir.as_ref())?;
        if !fs::metadata(&host)?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "root is not a directory"));
        }
        Ok(Root {
            host,
            max_hops: 40,
            dirs: RwLock::new(HashMap::default()),
            fds: RwLock::new(HashMap::default()),
            links: RwLock::new(HashMap::default()),
        })
    }

    /// Set the symlink hop limit (default 40, Linux's `MAXSYMLINKS`).
    pub fn with_max_hops(mut self, hops: u32) -> Root {
        self.max_hops = hops;
        self
    }

    /// The symlink hop limit.
    pub fn max_hops(&self) -> u32 {
        self.max_hops
    }

    /// The root directory on the host.
    pub fn host_dir(&self) -> &Path {
        &self.host
    }

    /// True when the root is the host's `/`.
    pub fn is_host_root(&self) -> bool {
        self.host.as_os_str().as_bytes() == b"/"
    }

    /// The host path of a canonical in-root path (no walking: use on walk results).
    pub fn host_path(&self, in_root: &Path) -> PathBuf {
        let rel = in_root.as_os_str().as_bytes();
        if self.is_host_root() && rel.first() == Some(&b'/') {
            return in_root.to_path_buf();
        }
        let rel = trim_leading_slashes(rel);
        if rel.is_empty() {
            return self.host.clone();
        }
        self.host.join(OsStr::from_bytes(rel))
    }

    /// The in-root path of a host path that lies inside the root (lexically), if it does.
    pub fn in_root(&self, host: &Path) -> Option<PathBuf> {
        let rest = host.strip_prefix(&self.host).ok()?;
        Some(Path::new("/").join(rest))
    }

    /// An `O_PATH` descriptor of the canonical in-root directory `dir` ("" or "/" is the
    /// root), opened on its second use and kept; `None` before that, past the descriptor
    /// budget or on error (the caller then uses the path).
    fn dir_fd(&self, dir: &[u8]) -> Option<RawFd> {
        let dir: &[u8] = if dir.is_empty() { b"/" } else { dir };
        if let Some(&fd) = self.fds.read().unwrap_or_else(|e| e.into_inner()).get(dir) {
            if fd >= 0 {
                return Some(fd);
            }
            if fd == FD_FAILED {
                return None;
            }
        }
        let mut map = self.fds.write().unwrap_or_else(|e| e.into_inner());
        match map.get(dir) {
            Some(&fd) if fd >= 0 => return Some(fd),
            Some(&FD_FAILED) => return None,
            // Seen once: open it now.
            Some(_) => {}
            // A directory looked into once (most, in a one-file run) is not worth a descriptor.
            None => {
                map.insert(dir.to_vec(), FD_SEEN);
                return None;
            }
        }
        if map.len() >= MAX_DIR_FDS {
            return None;
        }
        let host = self.host_path(Path::new(OsStr::from_bytes(dir)));
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let fd = with_cname(host.as_os_str().as_bytes(), |p| {
            // SAFETY: `p` is a NUL-terminated path.
            unsafe { libc::open(p, flags) }
        })
        .unwrap_or(-1);
        let fd = if fd >= 0 { fd } else { FD_FAILED };
        map.insert(dir.to_vec(), fd);
        (fd >= 0).then_some(fd)
    }

    /// `lstat` of `name` in the canonical directory `dir`.
    fn lstat_in(&self, dir: &[u8], name: &[u8]) -> Result<Stat, Errno> {
        match self.dir_fd(dir) {
            Some(fd) => lstat_at(fd, name),
            None => {
                let host = self.host_path(Path::new(OsStr::from_bytes(&join_bytes(dir_or_root(dir), name))));
                fs::symlink_metadata(host).map(|m| Stat::from(&m)).map_err(|e| errno_of(&e))
            }
        }
    }

    /// `readlink` of `name` in the canonical directory `dir`.
    fn readlink_in(&self, dir: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        match self.dir_fd(dir) {
            Some(fd) => readlink_at(fd, name),
            None => {
                let host = self.host_path(Path::new(OsStr::from_bytes(&join_bytes(dir_or_root(dir), name))));
                fs::read_link(host).map(|t| t.into_os_string().into_vec()).map_err(|e| errno_of(&e))
            }
        }
    }

    /// Resolve an absolute in-root path the way the kernel would inside a `chroot`: every
    /// symlink is resolved against the root, `..` never climbs above it. With `follow_last`
    /// false, a final symlink is not followed (like `lstat`).
    ///
    /// # Errors
    /// The errno a real `stat(2)` would report (`ENOENT`, `ENOTDIR`, `ELOOP`,
    /// `ENAMETOOLONG`, ...), as [`io::Error::raw_os_error`].
    pub fn resolve(&self, path: &[u8], follow_last: bool) -> io::Result<Walked> {
        self.walk(path, follow_last).map_err(io::Error::from_raw_os_error)
    }

    /// [`resolve`](Self::resolve) with the raw errno.
    pub(crate) fn walk(&self, path: &[u8], follow_last: bool) -> Result<Walked, Errno> {
        if follow_last {
            if let Some(w) = self.links.read().unwrap_or_else(|e| e.into_inner()).get(path) {
                return Ok(w.clone());
            }
        }
        let w = self.walk_uncached(path, follow_last)?;
        if follow_last && !w.hops.is_empty() {
            self.links.write().unwrap_or_else(|e| e.into_inner()).insert(path.to_vec(), w.clone());
        }
        Ok(w)
    }

    fn walk_uncached(&self, path: &[u8], follow_last: bool) -> Result<Walked, Errno> {
        if path.len() >= PATH_MAX {
            return Err(libc::ENAMETOOLONG);
        }
        if path.is_empty() {
            return Err(libc::ENOENT);
        }
        // Split into a cached directory prefix and a final name when the last component is
        // an ordinary name; anything else takes the slow, uncached road.
        if let Some(pos) = path.iter().rposition(|&b| b == b'/') {
            let (dir, name) = (&path[..pos], &path[pos + 1..]);
            if !name.is_empty() && name != b"." && name != b".." {
                let cached = self.walk_dir(if dir.is_empty() { b"/" } else { dir })?;
                // The root itself is "/" in the cache; its children are "/name", not "//name".
                let base: &[u8] = if cached.realpath == b"/" { b"" } else { &cached.realpath };
                if name.len() > NAME_MAX {
                    return Err(libc::ENAMETOOLONG);
                }
                if cached.realpath.len() + 1 + name.len() >= PATH_MAX {
                    return Err(libc::ENAMETOOLONG);
                }
                // The usual case, a name that is not a symlink: one lstat, no walk.
                let meta = self.lstat_in(&cached.realpath, name)?;
                if !(meta.is_symlink() && follow_last) {
                    let mut real = Vec::with_capacity(base.len() + 1 + name.len());
                    real.extend_from_slice(base);
                    real.push(b'/');
                    real.extend_from_slice(name);
                    let realpath = PathBuf::from(OsString::from_vec(real));
                    return Ok(Walked { realpath, hops: cached.hops.clone(), metadata: meta });
                }
                // A symlink: follow it as `step` would, without a second lstat.
                let mut hops = cached.hops.clone();
                if hops.len() as u32 + 1 > self.max_hops {
                    return Err(libc::ELOOP);
                }
                let tb = self.readlink_in(&cached.realpath, name)?;
                if tb.is_empty() {
                    return Err(libc::ENOENT);
                }
                if tb.len() >= PATH_MAX {
                    return Err(libc::ENAMETOOLONG);
                }
                let mut link = base.to_vec();
                link.push(b'/');
                link.extend_from_slice(name);
                let mut pending = components(&tb);
                pending.reverse();
                let mut cur = if tb[0] == b'/' { Vec::new() } else { base.to_vec() };
                hops.push(Hop {
                    link: PathBuf::from(OsString::from_vec(link)),
                    target: PathBuf::from(OsString::from_vec(tb)),
                });
                let meta = self.step(&mut cur, &mut pending, &mut hops, follow_last)?;
                return Ok(Walked { realpath: PathBuf::from(OsString::from_vec(cur)), hops, metadata: meta });
            }
        }
        let mut cur = Vec::new();
        let mut hops = Vec::new();
        let mut pending = components(path);
        pending.reverse();
        let meta = self.step(&mut cur, &mut pending, &mut hops, follow_last)?;
        Ok(Walked { realpath: PathBuf::from(OsString::from_vec(cur)), hops, metadata: meta })
    }

    fn walk_dir(&self, dir: &[u8]) -> Result<Arc<CachedDir>, Errno> {
        if let Some(hit) = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(dir) {
            return hit.clone();
        }
        let mut cur = Vec::new();
        let mut hops = Vec::new();
        let mut pending = components(dir);
        pending.reverse();
        let res = self.step(&mut cur, &mut pending, &mut hops, true).and_then(|m| {
            if m.is_dir() {
                Ok(Arc::new(CachedDir { realpath: cur, hops }))
            } else {
                Err(libc::ENOTDIR)
            }
        });
        self.dirs.write().unwrap_or_else(|e| e.into_inner()).insert(dir.to_vec(), res.clone());
        res
    }

    /// Walk `pending` (a stack: last element is next) starting from the canonical directory
    /// `cur` ("" meaning `/`). Returns the final metadata.
    fn step(
        &self,
        cur: &mut Vec<u8>,
        pending: &mut Vec<Vec<u8>>,
        hops: &mut Vec<Hop>,
        follow_last: bool,
    ) -> Result<Stat, Errno> {
        let mut nhops = hops.len() as u32;
        let mut last_meta: Option<Stat> = None;
        while let Some(comp) = pending.pop() {
            if comp == b".." {
                if let Some(pos) = cur.iter().rposition(|&b| b == b'/') {
                    cur.truncate(pos);
                }
                last_meta = None;
                continue;
            }
            if comp.len() > NAME_MAX {
                return Err(libc::ENAMETOOLONG);
            }
            let is_last = pending.is_empty();
            if cur.len() + 1 + comp.len() >= PATH_MAX {
                return Err(libc::ENAMETOOLONG);
            }
            let meta = self.lstat_in(cur, &comp)?;
            let mut cand = Vec::with_capacity(cur.len() + 1 + comp.len());
            cand.extend_from_slice(cur);
            cand.push(b'/');
            cand.extend_from_slice(&comp);
            if meta.is_symlink() && (!is_last || follow_last) {
                nhops += 1;
                if nhops > self.max_hops {
                    return Err(libc::ELOOP);
                }
                let tb = self.readlink_in(cur, &comp)?;
                if tb.is_empty() {
                    return Err(libc::ENOENT);
                }
                if tb.len() >= PATH_MAX {
                    return Err(libc::ENAMETOOLONG);
                }
                let mut more = components(&tb);
                hops.push(Hop {
                    link: PathBuf::from(OsString::from_vec(cand)),
                    target: PathBuf::from(OsString::from_vec(tb.clone())),
                });
                if tb[0] == b'/' {
                    cur.clear();
                }
                more.reverse();
                // A target ending in '/' must be a directory; `components` drops it, and
                // the directory check below covers the non-final case.
                pending.extend(more);
                last_meta = None;
                continue;
            }
            if !is_last && !meta.is_dir() {
                return Err(libc::ENOTDIR);
            }
            *cur = cand;
            last_meta = Some(meta);
        }
        match last_meta {
            Some(m) => Ok(m),
            // Ended on the root itself or after `..`: stat the directory reached.
            None => {
                let host = self.host_path(Path::new(OsStr::from_bytes(if cur.is_empty() { b"/" } else { cur })));
                if cur.is_empty() {
                    cur.push(b'/');
                }
                fs::symlink_metadata(host).map(|m| Stat::from(&m)).map_err(|e| errno_of(&e))
            }
        }
    }

    /// Open a file for reading the way the loader's `open(2)` would, inside the root.
    ///
    /// Sockets give `ENXIO` as the kernel does. FIFOs and device nodes are never opened
    /// (opening a FIFO blocks); they come back as [`Opened::Special`].
    pub(crate) fn open(&self, path: &[u8]) -> Result<Opened, Errno> {
        let walked = self.walk(path, true)?;
        let st = walked.metadata;
        if st.is_dir() {
            return Ok(Opened::Directory(walked));
        }
        if st.is_socket() {
            return Err(libc::ENXIO);
        }
        if st.is_special() {
            return Ok(Opened::Special(walked));
        }
        let real = walked.realpath.as_os_str().as_bytes();
        let slash = real.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let fd = match self.dir_fd(&real[..slash]) {
            // SAFETY: `p` is NUL-terminated; `dir` is a descriptor this root keeps open.
            Some(dir) => with_cname(&real[slash + 1..], |p| unsafe { libc::openat(dir, p, flags) })?,
            None => {
                let host = self.host_path(&walked.realpath);
                // SAFETY: `p` is a NUL-terminated path.
                with_cname(host.as_os_str().as_bytes(), |p| unsafe { libc::open(p, flags) })?
            }
        };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(Opened::File(walked, file))
    }

    /// `stat(2)` semantics: does `path` name a directory (following symlinks)?
    pub(crate) fn is_dir(&self, path: &[u8]) -> Result<bool, Errno> {
        let w = self.walk(path, true)?;
        Ok(w.metadata.is_dir())
    }

    /// Read a whole regular file inside the root, at most `limit` bytes (more is an error
    /// `EFBIG`).
    pub(crate) fn read(&self, path: &[u8], limit: u64) -> Result<Vec<u8>, Errno> {
        match self.open(path)? {
            Opened::File(w, f) => {
                if w.metadata.len() > limit {
                    return Err(libc::EFBIG);
                }
                let mut buf = Vec::with_capacity(w.metadata.len() as usize);
                f.take(limit + 1).read_to_end(&mut buf).map_err(|e| errno_of(&e))?;
                if buf.len() as u64 > limit {
                    return Err(libc::EFBIG);
                }
                Ok(buf)
            }
            Opened::Directory(_) => Err(libc::EISDIR),
            Opened::Special(_) => Err(libc::EINVAL),
        }
    }

    /// The names in a directory inside the root, sorted bytewise.
    pub(crate) fn read_dir(&self, path: &[u8]) -> Result<Vec<OsString>, Errno> {
        let w = self.walk(path, true)?;
        if !w.metadata.is_dir() {
            return Err(libc::ENOTDIR);
        }
        let host = self.host_path(&w.realpath);
        let mut names = Vec::new();
        for e in fs::read_dir(host).map_err(|e| errno_of(&e))? {
            let e = e.map_err(|e| errno_of(&e))?;
            names.push(e.file_name());
        }
        names.sort();
        Ok(names)
    }
}

/// What [`Root::open`] found.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A regular file, open for reading.
    File(Walked, File),
    /// A directory (glibc's `read` then fails with `EISDIR`).
    Directory(Walked),
    /// A FIFO or a device node: never opened.
    Special(Walked),
}

fn dir_or_root(dir: &[u8]) -> &[u8] {
    if dir.is_empty() {
        b"/"
    } else {
        dir
    }
}

fn trim_leading_slashes(mut p: &[u8]) -> &[u8] {
    while let [b'/', rest @ ..] = p {
        p = rest;
    }
    p
}

/// Path components without empty ones and `.`.
fn components(p: &[u8]) -> Vec<Vec<u8>> {
    p.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").map(|c| c.to_vec()).collect()
}

/// The errno of an I/O error (EIO when there is none).
pub(crate) fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// `strerror`-like text for the errno values the loader cares about.
pub(crate) fn errno_text(errno: Errno) -> String {
    io::Error::from_raw_os_error(errno).to_string().split(" (os error").next().unwrap_or_default().to_string()
}

/// Lexically join an in-root path to a base directory (for relative names and `$ORIGIN`).
/// No normalisation: `..` and `.` are kept for the walk to apply.
pub(crate) fn join_bytes(base: &[u8], rel: &[u8]) -> Vec<u8> {
    if rel.first() == Some(&b'/') {
        return rel.to_vec();
    }
    let mut out = base.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(rel);
    out
}

/// The directory part of a path string, as glibc computes `l_origin` (everything before the
/// last `/`; `/` for a file at the top).
pub(crate) fn dirname_bytes(p: &[u8]) -> Vec<u8> {
    match p.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/".to_vec(),
        Some(pos) => p[..pos].to_vec(),
        None => b".".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("usr/lib/x")).unwrap();
        fs::write(r.join("usr/lib/x/libfoo.so.1.2"), b"x").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("libfoo.so.1.2", r.join("usr/lib/x/libfoo.so.1")).unwrap();
        symlink("/lib/x/libfoo.so.1", r.join("abs")).unwrap();
        symlink("../../../../../etc/passwd", r.join("escape")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let root = Root::new(r).unwrap();
        (t, root)
    }

    #[test]
    fn follows_links_inside_root_and_records_hops() {
        let (_t, root) = tree();
        let w = root.walk(b"/abs", true).unwrap();
        assert_eq!(w.realpath, Path::new("/usr/lib/x/libfoo.so.1.2"));
        let links: Vec<_> = w.hops.iter().map(|h| h.link.clone()).collect();
        assert_eq!(links, vec![PathBuf::from("/abs"), PathBuf::from("/lib"), PathBuf::from("/usr/lib/x/libfoo.so.1")]);
    }

    #[test]
    fn dotdot_cannot_escape() {
        let (_t, root) = tree();
        assert_eq!(root.walk(b"/escape", true).unwrap_err(), libc::ENOENT);
        assert_eq!(
            root.walk(b"/../../../usr/lib/x/libfoo.so.1.2", true).unwrap().realpath,
            Path::new("/usr/lib/x/libfoo.so.1.2")
        );
    }

    #[test]
    fn loops_and_notdir() {
        let (_t, root) = tree();
        assert_eq!(root.walk(b"/loop1", true).unwrap_err(), libc::ELOOP);
        assert_eq!(root.walk(b"/loop1/x", true).unwrap_err(), libc::ELOOP);
        assert_eq!(root.walk(b"/usr/lib/x/libfoo.so.1.2/x", true).unwrap_err(), libc::ENOTDIR);
        assert!(root.walk(b"/loop1", false).unwrap().metadata.is_symlink());
    }

    #[test]
    fn dotdot_after_symlink_is_physical() {
        let (_t, root) = tree();
        // /lib -> usr/lib, so /lib/.. is /usr, not /.
        assert_eq!(root.walk(b"/lib/../lib/x", true).unwrap().realpath, Path::new("/usr/lib/x"));
    }
}
