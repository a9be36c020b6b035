//! The file store: every file the loaders look at, opened, read and parsed once per
//! `(dev, inode)` and shared by every closure of a resolver. It knows the root and the
//! limits, and no loader: it answers "what is at this in-root path" and "what is this
//! file", nothing about search orders.

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use crate::elf::{self, ElfInfo, ParseError, Source};
use crate::error::{Error, ErrorKind};
use crate::model::{FileId, Location, ObjectFile};
use crate::root::{errno_of, errno_text, Errno, Opened, Root, Stat, Walked};
use crate::settings::Limits;

/// How many leading bytes of a file are kept for the loader's header checks.
const HEAD: usize = 64;
/// How many leading bytes of a file are read at once: the header and, nearly always, the
/// program headers; the whole of a small file.
const HEAD_CHUNK: usize = 8 << 10;

thread_local! {
    /// One buffer per thread for [`HEAD_CHUNK`] reads.
    static HEAD_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Ranges up to this size are read into a zeroed buffer; larger ones (a loader's read-only
/// segments, a big dynamic string table) without zeroing it first.
const ZEROED_READ_MAX: usize = 16 << 10;

/// `len` bytes of `file` from `off`. A small range is one `pread` (`read_exact_at`: short
/// reads and `EINTR` retried, `UnexpectedEof` past the end). A large one is a seek and a read
/// into the vector's spare capacity (`read_to_end`), which spares zeroing hundreds of
/// kilobytes only to overwrite them; the file's offset is this source's alone.
fn pread_exact(file: &File, len: usize, off: u64) -> std::io::Result<Vec<u8>> {
    if len <= ZEROED_READ_MAX {
        let mut v = vec![0u8; len];
        file.read_exact_at(&mut v, off)?;
        return Ok(v);
    }
    let mut f = file;
    f.seek(SeekFrom::Start(off))?;
    let mut v = Vec::with_capacity(len);
    f.take(len as u64).read_to_end(&mut v)?;
    if v.len() != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    Ok(v)
}

/// An open file as a parser [`Source`]: `head` holds its first bytes; other ranges are read
/// with `pread` when asked for. The first read error is kept in `errno`.
pub(crate) struct FileSource<'a> {
    file: &'a File,
    size: u64,
    head: &'a [u8],
    pub(crate) errno: Cell<Option<i32>>,
}

impl Source for FileSource<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        let end = off.checked_add(len)?;
        if end > self.size {
            return None;
        }
        if end <= self.head.len() as u64 {
            return Some(Cow::Borrowed(&self.head[off as usize..end as usize]));
        }
        // `len` is bounded by the file's size, which the caller bounded by the limits.
        match pread_exact(self.file, usize::try_from(len).ok()?, off) {
            Ok(v) => Some(Cow::Owned(v)),
            Err(e) => {
                self.errno.set(Some(errno_of(&e)));
                None
            }
        }
    }
}

