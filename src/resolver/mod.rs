//! The resolver: [`Resolver`] and its [`ResolverBuilder`]. It owns what every closure
//! shares (the file store, the derived targets, the glibc loader's shared searches, one
//! thread pool) and hands each loader a [`Context`] for one input's target.

mod builder;

use rustc_hash::FxHashMap as HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use rayon::prelude::*;

use crate::bytes::Bytes;
use crate::elf::ElfInfo;
use crate::error::{Error, ErrorKind};
use crate::files::{io_err, FileStore, OpenFailure};
use crate::loader::glibc::GlibcShared;
use crate::loader::target::{loader_facts_in, LoaderFacts, Target, TargetId};
use crate::loader::{Context, Input};
use crate::model::{Closure, DlopenRequest, Location};
use crate::root::{dirname_bytes, Opened, Root, Stat};
use crate::settings::{OriginMode, Settings};

/// For the symbol reader, which reads through the same parser source.
pub(crate) use crate::files::with_source;
pub use builder::ResolverBuilder;

/// The start of the diagnostic of a closure whose input lies outside the root.
pub(crate) const OUTSIDE_ROOT: &str = "input lies outside the root";

/// What picks a target profile: interpreter, machine, 64-bit, ELF flags, big-endian.
type TargetKey = (Option<Bytes>, u16, bool, u32, bool);
/// A derived target profile with the diagnostics its derivation produced.
type TargetEntry = Arc<(Target, Vec<String>)>;

/// State shared by every closure a resolver computes (and by its threads).
struct Shared {
    files: FileStore,
    targets: RwLock<HashMap<TargetKey, TargetEntry>>,
    glibc: GlibcShared,
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
    shared: Arc<Shared>,
    pool: Arc<OnceLock<Option<rayon::ThreadPool>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("root", &self.shared.files.root).finish()
    }
}

impl Resolver {
    pub(crate) fn from_parts(settings: Settings, root: Root) -> Self {
        let shared = Shared {
            files: FileStore::new(root, settings.limits),
            targets: RwLock::new(HashMap::default()),
            glibc: GlibcShared::default(),
        };
        Resolver { settings, shared: Arc::new(shared), pool: Arc::default() }
    }

    /// What the loaders see of this resolver for one target.
    fn context<'a>(&'a self, target: &'a Target) -> Context<'a> {
        Context { files: &self.shared.files, settings: &self.settings, target }
    }

    /// A builder with every default.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::new()
    }

    /// The root this resolver works in.
    pub(crate) fn root(&self) -> &Root {
        &self.shared.files.root
    }

    /// The host directory this resolver sees as `/`.
    pub fn root_dir(&self) -> &Path {
        self.shared.files.root.host_dir()
    }

    /// The host path of `in_root`, a path inside the root (lexically: symlinks are not
    /// followed; a relative path is taken from the root directory).
    pub fn host_path(&self, in_root: &Path) -> PathBuf {
        self.shared.files.root.host_path(in_root)
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
        let (facts, walked) = self.shared.files.open_facts(in_root).map_err(|f| match f {
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
        let facts = Arc::new(self.shared.files.facts_from(given.to_path_buf(), &Stat::from(&meta), &data[..]));
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
        let ctx = self.context(&target.0);
        match target.0.libc {
            crate::model::Libc::Musl => crate::loader::musl::run(&ctx, input),
            _ => crate::loader::glibc::run(&ctx, &self.shared.glibc, input),
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
        let mut map = self.shared.targets.write().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = map.get(&key) {
            return t.clone();
        }
        // Interned: the first target derived is 0, the next 1, and so on; an id is never
        // reused while the resolver lives, so shared search keys can name it.
        let id = TargetId(u32::try_from(map.len()).unwrap_or(u32::MAX));
        let t = Arc::new((Target { id, ..t }, diags));
        map.insert(key, t.clone());
        t
    }

    /// What the glibc loader at `abs` has compiled in ([`LoaderFacts`]), read from its
    /// read-only segments with `pread`. The same open file gives the loader's own facts,
    /// remembered as [`FileStore::locate_cached`] would remember them: the closure finds the
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
            let known = self.shared.files.known(&id);
            let file_facts = match known {
                Some(f) => f,
                None => {
                    let f = self.shared.files.facts_from(self.root().host_path(&walked.realpath), &meta, src);
                    if src.errno.get().is_some() {
                        // A read failed: leave it to `locate`, which reports it.
                        return facts;
                    }
                    self.shared.files.store_facts(id, f)
                }
            };
            let location =
                Location { path: PathBuf::from(OsStr::from_bytes(abs)), realpath: walked.realpath, hops: walked.hops };
            self.shared.files.remember_located(abs, location, file_facts);
            facts
        })
        .unwrap_or_default()
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
