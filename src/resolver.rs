//! The resolver: settings plus caches shared by every closure it computes.

use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use rayon::prelude::*;

use crate::bytes::Bytes;
use crate::config::{CacheSource, OriginMode, ResolverBuilder, Settings};
use crate::elf::{self, ElfInfo, ParseError, Source};
use crate::error::{Error, ErrorKind};
use crate::glibc::{CachedSearch, Loader, OpenFailure, SearchKey, Template};
use crate::ld_cache::{LdCache, Lookup};
use crate::model::{Closure, DlopenRequest, FileId, Location, ObjectFile, Variant};
use crate::root::{dirname_bytes, errno_of, errno_text, join_bytes, Opened, Root, Stat, Walked};
use crate::target::{loader_facts_in, LoaderFacts, Target};

/// How many leading bytes of a file are kept for the loader's header checks.
const HEAD: usize = 64;
/// How many leading bytes of a file are read at once: the header and, nearly always, the
/// program headers; the whole of a small file.
const HEAD_CHUNK: usize = 8 << 10;

/// The start of the diagnostic of a closure whose input lies outside the root.
pub(crate) const OUTSIDE_ROOT: &str = "input lies outside the root";

thread_local! {
    /// One buffer per thread for [`HEAD_CHUNK`] reads.
    static HEAD_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `len` bytes of `file` from `off`, read with `pread` into fresh memory (not zeroed first).
fn pread_exact(file: &File, len: usize, off: u64) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut v: Vec<u8> = Vec::with_capacity(len);
    let mut done = 0usize;
    while done < len {
        let at = i64::try_from(off + done as u64).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: the destination is the vector's spare capacity past `done`, `len - done`
        // bytes long; only bytes the kernel wrote are later marked initialised.
        let n = unsafe { libc::pread(file.as_raw_fd(), v.as_mut_ptr().add(done).cast(), len - done, at) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        done += n as usize;
    }
    // SAFETY: `done == len` bytes were written by pread above.
    unsafe { v.set_len(len) };
    Ok(v)
}

/// An open file as a parser [`Source`]: `head` holds its first bytes; other ranges are read
/// with `pread` when asked for. The first read error is kept in `errno`.
pub(crate) struct FileSource<'a> {
    file: &'a File,
    size: u64,
    head: &'a [u8],
    errno: Cell<Option<i32>>,
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
    use std::os::unix::fs::FileExt;
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

/// The input of one closure.
#[derive(Clone)]
pub(crate) struct Input {
    pub host_path: PathBuf,
    pub location: Location,
    pub origin: Option<Vec<u8>>,
    pub facts: Arc<FileFacts>,
    pub diagnostics: Vec<String>,
    /// `dlopen` calls made after start-up, in order.
    pub dlopen: Vec<DlopenRequest>,
}

type TargetKey = (Option<Bytes>, u16, bool, u32, bool);
/// The parsed `ld.so.cache` (once), `None` when absent or unusable.
type CacheCell = Arc<OnceLock<Option<LdCache>>>;

/// What the `ld.so.cache` step gave for one name ([`Resolver::cache_step`]).
pub(crate) enum CacheStep {
    /// No usable cache (absent, unreadable, disabled): the step is not taken.
    NoCache,
    /// The cache (its in-root path) has no entry for the name.
    Miss(Vec<u8>),
    /// The path the cache gives.
    Hit(Vec<u8>),
}
/// A derived target profile with the diagnostics its derivation produced.
type TargetEntry = Arc<(Target, Vec<String>)>;
/// The sorted names in a directory.
type Listing = Arc<Vec<std::ffi::OsString>>;
/// A located file (see [`Resolver::locate_cached`]).
type Located = Option<Arc<LocatedFile>>;

/// Where a path leads and what the file is, with its object record made on first use.
pub(crate) struct LocatedFile {
    pub location: Location,
    pub facts: Arc<FileFacts>,
    file: OnceLock<Arc<ObjectFile>>,
}

impl LocatedFile {
    /// The parsed facts and the object record (no variants) of the file.
    pub fn object_file(&self) -> Result<(Arc<ElfInfo>, Arc<ObjectFile>), Error> {
        let info = self.facts.info()?;
        let file = self
            .file
            .get_or_init(|| {
                Arc::new(crate::glibc::object_file(self.location.clone(), &info, self.facts.mode, self.facts.size))
            })
            .clone();
        Ok((info, file))
    }
}

/// State shared by every closure a resolver computes (and by its threads).
pub(crate) struct Shared {
    root: Root,
    files: RwLock<HashMap<FileId, Arc<FileFacts>>>,
    targets: RwLock<HashMap<TargetKey, TargetEntry>>,
    caches: RwLock<HashMap<bool, CacheCell>>,
    searches: RwLock<HashMap<SearchKey, Arc<CachedSearch>>>,
    ldconfig: OnceLock<Vec<Vec<u8>>>,
    located: RwLock<HashMap<Vec<u8>, Located>>,
    variants: RwLock<HashMap<Vec<u8>, Vec<Variant>>>,
    walks: RwLock<HashMap<Vec<u8>, Option<Location>>>,
    preload: OnceLock<Option<Vec<u8>>>,
    templates: RwLock<HashMap<Box<[u8]>, Arc<Template>>>,
    hwcaps: RwLock<HashMap<Vec<u8>, Option<Listing>>>,
}

impl Shared {
    pub fn new(root: Root) -> Self {
        Shared {
            root,
            files: RwLock::new(HashMap::default()),
            targets: RwLock::new(HashMap::default()),
            caches: RwLock::new(HashMap::default()),
            searches: RwLock::new(HashMap::default()),
            ldconfig: OnceLock::new(),
            located: RwLock::new(HashMap::default()),
            variants: RwLock::new(HashMap::default()),
            walks: RwLock::new(HashMap::default()),
            preload: OnceLock::new(),
            templates: RwLock::new(HashMap::default()),
            hwcaps: RwLock::new(HashMap::default()),
        }
    }
}

/// Computes closures. Cheap to clone; `Send + Sync`; clones share their caches (parsed files
/// by device and inode, the `ld.so.cache`, target profiles, directory walks).
///
/// ```
/// let r = depclose::Resolver::builder().build().unwrap();
/// let c = r.closure("/bin/sh").unwrap();
/// assert!(c.objects.len() >= 1);
/// ```
#[derive(Clone)]
pub struct Resolver {
    pub(crate) settings: Settings,
    pub(crate) shared: Arc<Shared>,
    pool: Arc<OnceLock<Option<rayon::ThreadPool>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("root", &self.shared.root).finish()
    }
}

