//! [`SymbolCache`]: each file's symbol tables read once, shared by every closure checked.

use super::*;

pub(super) type Loaded = Arc<Result<FileSymbols, String>>;

/// For (an `own` result's address, a file's address): which of those open lookups the file
/// satisfies, one bit each.
pub(super) type Pairs = FxHashMap<(usize, usize), Arc<[u64]>>;

/// Symbol tables by host path, read once and shared by every closure checked with it.
pub struct SymbolCache {
    limits: SymbolLimits,
    files: Mutex<HashMap<PathBuf, Arc<OnceLock<Loaded>>>>,
    by_object: Mutex<FxHashMap<usize, (Arc<crate::model::ObjectFile>, Loaded)>>,
    own: Mutex<FxHashMap<OwnKey, Arc<[u32]>>>,
    /// For (an `own` result, a file): which of those open lookups the file satisfies.
    pairs: Mutex<Pairs>,
    /// Files mapped so far.
    maps: AtomicUsize,
}

impl Default for SymbolCache {
    fn default() -> Self {
        SymbolCache::new()
    }
}

impl std::fmt::Debug for SymbolCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.files.lock().map_or(0, |m| m.len());
        f.debug_struct("SymbolCache").field("limits", &self.limits).field("files", &n).finish()
    }
}

impl SymbolCache {
    /// An empty cache with the default [`SymbolLimits`].
    pub fn new() -> SymbolCache {
        SymbolCache::with_limits(SymbolLimits::default())
    }

    /// An empty cache with these limits.
    pub fn with_limits(limits: SymbolLimits) -> SymbolCache {
        SymbolCache {
            limits,
            files: Mutex::new(HashMap::new()),
            by_object: Mutex::new(FxHashMap::default()),
            own: Mutex::new(FxHashMap::default()),
            pairs: Mutex::new(FxHashMap::default()),
            maps: AtomicUsize::new(0),
        }
    }

    /// How many files have been read.
    pub fn len(&self) -> usize {
        self.files.lock().map_or(0, |m| m.len())
    }

    /// True when no file has been read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn load(&self, host: &Path) -> Loaded {
        let cell = {
            let mut m = self.files.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(host.to_path_buf()).or_default().clone()
        };
        cell.get_or_init(|| Arc::new(read_file(host, &self.limits, &self.maps))).clone()
    }

    /// Check every closure of `closures` (computed by `resolver`) as [`SymbolCache::check`]
    /// does, in parallel (as many threads as rayon's current pool has): first every file
    /// they load is read, each once, all in parallel; then the closures are checked. The
    /// reports are in the order of `closures`.
    pub fn check_all(&self, closures: &[Closure], resolver: &Resolver) -> Vec<SymbolReport> {
        let root = resolver.root();
        let threads = rayon::current_num_threads();
        let run = || {
            let mut seen: rustc_hash::FxHashSet<usize> = rustc_hash::FxHashSet::default();
            let mut paths: Vec<PathBuf> = Vec::new();
            for c in closures.iter().filter(|c| checked_at_all(c)) {
                let external = is_external(c);
                for (i, o) in c.objects.iter().enumerate() {
                    if i == 0 && external {
                        paths.push(c.input.clone());
                    } else if seen.insert(Arc::as_ptr(&o.file) as usize) {
                        paths.push(root.host_path(&o.file.location.realpath));
                    }
                }
            }
            paths.par_iter().for_each(|p| {
                self.load(p);
            });
            closures.par_iter().map(|c| self.check(c, resolver)).collect()
        };
        // Worker threads that take their heap in one step (see the resolver's pools).
        match rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .start_handler(|_| crate::resolver::reserve_heap())
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
    }

    /// Check `closure` (computed by `resolver`) as `ldd -r` would.
    pub fn check(&self, closure: &Closure, resolver: &Resolver) -> SymbolReport {
        let root = resolver.root();
        let mut report = SymbolReport::default();
        if closure.libc != Libc::Glibc || closure.linkage == Linkage::Static {
            report.not_checked = Some("symbol checks model glibc's dynamic loader only".into());
            return report;
        }
        if closure.fatal.is_some() {
            report.not_checked = Some("the loader aborts while loading; it checks no symbols".into());
            return report;
        }
        let external = is_external(closure);
        let files: Vec<Option<Arc<Result<FileSymbols, String>>>> = closure
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if i == 0 && external {
                    return Some(self.load(&closure.input));
                }
                // The resolver shares one `ObjectFile` between the closures that load a file:
                // its address finds the tables without building the host path again.
                let key = Arc::as_ptr(&o.file) as usize;
                if let Some((_, l)) = self.by_object.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
                    return Some(l.clone());
                }
                let l = self.load(&root.host_path(&o.file.location.realpath));
                // The entry keeps the `ObjectFile` alive, so its address is not reused.
                self.by_object.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (o.file.clone(), l.clone()));
                Some(l)
            })
            .collect();
        let maps: Vec<Option<&FileSymbols>> = files
            .iter()
            .enumerate()
            .map(|(i, f)| match f.as_deref() {
                Some(Ok(fs)) => Some(fs),
                Some(Err(e)) => {
                    report.unreadable.push((i, e.clone()));
                    None
                }
                None => None,
            })
            .collect();
        Checker {
            closure,
            maps: &maps,
            slots: Vec::new(),
            own: &self.own,
            pairs: &self.pairs,
            files: &files,
            report: &mut report,
        }
        .run();
        report
    }
}