/// Read the first [`HEAD_CHUNK`] bytes of `file` (`size` bytes long) into this thread's
/// buffer and run `f` on the file as a parser [`Source`]; the errno when that first read
/// fails. Later read errors are in the source's `errno`.
pub(crate) fn with_source<R>(file: &File, size: u64, f: impl FnOnce(&FileSource<'_>) -> R) -> Result<R, i32> {
    HEAD_BUF.with(|b| {
        let mut buf = b.borrow_mut();
        buf.resize(size.min(HEAD_CHUNK as u64) as usize, 0);
        read_at_start(file, &mut buf).map_err(|e| errno_of(&e))?;
        Ok(f(&FileSource { file, size, head: &buf, errno: Cell::new(None) }))
    })
}

/// Fill `buf` from the start of `file`.
fn read_at_start(file: &File, buf: &mut [u8]) -> std::io::Result<()> {
    file.read_exact_at(buf, 0)
}

/// What one file is, once read: identity, mode, size, header bytes and parsed facts.
/// Cached by file identity and shared by every closure of a resolver.
pub(crate) struct FileFacts {
    pub file_id: FileId,
    pub mode: u32,
    pub size: u64,
    /// The first bytes (up to 64), for `open_verify`.
    pub head: Vec<u8>,
    parsed: Result<Arc<ElfInfo>, ParseError>,
    path: PathBuf,
}

impl FileFacts {
    /// The parsed facts, or an error naming the file.
    pub fn info(&self) -> Result<Arc<ElfInfo>, Error> {
        self.parsed.clone().map_err(|e| {
            let kind = if elf::is_elf(&self.head) { ErrorKind::Malformed } else { ErrorKind::NotElf };
            Error::new(kind, &self.path, e.reason())
        })
    }
}

/// Where a path leads and what the file is, with its object record made on first use.
pub(crate) struct LocatedFile {
    pub location: Location,
    pub facts: Arc<FileFacts>,
    pub(crate) file: OnceLock<Arc<ObjectFile>>,
}

impl LocatedFile {
    /// The parsed facts and the object record (no variants) of the file.
    pub fn object_file(&self) -> Result<(Arc<ElfInfo>, Arc<ObjectFile>), Error> {
        let info = self.facts.info()?;
        let file = self
            .file
            .get_or_init(|| Arc::new(object_file(self.location.clone(), &info, self.facts.mode, self.facts.size)))
            .clone();
        Ok((info, file))
    }
}

/// A located file (see [`FileStore::locate_cached`]).
pub(crate) type Located = Option<Arc<LocatedFile>>;

/// Why [`FileStore::open_facts`] could not give facts.
pub(crate) enum OpenFailure {
    /// `open` failed with this errno.
    Errno(Errno),
    /// The loader would abort on this file.
    Fatal(&'static str, Option<String>),
    /// The file is larger than [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    TooLarge,
}

/// The [`ObjectFile`] record for a parsed file (no variants).
pub(crate) fn object_file(location: Location, info: &ElfInfo, mode: u32, size: u64) -> ObjectFile {
    let (soname, needed, rpath, runpath, flags_1) = match &info.dynamic {
        Some(d) => (d.soname.clone(), d.needed.clone(), d.rpath.clone(), d.runpath.clone(), d.flags_1),
        None => (None, Vec::new(), None, None, 0),
    };
    ObjectFile {
        location,
        soname,
        needed,
        rpath,
        runpath,
        flags_1,
        class: info.class,
        machine: info.machine,
        mode,
        size,
        variants: Vec::new(),
    }
}

/// The files of one root, each read once (see the module docs).
pub(crate) struct FileStore {
    pub(crate) root: Root,
    limits: Limits,
    files: RwLock<HashMap<FileId, Arc<FileFacts>>>,
    located: RwLock<HashMap<Vec<u8>, Located>>,
    walks: RwLock<HashMap<Vec<u8>, Option<Location>>>,
}

impl FileStore {
    /// An empty store over `root`, reading within `limits`.
    pub(crate) fn new(root: Root, limits: Limits) -> Self {
        FileStore {
            root,
            limits,
            files: RwLock::new(HashMap::default()),
            located: RwLock::new(HashMap::default()),
            walks: RwLock::new(HashMap::default()),
        }
    }

    /// The facts already read for a file identity.
    pub(crate) fn known(&self, id: &FileId) -> Option<Arc<FileFacts>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// Remember what `abs` leads to (when nothing is remembered for it yet).
    pub(crate) fn remember_located(&self, abs: &[u8], location: Location, facts: Arc<FileFacts>) {
        let located = Arc::new(LocatedFile { location, facts, file: OnceLock::new() });
        self.located.write().unwrap_or_else(|e| e.into_inner()).entry(abs.to_vec()).or_insert(Some(located));
    }

    /// [`FileStore::locate`], remembered per path (for interpreters, which every closure of a
    /// target shares).
    pub(crate) fn locate_cached(&self, abs: &[u8]) -> Located {
        if let Some(hit) = self.located.read().unwrap_or_else(|e| e.into_inner()).get(abs) {
            return hit.clone();
        }
        let v = self
            .locate(abs)
            .ok()
            .map(|(location, facts)| Arc::new(LocatedFile { location, facts, file: OnceLock::new() }));
        self.located.write().unwrap_or_else(|e| e.into_inner()).insert(abs.to_vec(), v.clone());
        v
    }

    /// Where an absolute in-root path leads (any kind of file), remembered per path: for the
    /// files the loader reads at start (see [`Closure::loader_files`]).
    pub(crate) fn walk_cached(&self, abs: &[u8]) -> Option<Location> {
        if let Some(hit) = self.walks.read().unwrap_or_else(|e| e.into_inner()).get(abs) {
            return hit.clone();
        }
        let v = self.root.walk(abs, true).ok().map(|w| Location {
            path: PathBuf::from(OsStr::from_bytes(abs)),
            realpath: w.realpath,
            hops: w.hops,
        });
        self.walks.write().unwrap_or_else(|e| e.into_inner()).insert(abs.to_vec(), v.clone());
        v
    }

    /// Walk an absolute in-root path and read the file's facts.
    pub(crate) fn locate(&self, abs: &[u8]) -> Result<(Location, Arc<FileFacts>), Error> {
        let p = Path::new(OsStr::from_bytes(abs));
        let (facts, w) = self.open_facts(abs).map_err(|f| match f {
            OpenFailure::Errno(e) => io_err(p, e),
            OpenFailure::Fatal(m, _) => Error::new(ErrorKind::Io, p, m),
            OpenFailure::TooLarge => Error::new(ErrorKind::LimitExceeded, p, "file larger than the configured limit"),
        })?;
        Ok((Location { path: p.to_path_buf(), realpath: w.realpath, hops: w.hops }, facts))
    }

    /// Open an absolute in-root path and read (or fetch from the cache) its facts.
    pub(crate) fn open_facts(&self, abs: &[u8]) -> Result<(Arc<FileFacts>, Walked), OpenFailure> {
        let (walked, file) = match self.root.open(abs).map_err(OpenFailure::Errno)? {
            Opened::File(w, f) => (w, f),
            Opened::Directory(_) => {
                return Err(OpenFailure::Fatal("cannot read file data", Some(errno_text(libc::EISDIR))))
            }
            Opened::Special(_) => {
                return Err(OpenFailure::Fatal(
                    "not a regular file (a FIFO or device node); depclose does not read it",
                    None,
                ))
            }
        };
        let id = walked.file_id();
        if let Some(f) = self.files.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok((f.clone(), walked));
        }
        let meta = &walked.metadata;
        if meta.len() > self.limits.max_file_bytes {
            return Err(OpenFailure::TooLarge);
        }
        let host = self.root.host_path(&walked.realpath);
        // Read only what the parser asks for: the first bytes at once (all of a small file),
        // then the program headers, PT_DYNAMIC and its strings with `pread`. No mapping to
        // set up and tear down, and nothing kept open.
        let facts = with_source(&file, meta.len(), |src| {
            let facts = self.facts_from(host, meta, src);
            src.errno.get().map_or(Ok(facts), Err)
        })
        .and_then(|r| r)
        .map_err(|e| OpenFailure::Fatal("cannot read file data", Some(errno_text(e))))?;
        Ok((self.store_facts(id, facts), walked))
    }

    /// Remember a file's facts by identity.
    pub(crate) fn store_facts(&self, id: FileId, facts: FileFacts) -> Arc<FileFacts> {
        let facts = Arc::new(facts);
        self.files.write().unwrap_or_else(|e| e.into_inner()).insert(id, facts.clone());
        facts
    }

    pub(crate) fn facts_from<S: Source + ?Sized>(&self, path: PathBuf, meta: &Stat, src: &S) -> FileFacts {
        let parsed = elf::parse_source(src, self.limits.max_dynamic_entries).map(Arc::new);
        let head = src.get(0, src.size().min(HEAD as u64)).map(|h| h.into_owned()).unwrap_or_default();
        FileFacts {
            file_id: FileId { dev: meta.dev, ino: meta.ino },
            mode: meta.mode & 0o7777,
            size: meta.size,
            head,
            parsed,
            path,
        }
    }
}

pub(crate) fn io_err(path: &Path, errno: i32) -> Error {
    Error::io(path, std::io::Error::from_raw_os_error(errno))
}