impl Resolver {
    pub(crate) fn from_parts(settings: Settings, shared: Arc<Shared>) -> Self {
        Resolver { settings, shared, pool: Arc::default() }
    }

    /// A builder with every default.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::new()
    }

    /// The root this resolver works in.
    pub(crate) fn root(&self) -> &Root {
        &self.shared.root
    }

    /// The host directory this resolver sees as `/`.
    pub fn root_dir(&self) -> &Path {
        self.shared.root.host_dir()
    }

    /// The host path of `in_root`, a path inside the root (lexically: symlinks are not
    /// followed; a relative path is taken from the root directory).
    pub fn host_path(&self, in_root: &Path) -> PathBuf {
        self.shared.root.host_path(in_root)
    }

    /// The closure of a file given by its host path. With a root other than `/`, a path
    /// inside the root is taken as that file of the root; a file outside the root is read
    /// as it is, and its `$ORIGIN` is unknown (elements that use it are dropped, as glibc
    /// does when it cannot tell the origin).
    ///
    /// # Errors
    /// The file cannot be read or is not a usable ELF file; a relative path with no
    /// [`cwd`](ResolverBuilder::cwd) configured.
    pub fn closure(&self, path: impl AsRef<Path>) -> Result<Closure, Error> {
        self.closure_dlopen(path.as_ref(), &[])
    }

    /// The closure of `closure`'s input (computed by this resolver) when, after start-up, its
    /// objects call `dlopen` as `requests` say, in that order: each name is looked up as
    /// `dlopen` from that object would look it up (an object already loaded answers it;
    /// else the caller's `DT_RUNPATH`, or the `DT_RPATH` of the caller and its loaders and
    /// the executable's, `LD_LIBRARY_PATH`, the cache, the default directories; a name with
    /// a `/` is opened as a path), then the new object's dependencies are loaded
    /// breadth-first. Objects loaded so come after the start-up ones; the start-up part
    /// of the result is unchanged. Each request's outcome is in [`Closure::dlopened`]; a
    /// request that fails (not found, or a dependency of it not found) is not a
    /// [`Missing`](crate::Missing) entry, since the program starts all the same.
    ///
    /// # Errors
    /// As for [`closure`](Self::closure).
    pub fn with_dlopen(&self, closure: &Closure, requests: &[DlopenRequest]) -> Result<Closure, Error> {
        self.closure_dlopen(&closure.input, requests)
    }

    fn closure_dlopen(&self, path: &Path, dlopen: &[DlopenRequest]) -> Result<Closure, Error> {
        let abs: PathBuf = if path.is_absolute() {
            path.to_path_buf()
        } else if let (true, Some(cwd)) = (self.root().is_host_root(), &self.settings.cwd) {
            cwd.join(path)
        } else {
            return Err(Error::new(
                ErrorKind::Config,
                path,
                "relative input path: give an absolute path or configure a working directory",
            ));
        };
        if self.root().is_host_root() {
            return self.closure_at(path, abs.as_os_str().as_bytes(), dlopen);
        }
        match self.root().in_root(&abs) {
            Some(in_root) => self.closure_at(path, in_root.as_os_str().as_bytes(), dlopen),
            None => self.closure_external(path, dlopen),
        }
    }

    /// The closure of a file given by its path inside the root (`/usr/bin/ls` means
    /// `<root>/usr/bin/ls`).
    ///
    /// # Errors
    /// The file cannot be read or is not a usable ELF file.
    pub fn closure_in_root(&self, path: impl AsRef<Path>) -> Result<Closure, Error> {
        let path = path.as_ref();
        let b = path.as_os_str().as_bytes();
        let abs = if b.first() == Some(&b'/') {
            b.to_vec()
        } else {
            match &self.settings.cwd {
                Some(c) => crate::root::join_bytes(c.as_os_str().as_bytes(), b),
                None => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        path,
                        "relative path and no working directory configured",
                    ))
                }
            }
        };
        let host = self.root().host_path(Path::new(OsStr::from_bytes(&abs)));
        self.closure_at(&host, &abs, &[])
    }

    /// Closures of many files (host paths) in parallel, sharing every cache. The results are
    /// in input order and identical to computing each alone, whatever the thread count.
    pub fn closures<P: AsRef<Path> + Sync>(&self, paths: &[P]) -> Vec<Result<Closure, Error>> {
        self.batch(paths, |p| self.closure(p))
    }

    /// Closures of many files given by their paths inside the root, in parallel, as
    /// [`closures`](Self::closures) does for host paths: results in input order, each
    /// identical to [`closure_in_root`](Self::closure_in_root) of that path alone.
    pub fn closures_in_root<P: AsRef<Path> + Sync>(&self, paths: &[P]) -> Vec<Result<Closure, Error>> {
        self.batch(paths, |p| self.closure_in_root(p))
    }

    /// `f` over `items` on this resolver's thread pool (built once, on first use), results
    /// in input order; one thread or one item runs on the caller's thread.
    pub(crate) fn batch<T: Sync, R: Send>(&self, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        if self.settings.threads == 1 || items.len() < 2 {
            return items.iter().map(f).collect();
        }
        match self.pool() {
            Some(pool) => pool.install(|| items.par_iter().map(&f).collect()),
            None => items.par_iter().map(&f).collect(),
        }
    }

    /// The resolver's one reusable pool (`threads`, or twice the CPUs for 0).
    fn pool(&self) -> Option<&rayon::ThreadPool> {
        self.pool
            .get_or_init(|| {
                let threads = match self.settings.threads {
                    0 => std::thread::available_parallelism().map_or(1, |n| n.get()).saturating_mul(2),
                    n => n,
                };
                rayon::ThreadPoolBuilder::new().num_threads(threads).start_handler(|_| reserve_heap()).build().ok()
            })
            .as_ref()
    }

    fn closure_at(&self, given: &Path, in_root: &[u8], dlopen: &[DlopenRequest]) -> Result<Closure, Error> {
        let (facts, walked) = self.open_facts(in_root).map_err(|f| match f {
            OpenFailure::Errno(e) => io_err(given, e),
            OpenFailure::TooLarge => {
                Error::new(ErrorKind::LimitExceeded, given, "file larger than the configured limit")
            }
            OpenFailure::Fatal(m, d) => Error::new(
                ErrorKind::Io,
                given,
                match d {
                    Some(d) => format!("{m}: {d}"),
                    None => m.to_string(),
                },
            ),
        })?;
        let origin = match self.settings.origin {
            OriginMode::Canonical => Some(dirname_bytes(walked.realpath.as_os_str().as_bytes())),
            OriginMode::AsGiven => Some(dirname_bytes(in_root)),
        };
        let location =
            Location { path: PathBuf::from(OsStr::from_bytes(in_root)), realpath: walked.realpath, hops: walked.hops };
        self.run(Input {
            host_path: given.to_path_buf(),
            location,
            origin,
            facts,
            diagnostics: Vec::new(),
            dlopen: dlopen.to_vec(),
        })
    }

    fn closure_external(&self, given: &Path, dlopen: &[DlopenRequest]) -> Result<Closure, Error> {
        // Never block: a FIFO named as input would stall a plain open.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(given)
            .map_err(|e| Error::io(given, e))?;
        let meta = f.metadata().map_err(|e| Error::io(given, e))?;
        if !meta.is_file() {
            return Err(Error::new(ErrorKind::Io, given, "not a regular file"));
        }
        if meta.len() > self.settings.limits.max_file_bytes {
            return Err(Error::new(ErrorKind::LimitExceeded, given, "file larger than the configured limit"));
        }
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| Error::io(given, e))?;
        let facts = Arc::new(self.facts_from(given.to_path_buf(), &Stat::from(&meta), &data[..]));
        let location = Location { path: given.to_path_buf(), realpath: given.to_path_buf(), hops: Vec::new() };
        let diag = format!("{OUTSIDE_ROOT}: its $ORIGIN is unknown, path elements using it are dropped");
        self.run(Input {
            host_path: given.to_path_buf(),
            location,
            origin: None,
            facts,
            diagnostics: vec![diag],
            dlopen: dlopen.to_vec(),
        })
    }

    fn run(&self, input: Input) -> Result<Closure, Error> {
        let info = input.facts.info()?;
        use goblin::elf::header::{ET_DYN, ET_EXEC};
        if info.e_type != ET_EXEC && info.e_type != ET_DYN {
            return Err(Error::new(
                ErrorKind::Malformed,
                &input.host_path,
                format!("ELF type {} is neither an executable nor a shared object", info.e_type),
            ));
        }
        let target = self.target(&info);
        let mut input = input;
        input.diagnostics.extend(target.1.iter().cloned());
        match target.0.libc {
            crate::model::Libc::Musl => crate::musl::run(self, &target.0, input),
            _ => Loader::run(self, &target.0, input),
        }
    }

    fn target(&self, info: &ElfInfo) -> TargetEntry {
        let key =
            (info.interp.clone(), info.machine, info.class == crate::model::Class::Elf64, info.flags, info.big_endian);
        if let Some(t) = self.shared.targets.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return t.clone();
        }
        let mut diags = Vec::new();
        let t = Target::derive(info, self.root(), &self.settings, &mut |i| self.interp_facts(i), &mut diags);
        let t = Arc::new((t, diags));
        self.shared.targets.write().unwrap_or_else(|e| e.into_inner()).insert(key, t.clone());
        t
    }

    /// What the glibc loader at `abs` has compiled in ([`LoaderFacts`]), read from its
    /// read-only segments with `pread`. The same open file gives the loader's own facts,
    /// remembered as [`Resolver::locate_cached`] would remember them: the closure finds the
    /// interpreter without opening it again.
    fn interp_facts(&self, abs: &[u8]) -> LoaderFacts {
        let Ok(Opened::File(walked, file)) = self.root().open(abs) else {
            return LoaderFacts::default();
        };
        let meta = walked.metadata;
        if meta.len() > self.settings.limits.max_file_bytes.min(64 << 20) {
            return LoaderFacts::default();
        }
        with_source(&file, meta.len(), |src| {
            let facts = loader_facts_in(src);
            let id = walked.file_id();
            let known = self.shared.files.read().unwrap_or_else(|e| e.into_inner()).get(&id).cloned();
            let file_facts = match known {
                Some(f) => f,
                None => {
                    let f = self.facts_from(self.root().host_path(&walked.realpath), &meta, src);
                    if src.errno.get().is_some() {
                        // A read failed: leave it to `locate`, which reports it.
                        return facts;
                    }
                    self.store_facts(id, f)
                }
            };
            let location =
                Location { path: PathBuf::from(OsStr::from_bytes(abs)), realpath: walked.realpath, hops: walked.hops };
            let located = Arc::new(LocatedFile { location, facts: file_facts, file: OnceLock::new() });
            self.shared.located.write().unwrap_or_else(|e| e.into_inner()).entry(abs.to_vec()).or_insert(Some(located));
            facts
        })
        .unwrap_or_default()
    }

    /// [`Resolver::locate`], remembered per path (for interpreters, which every closure of a
    /// target shares).
    pub(crate) fn locate_cached(&self, abs: &[u8]) -> Located {
        if let Some(hit) = self.shared.located.read().unwrap_or_else(|e| e.into_inner()).get(abs) {
            return hit.clone();
        }
        let v = self
            .locate(abs)
            .ok()
            .map(|(location, facts)| Arc::new(LocatedFile { location, facts, file: OnceLock::new() }));
        self.shared.located.write().unwrap_or_else(|e| e.into_inner()).insert(abs.to_vec(), v.clone());
        v
    }

    /// Where an absolute in-root path leads (any kind of file), remembered per path: for the
    /// files the loader reads at start (see [`Closure::loader_files`]).
    pub(crate) fn walk_cached(&self, abs: &[u8]) -> Option<Location> {
        if let Some(hit) = self.shared.walks.read().unwrap_or_else(|e| e.into_inner()).get(abs) {
            return hit.clone();
        }
        let v = self.root().walk(abs, true).ok().map(|w| Location {
            path: PathBuf::from(OsStr::from_bytes(abs)),
            realpath: w.realpath,
            hops: w.hops,
        });
        self.shared.walks.write().unwrap_or_else(|e| e.into_inner()).insert(abs.to_vec(), v.clone());
        v
    }

    /// The root's `/etc/ld.so.preload` (read once), `None` when it cannot be read.
    pub(crate) fn preload_file(&self) -> Option<&[u8]> {
        self.shared.preload.get_or_init(|| self.root().read(b"/etc/ld.so.preload", 1 << 20).ok()).as_deref()
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
        let (walked, file) = match self.root().open(abs).map_err(OpenFailure::Errno)? {
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
        if let Some(f) = self.shared.files.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok((f.clone(), walked));
        }
        let meta = &walked.metadata;
        if meta.len() > self.settings.limits.max_file_bytes {
            return Err(OpenFailure::TooLarge);
        }
        let host = self.root().host_path(&walked.realpath);
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
    fn store_facts(&self, id: FileId, facts: FileFacts) -> Arc<FileFacts> {
        let facts = Arc::new(facts);
        self.shared.files.write().unwrap_or_else(|e| e.into_inner()).insert(id, facts.clone());
        facts
    }

    fn facts_from<S: Source + ?Sized>(&self, path: PathBuf, meta: &Stat, src: &S) -> FileFacts {
        let parsed = elf::parse_source(src, self.settings.limits.max_dynamic_entries).map(Arc::new);
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

    /// A closure pattern shared between inputs (see `glibc::template_key`), if one was stored.
    pub(crate) fn closure_template(&self, key: &[u8]) -> Option<Arc<Template>> {
        self.shared.templates.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Share a closure pattern.
    pub(crate) fn store_closure_template(&self, key: Box<[u8]>, t: Template) {
        self.shared.templates.write().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert_with(|| Arc::new(t));
    }

    /// A search outcome shared between closures, if one was stored.
    pub(crate) fn cached_search(&self, key: &[u8]) -> Option<Arc<CachedSearch>> {
        self.shared.searches.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Share a search outcome.
    pub(crate) fn store_search(&self, key: SearchKey, value: CachedSearch) {
        self.shared.searches.write().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::new(value));
    }

    /// The entries of a `glibc-hwcaps` directory (listed once per directory), `None` when
    /// there is none.
    fn hwcaps_subdirs(&self, hw: &[u8]) -> Option<Listing> {
        if let Some(hit) = self.shared.hwcaps.read().unwrap_or_else(|e| e.into_inner()).get(hw) {
            return hit.clone();
        }
        let v = self.root().read_dir(hw).ok().map(Arc::new);
        self.shared.hwcaps.write().unwrap_or_else(|e| e.into_inner()).insert(hw.to_vec(), v.clone());
        v
    }

    /// Other copies of a library for other CPU levels: `D/name` and `D/glibc-hwcaps/*/name`.
    pub(crate) fn variants(&self, loc: &Location) -> Vec<Variant> {
        if let Some(v) =
            self.shared.variants.read().unwrap_or_else(|e| e.into_inner()).get(loc.path.as_os_str().as_bytes())
        {
            return v.clone();
        }
        let p = loc.path.as_os_str().as_bytes();
        let Some(slash) = p.iter().rposition(|&b| b == b'/') else { return Vec::new() };
        let (dir, name) = (&p[..slash], &p[slash + 1..]);
        // D is the directory above glibc-hwcaps/<x> when the file came from there.
        let base: &[u8] = match dir.iter().rposition(|&b| b == b'/') {
            Some(s2) if dir[..s2].ends_with(b"/glibc-hwcaps") => &dir[..s2 - b"/glibc-hwcaps".len()],
            _ => dir,
        };
        let root = self.root();
        let mut out = Vec::new();
        let mut cands: Vec<(Vec<u8>, Vec<u8>)> = vec![(Vec::new(), join_bytes(base, name))];
        let hw = join_bytes(base, b"glibc-hwcaps");
        if let Some(subs) = self.hwcaps_subdirs(&hw) {
            for s in subs.iter() {
                let mut sub = b"glibc-hwcaps/".to_vec();
                sub.extend_from_slice(s.as_bytes());
                cands.push((sub, join_bytes(&join_bytes(&hw, s.as_bytes()), name)));
            }
        }
        for (sub, cand) in cands {
            if cand == p {
                continue;
            }
            if let Ok(w) = root.walk(&cand, true) {
                if w.metadata.is_file() && w.realpath != loc.realpath {
                    out.push(Variant {
                        subdir: Bytes::from(sub),
                        location: Location {
                            path: PathBuf::from(OsStr::from_bytes(&cand)),
                            realpath: w.realpath,
                            hops: w.hops,
                        },
                    });
                }
            }
        }
        self.shared
            .variants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(loc.path.as_os_str().as_bytes().to_vec(), out.clone());
        out
    }

    /// The parsed `ld.so.cache` for a byte order (read once), `None` when absent, unusable
    /// or disabled.
    fn ld_cache(&self, big_endian: bool) -> CacheCell {
        let hit = self.shared.caches.read().unwrap_or_else(|e| e.into_inner()).get(&big_endian).cloned();
        let cell = match hit {
            Some(c) => c,
            None => {
                let mut map = self.shared.caches.write().unwrap_or_else(|e| e.into_inner());
                map.entry(big_endian).or_insert_with(|| Arc::new(OnceLock::new())).clone()
            }
        };
        cell.get_or_init(|| {
            let path: &[u8] = match &self.settings.cache {
                CacheSource::Root => b"/etc/ld.so.cache",
                CacheSource::Path(p) => p.as_os_str().as_bytes(),
                CacheSource::None => return None,
            };
            // Mapped, not read: a lookup touches a few pages of it.
            match self.root().open(path).ok()? {
                Opened::File(w, f) if w.metadata.len() <= self.settings.limits.max_file_bytes.min(256 << 20) => {
                    // SAFETY: a read-only private map of a file depclose assumes is not being
                    // modified while it reads it (as the loader does); it is only read.
                    let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
                    LdCache::parse_mapped(map, big_endian).ok()
                }
                _ => None,
            }
        });
        cell
    }

    /// glibc's cache step, saying whether a cache was asked: the path it gives for `name`, or
    /// the in-root path of the cache that has no entry for it, or no usable cache at all.
    pub(crate) fn cache_step(&self, target: &Target, name: &[u8]) -> CacheStep {
        let cell = self.ld_cache(target.abi.big_endian);
        let Some(Some(cache)) = cell.get() else { return CacheStep::NoCache };
        let q = Lookup { accepted_flags: target.cache_flags, hwcaps: &target.glibc_hwcaps, legacy: target.legacy };
        match cache.lookup(name, &q) {
            Some(e) => CacheStep::Hit(e.value.to_vec()),
            None => CacheStep::Miss(match &self.settings.cache {
                CacheSource::Path(p) => p.as_os_str().as_bytes().to_vec(),
                _ => b"/etc/ld.so.cache".to_vec(),
            }),
        }
    }

    /// With [`assume_ldconfig`](ResolverBuilder::assume_ldconfig) and no usable cache: the
    /// directories `ldconfig` would have put in it (`/etc/ld.so.conf` inside the root, then
    /// the system directories), each ending in `/`. `None` otherwise.
    pub(crate) fn ldconfig_dirs(&self, target: &Target) -> Option<Vec<Vec<u8>>> {
        if !self.settings.assume_ldconfig || self.ld_cache(target.abi.big_endian).get().is_some_and(|c| c.is_some()) {
            return None;
        }
        let cell = self.shared.ldconfig.get_or_init(|| {
            crate::ld_so_conf::directories_with_system(self.root(), b"/etc/ld.so.conf", &target.system_dirs)
                .into_iter()
                .map(|d| {
                    let mut v = d.to_vec();
                    if !v.ends_with(b"/") {
                        v.push(b'/');
                    }
                    v
                })
                .collect()
        });
        Some(cell.clone())
    }
}

/// Let a worker thread's allocator take its working memory in one step.
///
/// glibc gives each thread its own heap and grows it a few pages at a time, one `mprotect`
/// per step (about 1,800 calls, a tenth of the time, for the closures of /usr). A block
/// above the mapping threshold, freed, raises that threshold (glibc's dynamic threshold);
/// a second block below it then grows this thread's heap once, and stays reserved after
/// it is freed. Other allocators just allocate and free two blocks.
pub(crate) fn reserve_heap() {
    let big: Vec<u8> = Vec::with_capacity(8 << 20);
    drop(std::hint::black_box(big));
    let heap: Vec<u8> = Vec::with_capacity(4 << 20);
    drop(std::hint::black_box(heap));
}

fn io_err(path: &Path, errno: i32) -> Error {
    Error::io(path, std::io::Error::from_raw_os_error(errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Resolver>();
        assert_send_sync::<Closure>();
        assert_send_sync::<Error>();
    }
}