/// True unless [`SymbolCache::check`] leaves the closure unchecked (a musl or static
/// closure, or one whose loading fails).
pub(super) fn checked_at_all(closure: &Closure) -> bool {
    closure.libc == Libc::Glibc && closure.linkage != Linkage::Static && closure.fatal.is_none()
}

/// True when the closure's input lies outside its root (it is read from the host).
pub(super) fn is_external(closure: &Closure) -> bool {
    closure.diagnostics.iter().any(|d| d.object.is_none() && d.message.starts_with(crate::resolver::OUTSIDE_ROOT))
}

/// Check one closure with a fresh cache (see [`SymbolCache::check`]).
pub fn check(closure: &Closure, resolver: &Resolver) -> SymbolReport {
    SymbolCache::new().check(closure, resolver)
}

/// Files at least this large are mapped rather than read: their tables are then windows on
/// the mapping, kept for the run, and nothing is copied (the pages a lookup touches are the
/// page cache's). Smaller files take one read.
pub(super) const MAP_AT: u64 = 16 << 10;

/// At most this many files stay mapped per cache (well below the kernel's default of 65,530
/// mappings per process); past it, files are read.
pub(super) const MAX_MAPS: usize = 16 << 10;

pub(super) fn read_file(host: &Path, limits: &SymbolLimits, maps: &AtomicUsize) -> Result<FileSymbols, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", host.display());
    let file = File::open(host).map_err(|e| err(&e))?;
    let meta = file.metadata().map_err(|e| err(&e))?;
    if !meta.is_file() {
        return Err(err(&"not a regular file"));
    }
    let size = meta.len();
    let map = (size >= MAP_AT && maps.fetch_add(1, Ordering::Relaxed) < MAX_MAPS)
        // SAFETY: the map is read-only and private; a file truncated while it is mapped would
        // fault (SIGBUS), as it would for the loader. Library files are not rewritten in
        // place (package managers rename new files into place).
        // The length is known: the map needs no second `fstat`.
        .then(|| {
            usize::try_from(size).ok().and_then(|len| unsafe { memmap2::MmapOptions::new().len(len).map(&file) }.ok())
        })
        .flatten();
    let read = if let Some(map) = map {
        symbols::read_raw(&symbols::MappedFile(Arc::new(map)), limits)
    } else {
        crate::resolver::with_source(&file, size, |src| symbols::read_raw(src, limits))
            .map_err(|errno| err(&crate::root::errno_text(errno)))?
    };
    Ok(FileSymbols::new(read.map_err(|e| err(&e))?))
}
