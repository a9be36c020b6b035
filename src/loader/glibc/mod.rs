//! The glibc 2.36 loader model: `_dl_map_object_deps` (breadth-first), `_dl_map_object`
//! (already-loaded matching, the search order), `open_path` (directories, hwcaps
//! subdirectories, errno rules), `open_verify` (candidate checks), DST expansion.
//!
//! Sources are glibc's `elf/dl-deps.c`, `elf/dl-load.c`, `elf/dl-object.c`, `elf/dl-misc.c`,
//! `elf/rtld.c`, as summarised with references in `ldso-spec.md` (sections 1 to 6).
//!
//! Cost: a closure of many inputs is mostly cache hits, so the per-closure work avoids
//! allocation where it can. Names are shared [`Bytes`], search outcomes and the
//! [`ObjectFile`] of each found file are shared between closures, and a search is looked up
//! by a key built in a reused buffer.

use rustc_hash::FxHashMap as HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use crate::bytes::Bytes;
use crate::elf::{self, ElfInfo, SkipReason, Verdict};
use crate::error::{Error, ErrorKind};
use crate::files::{object_file, FileFacts, OpenFailure};
use crate::loader::{attempt, rejection_of, Context, Input};
use crate::model::{
    Attempt, Closure, Diagnostic, Dlopened, Edge, FileId, FoundVia, Libc, Linkage, LoadError, Location, Missing,
    Object, ObjectFile, Rejection, Role,
};
use crate::root::{dirname_bytes, join_bytes, Errno};

mod shared;

pub(crate) use shared::{CacheStep, GlibcShared};

/// The glibc closure of `input` (see [`Loader::run`]).
pub(crate) fn run(ctx: &Context<'_>, shared: &GlibcShared, input: Input) -> Result<Closure, Error> {
    Loader::run(ctx, shared, input)
}
use crate::loader::target::Target;

/// One entry of the loader's namespace list (`struct link_map`, the parts that matter).
struct Map {
    /// `l_name`: the path string it was opened under ("" for the executable).
    name: Bytes,
    /// `DT_SONAME`, until it has been matched as a name (`l_soname_added`).
    soname_pending: Option<Bytes>,
    file_id: Option<FileId>,
    info: Arc<ElfInfo>,
    /// `l_loader`.
    loader: Option<usize>,
    /// `l_origin` when fixed at creation (the executable); `None`: the directory of the
    /// absolute form of `name`, computed when a `$ORIGIN` needs it. Inside: `None` = unknown
    /// (elements using `$ORIGIN` are dropped).
    origin: Option<Option<Vec<u8>>>,
    /// Index in `Closure::objects`; `None` for the lazily materialised rtld of an input
    /// without `PT_INTERP`.
    object: Option<usize>,
    /// Materialisation data for the lazy rtld.
    lazy: Option<Box<Object>>,
}

/// `r_search_path_elem.status` for one probe suffix.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DirStatus {
    Unknown,
    Existing,
    Nonexisting,
}

/// A candidate that passed `open_verify`. Shared between closures through the search cache.
pub(crate) struct Candidate {
    realname: Bytes,
    facts: Arc<FileFacts>,
    /// Canonical in-root path and symlink hops of `realname`.
    realpath: PathBuf,
    hops: Vec<crate::model::Hop>,
    /// The object record, made once the candidate has been accepted as a library.
    file: OnceLock<Arc<ObjectFile>>,
}

/// A search outcome that does not depend on the modelled process's `errno` history, shared
/// by every closure of a resolver (see [`Loader::search`]).
pub(crate) struct CachedSearch {
    /// The candidate and the index of the stage that found it (`usize::MAX - 1` for the
    /// cache, `usize::MAX` for the default directories).
    found: Option<(Arc<Candidate>, usize)>,
    tried: Vec<(usize, Attempt)>,
}

/// Key of a shared search: target, `DF_1_NODEFLIB`, name and every directory list searched,
/// length-prefixed into one byte string (see [`search_key`]).
pub(crate) type SearchKey = Box<[u8]>;

const STAGE_CACHE: usize = usize::MAX - 1;
const STAGE_DEFAULT: usize = usize::MAX;

/// An expanded directory list (`r_search_path_elem` entries, each ending in `/`).
type Dirs = Rc<Vec<Vec<u8>>>;
/// One list of directories searched before the cache, with the step it stands for.
type Stage = (FoundVia, Dirs);

enum Probe {
    Found(Arc<Candidate>),
    Skip(Rejection),
    Open(Errno),
    Fatal(&'static str, Option<String>),
}

enum Mapped {
    Object(usize, FoundVia),
    Vdso,
    NotFound(Vec<Attempt>),
}

struct Fatal {
    path: Vec<u8>,
    message: String,
}

/// The loader's working buffers, kept per thread between closures so that each closure
/// does not allocate its tables afresh.
#[derive(Default)]
struct Scratch {
    maps: Vec<Map>,
    objects: Vec<Object>,
    edges: Vec<Edge>,
    status: HashMap<Vec<u8>, Vec<DirStatus>>,
    by_name: HashMap<Bytes, usize>,
    by_soname: HashMap<Bytes, usize>,
    by_id: HashMap<FileId, usize>,
    queued: Vec<bool>,
    rpath_cache: HashMap<(usize, bool), Option<Dirs>>,
    key: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

pub(crate) struct Loader<'a> {
    ctx: Context<'a>,
    shared: &'a GlibcShared,
    target: &'a Target,
    maps: Vec<Map>,
    objects: Vec<Object>,
    edges: Vec<Edge>,
    missing: Vec<Missing>,
    diagnostics: Vec<Diagnostic>,
    status: HashMap<Vec<u8>, Vec<DirStatus>>,
    /// The modelled process's `errno`, which `open_path` consults after each directory.
    errno: Errno,
    /// Set when the current search saw an errno other than ENOENT/EACCES.
    weird: bool,
    /// Set when the current search depends on something other than the files (a relative
    /// path with no working directory configured).
    uncacheable: bool,
    /// Whether shared search outcomes may be used.
    use_cache: bool,
    /// Set once a shared outcome was used (its per-directory side effects were skipped).
    used_cache: bool,
    /// Set when an errno-dependent path was met after a shared outcome was used.
    restart: bool,
    /// Set once any errno other than ENOENT/EACCES was met in this closure: from then on
    /// the per-directory memory may steer searches, so none is shared.
    ever_weird: bool,
    /// Set when `/etc/ld.so.preload` named something.
    used_preload_file: bool,
    /// First map (in list order) per `l_name` / `l_libname` entry.
    by_name: HashMap<Bytes, usize>,
    /// First map (in list order) whose DT_SONAME has not been matched yet, per SONAME.
    by_soname: HashMap<Bytes, usize>,
    /// First map (in list order) per file identity.
    by_id: HashMap<FileId, usize>,
    /// Maps already queued for the breadth-first walk.
    queued: Vec<bool>,
    /// `LD_LIBRARY_PATH` directories, expanded once (`_dl_init_paths`).
    llp: Option<Dirs>,
    /// Expanded `DT_RPATH` / `DT_RUNPATH` lists per map (`l_rpath_dirs`, `l_runpath_dirs`).
    rpath_cache: HashMap<(usize, bool), Option<Dirs>>,
    /// Reused buffer for search keys.
    key: Vec<u8>,
    /// Outcomes of the input's dlopen requests, in order.
    dlopened: Vec<Dlopened>,
}

impl<'a> Loader<'a> {
    /// The closure of `input`. Searches are shared through the resolver's cache; if the
    /// closure then meets an errno that makes glibc's per-directory memory matter (see
    /// [`Loader::search`]), it is computed again without the cache, so the result never
    /// depends on what other closures did before.
    ///
    /// Closures whose input contributes nothing to the loading but its `DT_NEEDED` list
    /// (and `DT_SONAME`) are shared too: see [`template_key`].
    pub(crate) fn run(ctx: &Context<'a>, shared: &'a GlibcShared, input: Input) -> Result<Closure, Error> {
        let info = input.facts.info()?;
        let key = template_key(ctx, &input, &info);
        if let Some(t) = key.as_deref().and_then(|k| shared.closure_template(k)) {
            return Ok(instantiate(&t, &input, &info));
        }
        let c = match Self::run_with(*ctx, shared, &input, true)? {
            Some(c) => c,
            None => Self::run_with(*ctx, shared, &input, false)?
                .expect("a closure computed without the cache never restarts"),
        };
        if let Some(k) = key {
            shared.store_closure_template(
                k,
                Template { closure: c.clone(), initial_diagnostics: input.diagnostics.len() },
            );
        }
        Ok(c)
    }

    /// `None`: restart without the cache.
    fn run_with(
        ctx: Context<'a>,
        shared: &'a GlibcShared,
        input: &Input,
        use_cache: bool,
    ) -> Result<Option<Closure>, Error> {
        let target = ctx.target;
        let sc = SCRATCH.with(|c| c.borrow_mut().take()).unwrap_or_default();
        let mut l = Loader {
            ctx,
            shared,
            target,
            maps: sc.maps,
            objects: sc.objects,
            edges: sc.edges,
            missing: Vec::new(),
            diagnostics: input.diagnostics.iter().map(|m| Diagnostic { object: None, message: m.clone() }).collect(),
            status: sc.status,
            errno: libc::ENOENT,
            weird: false,
            uncacheable: false,
            use_cache,
            used_cache: false,
            restart: false,
            ever_weird: false,
            used_preload_file: false,
            by_name: sc.by_name,
            by_soname: sc.by_soname,
            by_id: sc.by_id,
            queued: sc.queued,
            llp: None,
            rpath_cache: sc.rpath_cache,
            key: sc.key,
            dlopened: Vec::new(),
        };
        let info = input.facts.info()?;
        let linkage = match &info.dynamic {
            None => Linkage::Static,
            Some(d) if info.interp.is_none() && d.needed.is_empty() && d.filter.is_empty() => Linkage::StaticPie,
            Some(_) => Linkage::Dynamic,
        };
        // The executable: l_name "" and libname "" (it then matches an empty DT_NEEDED),
        // no file id (rtld.c leaves it zero).
        let file = Arc::new(object_file(input.location.clone(), &info, input.facts.mode, input.facts.size));
        l.objects.push(Object::new(Role::Input, None, file));
        // Under an explicit `ld.so FILE` (what ldd runs), the program is mapped by
        // _dl_map_object: its name is the path as given and its file id is registered.
        let explicit = ctx.settings.origin == crate::settings::OriginMode::AsGiven;
        let exe_name =
            if explicit { Bytes::from(input.location.path.as_os_str().as_bytes()) } else { Bytes::default() };
        l.push_map(
            Map {
                name: exe_name,
                soname_pending: info.dynamic.as_ref().and_then(|d| d.soname.clone()),
                file_id: explicit.then_some(input.facts.file_id),
                info: info.clone(),
                loader: None,
                origin: Some(input.origin.clone()),
                object: Some(0),
                lazy: None,
            },
            None,
        );
        let closure_base = |mut l: Loader<'_>, fatal: Option<LoadError>| {
            let c = Closure {
                loader_files: l.loader_files(),
                input: input.host_path.clone(),
                root: ctx.files.root.host_dir().to_path_buf(),
                libc: if linkage == Linkage::Static { Libc::None } else { target.libc },
                linkage,
                interpreter: info.interp.clone(),
                // Exact-size copies; the working vectors go back to the scratch.
                objects: l.objects.drain(..).collect(),
                edges: l.edges.drain(..).collect(),
                missing: std::mem::take(&mut l.missing),
                fatal,
                diagnostics: std::mem::take(&mut l.diagnostics),
                dlopened: std::mem::take(&mut l.dlopened),
            };
            l.recycle();
            c
        };
        if linkage == Linkage::Static {
            return Ok(Some(closure_base(l, None)));
        }

        // The interpreter (rtld map): names are the PT_INTERP string and its SONAME; it has
        // no registered file id (elf/rtld.c), so only names ever match it.
        if let Some(interp) = target.interp.clone() {
            l.add_rtld(&interp);
        }

        // LD_LIBRARY_PATH is ignored in secure mode (since 2.26); "" means unset.
        if let Some(llp) = &ctx.settings.ld_library_path {
            if !ctx.settings.secure && !llp.as_bytes().is_empty() {
                l.llp = Some(Rc::new(l.expand_path_list(0, llp.as_bytes(), b":;")));
            }
        }

        // Breadth-first: the queue is the executable, then preloads, then each new object.
        let mut queue: Vec<usize> = Vec::with_capacity(16);
        l.enqueue(&mut queue, 0);
        let preloads = l.preload_names();
        for name in preloads {
            let mapped = l.map_object(0, &name, true);
            if l.restart {
                return Ok(None);
            }
            match mapped {
                Ok(Mapped::Object(m, via)) => {
                    l.push_edge(0, &name, m, via);
                    l.enqueue(&mut queue, m);
                }
                Ok(_) => l.diag(None, format!("{name}: cannot be preloaded, ignored")),
                Err(f) => return Ok(Some(l.finish_fatal(0, &name, f, closure_base))),
            }
        }
        let mut qi = 0;
        // After start-up, each dlopen request in turn: `_dl_map_object` from the caller,
        // then the new object's dependencies breadth-first (dl-open.c dl_open_worker). A
        // failure there makes that dlopen return NULL; the program goes on.
        let mut next_dlopen = 0;
        loop {
            while qi < queue.len() {
                let m = queue[qi];
                qi += 1;
                let info = l.maps[m].info.clone();
                let Some(dynamic) = info.dynamic.as_ref() else { continue };
                // One loop over DT_NEEDED, DT_FILTER and DT_AUXILIARY in dynamic-section order, as
                // `_dl_map_object_deps` (elf/dl-deps.c) walks `l_ld`: the order decides which
                // object a name first loads and so which copy satisfies a later request.
                let entries = dynamic.dependencies().map(|(k, n)| (n, k != crate::elf::DependencyKind::Auxiliary));
                for (raw, required) in entries {
                    // dl-deps.c expand_dst(l, name, 0): a DST in a set-uid program is fatal; an
                    // expansion that comes out empty skips the entry silently.
                    let name = if dst_count(raw.as_bytes()) > 0 {
                        if ctx.settings.secure {
                            let f =
                                Fatal { path: raw.to_vec(), message: "DST not allowed in SUID/SGID programs".into() };
                            return Ok(Some(l.finish_fatal(m, raw, f, closure_base)));
                        }
                        match l.substitute(m, raw.as_bytes()) {
                            Some(n) if !n.is_empty() => Bytes::from(n),
                            _ => {
                                l.diag(
                                    Some(m),
                                    format!("{raw}: dynamic string token has no value here; entry skipped"),
                                );
                                continue;
                            }
                        }
                    } else {
                        raw.clone()
                    };
                    let mapped = l.map_object(m, &name, false);
                    if l.restart {
                        return Ok(None);
                    }
                    match mapped {
                        Ok(Mapped::Object(t, via)) => {
                            l.push_edge(m, raw, t, via);
                            l.enqueue(&mut queue, t);
                            if l.objects.len() > ctx.settings.limits.max_objects {
                                return Err(Error::new(
                                    ErrorKind::LimitExceeded,
                                    &input.host_path,
                                    format!("closure has more than {} objects", ctx.settings.limits.max_objects),
                                ));
                            }
                        }
                        Ok(Mapped::Vdso) => {
                            l.diag(Some(m), format!("{raw}: satisfied by the kernel's vDSO (no file)"));
                        }
                        Ok(Mapped::NotFound(tried)) => {
                            // In trace mode a missing DT_AUXILIARY gets a stub like a missing
                            // DT_NEEDED (`=> not found`); a real run goes on without it.
                            if !required {
                                l.diag(
                                    Some(m),
                                    format!("{raw}: auxiliary filter not found (a real run goes on without it)"),
                                );
                            }
                            if let Some(d) = l.dlopened.last_mut().filter(|_| next_dlopen > 0) {
                                if required {
                                    d.error.get_or_insert_with(|| {
                                        format!("{raw}: cannot open shared object file: No such file or directory")
                                    });
                                    d.tried.extend(tried);
                                }
                            } else {
                                l.missing.push(Missing { from: l.obj_of(m), name: raw.clone(), tried });
                            }
                        }
                        Err(f) => {
                            if !required {
                                l.diag(Some(m), format!("{raw}: auxiliary filter cannot be loaded: {}", f.message));
                                continue;
                            }
                            if let Some(d) = l.dlopened.last_mut().filter(|_| next_dlopen > 0) {
                                d.error.get_or_insert_with(|| format!("{}: {}", Bytes::from(f.path), f.message));
                                continue;
                            }
                            return Ok(Some(l.finish_fatal(m, raw, f, closure_base)));
                        }
                    }
                }
            }
            let Some(req) = input.dlopen.get(next_dlopen) else { break };
            next_dlopen += 1;
            let mut rec = Dlopened { request: req.clone(), to: None, via: None, tried: Vec::new(), error: None };
            let Some(m) = (0..l.maps.len()).find(|&m| l.maps[m].object == Some(req.from)) else {
                rec.error = Some(format!("no object {} in the closure", req.from));
                l.dlopened.push(rec);
                continue;
            };
            let mapped = l.map_object(m, &req.name, false);
            if l.restart {
                return Ok(None);
            }
            match mapped {
                Ok(Mapped::Object(t, via)) => {
                    l.push_edge(m, &req.name, t, via.clone());
                    rec.to = Some(l.materialise(t));
                    rec.via = Some(via);
                    l.enqueue(&mut queue, t);
                }
                Ok(Mapped::Vdso) => rec.error = Some("satisfied by the kernel's vDSO (no file)".into()),
                Ok(Mapped::NotFound(tried)) => {
                    rec.tried = tried;
                    rec.error =
                        Some(format!("{}: cannot open shared object file: No such file or directory", req.name));
                }
                Err(f) => rec.error = Some(format!("{}: {}", Bytes::from(f.path), f.message)),
            }
            l.dlopened.push(rec);
        }
        Ok(Some(closure_base(l, None)))
    }

    /// Hand the working buffers back to this thread's scratch, emptied.
    fn recycle(self) {
        let mut sc = Scratch {
            maps: self.maps,
            objects: self.objects,
            edges: self.edges,
            status: self.status,
            by_name: self.by_name,
            by_soname: self.by_soname,
            by_id: self.by_id,
            queued: self.queued,
            rpath_cache: self.rpath_cache,
            key: self.key,
        };
        sc.maps.clear();
        sc.objects.clear();
        sc.edges.clear();
        sc.status.clear();
        sc.by_name.clear();
        sc.by_soname.clear();
        sc.by_id.clear();
        sc.queued.clear();
        sc.rpath_cache.clear();
        SCRATCH.with(|c| *c.borrow_mut() = Some(sc));
    }

    /// See [`Closure::loader_files`].
    fn loader_files(&self) -> Vec<Location> {
        let needs_cache = self.edges.iter().any(|e| {
            e.via == FoundVia::LdCache && {
                let p = self.objects[e.to].file.location.path.as_os_str().as_bytes();
                let dir = p.iter().rposition(|&b| b == b'/').map_or(&p[..0], |s| &p[..s]);
                let base: &[u8] = match dir.iter().rposition(|&b| b == b'/') {
                    Some(s) if dir[..s].ends_with(b"/glibc-hwcaps") => &dir[..s - b"/glibc-hwcaps".len()],
                    _ => dir,
                };
                // Default directories end in '/'.
                !self.target.default_dirs.iter().any(|d| d.strip_suffix(b"/") == Some(base))
            }
        });
        let cache: Option<&[u8]> = match &self.ctx.settings.cache {
            crate::settings::CacheSource::Root => Some(b"/etc/ld.so.cache"),
            crate::settings::CacheSource::Path(p) => Some(p.as_os_str().as_bytes()),
            _ => None,
        };
        let mut files = Vec::new();
        if let (true, Some(c)) = (needs_cache, cache) {
            files.extend(self.ctx.files.walk_cached(c));
        }
        if self.used_preload_file {
            files.extend(self.ctx.files.walk_cached(b"/etc/ld.so.preload"));
        }
        files
    }

    fn finish_fatal<F>(mut self, m: usize, name: &[u8], f: Fatal, build: F) -> Closure
    where
        F: FnOnce(Loader<'_>, Option<LoadError>) -> Closure,
    {
        let from = self.obj_of(m);
        let err = LoadError {
            from,
            name: Bytes::from(name),
            path: PathBuf::from(OsStr::from_bytes(&f.path)),
            message: f.message,
        };
        self.diagnostics.shrink_to_fit();
        build(self, Some(err))
    }

    /// Append a map to the namespace list and index its names: `l_name` and the name it was
    /// requested under.
    fn push_map(&mut self, m: Map, libname: Option<&Bytes>) {
        let i = self.maps.len();
        if let Some(s) = &m.soname_pending {
            self.by_soname.entry(s.clone()).or_insert(i);
        }
        if let Some(id) = m.file_id {
            self.by_id.entry(id).or_insert(i);
        }
        let name = m.name.clone();
        self.maps.push(m);
        self.queued.push(false);
        self.register_name(i, &name);
        if let Some(n) = libname {
            self.register_name(i, n);
        }
    }

    fn register_name(&mut self, i: usize, name: &Bytes) {
        match self.by_name.get_mut(name.as_bytes()) {
            Some(e) => *e = (*e).min(i),
            None => {
                self.by_name.insert(name.clone(), i);
            }
        }
    }

    /// Queue map `m` for the breadth-first walk unless it already was.
    fn enqueue(&mut self, queue: &mut Vec<usize>, m: usize) {
        if !self.queued[m] {
            self.queued[m] = true;
            queue.push(m);
        }
    }

    fn obj_of(&self, m: usize) -> usize {
        self.maps[m].object.unwrap_or(0)
    }

    fn diag(&mut self, map: Option<usize>, message: String) {
        let object = map.and_then(|m| self.maps[m].object);
        self.diagnostics.push(Diagnostic { object, message });
    }

    fn push_edge(&mut self, from: usize, name: &Bytes, to: usize, via: FoundVia) {
        let from = self.obj_of(from);
        let to = self.materialise(to);
        self.edges.push(Edge { from, name: name.clone(), to, via });
    }

    /// Index in `objects` of map `m`, creating the lazy rtld object on first use.
    fn materialise(&mut self, m: usize) -> usize {
        if let Some(o) = self.maps[m].object {
            return o;
        }
        let obj = self.maps[m].lazy.take().map(|b| *b).unwrap_or_else(|| self.objects[0].clone());
        self.objects.push(obj);
        let o = self.objects.len() - 1;
        self.maps[m].object = Some(o);
        o
    }

    fn add_rtld(&mut self, interp: &Bytes) {
        let files = self.ctx.files;
        let path = self.absolute(interp.as_bytes());
        let located = path.as_ref().and_then(|p| files.locate_cached(p));
        let Some(located) = located else {
            if self.target.interp_from_input {
                self.missing.push(Missing {
                    from: 0,
                    name: interp.clone(),
                    tried: vec![Attempt {
                        path: PathBuf::from(OsStr::from_bytes(interp.as_bytes())),
                        via: FoundVia::Interpreter,
                        rejection: Rejection::NotFound,
                    }],
                });
            }
            return;
        };
        let (info, file) = match located.object_file() {
            Ok(x) => x,
            Err(e) => {
                self.diag(None, format!("interpreter {interp}: {}", e.message()));
                return;
            }
        };
        let obj = Object::new(Role::Interpreter, None, file);
        let soname = info.dynamic.as_ref().and_then(|d| d.soname.clone());
        let (object, lazy) = if self.target.interp_from_input {
            self.objects.push(obj);
            let o = self.objects.len() - 1;
            self.edges.push(Edge { from: 0, name: interp.clone(), to: o, via: FoundVia::Interpreter });
            (Some(o), None)
        } else {
            (None, Some(Box::new(obj)))
        };
        self.push_map(
            Map {
                name: interp.clone(),
                soname_pending: None,
                file_id: None,
                info,
                loader: None,
                origin: Some(path.as_deref().map(dirname_bytes)),
                object,
                lazy,
            },
            soname.as_ref(),
        );
    }

    /// LD_PRELOAD names (split on space and `:`), then the root's `/etc/ld.so.preload`.
    fn preload_names(&mut self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = Vec::new();
        for p in &self.ctx.settings.preload {
            for part in p.as_bytes().split(|&b| b == b' ' || b == b':') {
                if !part.is_empty() && (!self.ctx.settings.secure || !part.contains(&b'/')) {
                    out.push(Bytes::from(part));
                }
            }
        }
        if self.target.libc == Libc::Glibc {
            if let Some(text) = self.shared.preload_file(self.ctx.files) {
                for line in text.split(|&b| b == b'\n') {
                    let line = line.split(|&b| b == b'#').next().unwrap_or_default();
                    for part in line.split(|&b| b == b' ' || b == b'\t' || b == b':') {
                        if !part.is_empty() {
                            out.push(Bytes::from(part));
                            self.used_preload_file = true;
                        }
                    }
                }
            }
        }
        out
    }

    /// A path string made absolute against the modelled cwd (`None` when unknown).
    fn absolute(&self, p: &[u8]) -> Option<Vec<u8>> {
        if p.first() == Some(&b'/') {
            return Some(p.to_vec());
        }
        let cwd = self.ctx.settings.cwd.as_ref()?;
        Some(join_bytes(cwd.as_os_str().as_bytes(), p))
    }

    /// `l_origin` of map `m`.
    fn origin_of(&self, m: usize) -> Option<Vec<u8>> {
        match &self.maps[m].origin {
            Some(o) => o.clone(),
            None => self.absolute(self.maps[m].name.as_bytes()).map(|a| dirname_bytes(&a)),
        }
    }

    // ---------------------------------------------------------------------------------
    // DSTs (elf/dl-load.c is_dst, _dl_dst_substitute)
    // ---------------------------------------------------------------------------------

    /// Substitute DSTs in `s` for map `m`. `None` when a known token has no value (the
    /// whole string is discarded, as glibc does).
    fn substitute(&self, m: usize, s: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        let mut check_trusted = false;
        while i < s.len() {
            if s[i] != b'$' {
                out.push(s[i]);
                i += 1;
                continue;
            }
            let rest = &s[i + 1..];
            let (len, repl): (usize, Option<Vec<u8>>) = if let Some(n) = is_dst(rest, b"ORIGIN") {
                let secure_ok = !self.ctx.settings.secure || i == 0 || s[i - 1] == b':';
                check_trusted = self.ctx.settings.secure && m == 0;
                (n, if secure_ok { self.origin_of(m) } else { None })
            } else if let Some(n) = is_dst(rest, b"PLATFORM") {
                (n, self.target.platform.as_ref().map(|p| p.to_vec()))
            } else if let Some(n) = is_dst(rest, b"LIB") {
                (n, Some(self.target.lib.to_vec()))
            } else {
                (0, None)
            };
            if len == 0 {
                out.push(b'$');
                i += 1;
                continue;
            }
            match repl {
                Some(r) => {
                    out.extend_from_slice(&r);
                    i += 1 + len;
                }
                None => return None,
            }
        }
        if check_trusted && !self.is_trusted(&out) {
            return None;
        }
        Some(out)
    }

    /// `is_trusted_path_normalize`: the lexically normalised directory lies in a system dir.
    fn is_trusted(&self, p: &[u8]) -> bool {
        let mut parts: Vec<&[u8]> = Vec::new();
        for c in p.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut norm = Vec::new();
        for c in parts {
            norm.push(b'/');
            norm.extend_from_slice(c);
        }
        norm.push(b'/');
        self.target.system_dirs.iter().any(|d| norm.starts_with(d.as_bytes()))
    }

    /// `fillin_rpath`: split, expand each element, drop empty expansions, normalise trailing
    /// slashes, remove duplicates. A literally empty element stays "" (the cwd).
    fn expand_path_list(&self, m: usize, list: &[u8], seps: &[u8]) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for el in list.split(|b| seps.contains(b)) {
            let mut d = if el.is_empty() {
                Vec::new()
            } else {
                let expanded = if dst_count(el) > 0 {
                    match self.substitute(m, el) {
                        Some(e) => e,
                        None => continue,
                    }
                } else {
                    el.to_vec()
                };
                if expanded.is_empty() {
                    continue;
                }
                expanded
            };
            while d.len() > 1 && d.ends_with(b"/") {
                d.pop();
            }
            if !d.is_empty() && !d.ends_with(b"/") {
                d.push(b'/');
            }
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// `cache_rpath`: the expanded DT_RPATH (`runpath` false) or DT_RUNPATH of map `m`. An
    /// object with DT_RUNPATH has no DT_RPATH at all (get-dynamic-info.h).
    fn rpath_dirs(&mut self, m: usize, runpath: bool) -> Option<Dirs> {
        let d = self.maps[m].info.dynamic.as_ref()?;
        // Nothing to cache for the common object without either.
        if d.rpath.is_none() && d.runpath.is_none() {
            return None;
        }
        if let Some(v) = self.rpath_cache.get(&(m, runpath)) {
            return v.clone();
        }
        let s = if runpath {
            d.runpath.clone()
        } else if d.runpath.is_some() {
            None
        } else {
            d.rpath.clone()
        };
        let v = s.map(|s| Rc::new(self.expand_path_list(m, s.as_bytes(), b":")));
        self.rpath_cache.insert((m, runpath), v.clone());
        v
    }

    // ---------------------------------------------------------------------------------
    // _dl_map_object
    // ---------------------------------------------------------------------------------

    fn map_object(&mut self, req: usize, name: &Bytes, preload: bool) -> Result<Mapped, Fatal> {
        // 1. Already loaded: the first map, in list order, whose l_name or a l_libname is
        // the name, or else whose DT_SONAME is (then cached as an alias). Indexed, so that
        // long chains do not make this quadratic.
        let by_name = self.by_name.get(name.as_bytes()).copied();
        let by_soname = self.by_soname.get(name.as_bytes()).copied();
        match (by_name, by_soname) {
            (Some(i), s) if s.is_none_or(|s| i < s) => return Ok(Mapped::Object(i, FoundVia::AlreadyLoaded)),
            (_, Some(i)) => {
                self.maps[i].soname_pending = None;
                // The next map still waiting with this SONAME, if any, takes over.
                self.by_soname.remove(name.as_bytes());
                if let Some(j) = (i + 1..self.maps.len())
                    .find(|&j| self.maps[j].soname_pending.as_ref().is_some_and(|s| s.as_bytes() == name.as_bytes()))
                {
                    self.by_soname.insert(name.clone(), j);
                }
                self.register_name(i, name);
                if let Some(o) = self.maps[i].object {
                    let names = &mut self.objects[o].names;
                    if !names.iter().any(|n| n.as_bytes() == name.as_bytes()) {
                        names.push(name.clone());
                    }
                }
                return Ok(Mapped::Object(i, FoundVia::AlreadyLoaded));
            }
            _ => {}
        }
        if name.as_bytes() == self.target.vdso {
            return Ok(Mapped::Vdso);
        }

        let mut tried = Vec::new();
        let found: Option<(Arc<Candidate>, FoundVia)> = if !name.contains(&b'/') {
            self.search(req, name.as_bytes(), &mut tried)?
        } else {
            // expand_dynamic_string_token again, then open the path directly.
            let realname = if dst_count(name) > 0 { self.substitute(req, name) } else { Some(name.to_vec()) };
            match realname.filter(|r| !r.is_empty()) {
                None => None,
                Some(rn) => match self.probe(&rn)? {
                    Probe::Found(c) => Some((c, FoundVia::Path)),
                    Probe::Skip(r) => {
                        tried.push(attempt(&rn, FoundVia::Path, r));
                        None
                    }
                    Probe::Open(e) => {
                        tried.push(attempt(&rn, FoundVia::Path, rejection_of(e)));
                        None
                    }
                    Probe::Fatal(msg, detail) => return Err(fatal(&rn, msg, detail)),
                },
            }
        };
        let Some((cand, via)) = found else { return Ok(Mapped::NotFound(tried)) };

        // _dl_map_object_from_fd: same (dev, ino) as a loaded object => reuse it.
        let id = cand.facts.file_id;
        if let Some(&i) = self.by_id.get(&id) {
            self.register_name(i, name);
            if let Some(o) = self.maps[i].object {
                self.objects[o].names.push(name.clone());
            }
            return Ok(Mapped::Object(i, FoundVia::SameFile));
        }
        let info =
            cand.facts.info().map_err(|e| Fatal { path: cand.realname.to_vec(), message: e.message().into() })?;
        if info.e_type == goblin::elf::header::ET_EXEC {
            return Err(fatal(&cand.realname, "cannot dynamically load executable", None));
        }
        if info.is_pie() {
            return Err(fatal(&cand.realname, "cannot dynamically load position-independent executable", None));
        }
        if info.dynamic.is_none() {
            return Err(fatal(&cand.realname, "object file has no dynamic section", None));
        }

        // _dl_new_object: l_origin is the directory of the (absolute) path string, which
        // `origin_of` computes from l_name when a `$ORIGIN` asks for it.
        let file = match cand.file.get() {
            Some(f) => f.clone(),
            None => {
                let Some(abs) = self.absolute(&cand.realname) else {
                    return Err(fatal(&cand.realname, "relative path and no working directory", None));
                };
                let location = Location {
                    path: PathBuf::from(OsStr::from_bytes(&abs)),
                    realpath: cand.realpath.clone(),
                    hops: cand.hops.clone(),
                };
                let mut f = object_file(location, &info, cand.facts.mode, cand.facts.size);
                f.variants = self.shared.variants(self.ctx.files, &f.location);
                cand.file.get_or_init(|| Arc::new(f)).clone()
            }
        };
        // A preload is a library the loader was told to load (LD_PRELOAD, `--preload`,
        // `/etc/ld.so.preload`), not one something needs.
        let mut obj = Object::new(if preload { Role::Preload } else { Role::Library }, Some(id), file);
        obj.names = vec![name.clone()];
        obj.loaded_by = Some(self.obj_of(req));
        let soname = info.dynamic.as_ref().and_then(|d| d.soname.clone());
        self.objects.push(obj);
        let o = self.objects.len() - 1;
        self.push_map(
            Map {
                name: cand.realname.clone(),
                soname_pending: soname,
                file_id: Some(id),
                info,
                loader: Some(req),
                origin: None,
                object: Some(o),
                lazy: None,
            },
            Some(name),
        );
        Ok(Mapped::Object(self.maps.len() - 1, via))
    }

    /// The directory lists searched before the cache, in order (`_dl_map_object`, 2.36):
    /// the DT_RPATH of the requester and of each of its first loaders (unless the requester
    /// has DT_RUNPATH), the executable's if the chain missed it, `LD_LIBRARY_PATH`, the
    /// requester's DT_RUNPATH.
    fn stages(&mut self, req: usize) -> Vec<Stage> {
        let mut stages = Vec::new();
        let has_runpath = self.maps[req].info.dynamic.as_ref().is_some_and(|d| d.runpath.is_some());
        if !has_runpath {
            let mut did_main = false;
            let mut cur = Some(req);
            while let Some(i) = cur {
                if let Some(dirs) = self.rpath_dirs(i, false) {
                    stages.push((FoundVia::Rpath { owner: self.obj_of(i) }, dirs));
                    did_main |= i == 0;
                }
                cur = self.maps[i].loader;
            }
            if !did_main {
                if let Some(dirs) = self.rpath_dirs(0, false) {
                    stages.push((FoundVia::Rpath { owner: 0 }, dirs));
                }
            }
        }
        if let Some(dirs) = self.llp.clone() {
            stages.push((FoundVia::LdLibraryPath, dirs));
        }
        if has_runpath {
            if let Some(dirs) = self.rpath_dirs(req, true) {
                stages.push((FoundVia::Runpath, dirs));
            }
        }
        stages
    }

    /// The search for a name without a slash, then the cache and the default directories.
    ///
    /// The outcome is a function of the file system and the directory lists, except where
    /// an `open` fails with an errno other than ENOENT/EACCES (then glibc's per-directory
    /// status memory and `errno` decide whether the rest of a list is abandoned). Outcomes
    /// without such an errno are shared between closures through the resolver's cache.
    fn search(
        &mut self,
        req: usize,
        name: &[u8],
        tried: &mut Vec<Attempt>,
    ) -> Result<Option<(Arc<Candidate>, FoundVia)>, Fatal> {
        let stages = self.stages(req);
        let nodeflib = self.maps[req].info.flags_1() & elf::DF_1_NODEFLIB != 0;
        let via_of = |stage: usize, stages: &[Stage]| match stage {
            STAGE_CACHE => FoundVia::LdCache,
            STAGE_DEFAULT => FoundVia::DefaultDir,
            i => stages[i].0.clone(),
        };
        let clean_start = self.errno == libc::ENOENT || self.errno == libc::EACCES;
        let shareable = clean_start && self.use_cache && !self.ever_weird;
        if shareable {
            search_key(&mut self.key, self.target.id.0 as usize, name, &stages, nodeflib);
            if let Some(hit) = self.shared.cached_search(&self.key) {
                self.used_cache = true;
                // The attempts matter only for a miss (a found name reports none).
                if hit.found.is_none() {
                    tried.extend(hit.tried.iter().map(|(st, a)| Attempt { via: via_of(*st, &stages), ..a.clone() }));
                }
                return Ok(hit.found.as_ref().map(|(c, st)| (c.clone(), via_of(*st, &stages))));
            }
        }
        self.weird = false;
        self.uncacheable = false;
        let mut log: Vec<(usize, Attempt)> = Vec::new();
        let found = self.search_uncached(name, &stages, nodeflib, &mut log)?;
        if shareable && !self.weird && !self.uncacheable {
            let key: SearchKey = self.key.as_slice().into();
            self.shared.store_search(key, CachedSearch { found: found.clone(), tried: log.clone() });
        }
        tried.extend(log.into_iter().map(|(st, a)| Attempt { via: via_of(st, &stages), ..a }));
        Ok(found.map(|(c, st)| (c, via_of(st, &stages))))
    }

    fn search_uncached(
        &mut self,
        name: &[u8],
        stages: &[Stage],
        nodeflib: bool,
        log: &mut Vec<(usize, Attempt)>,
    ) -> Result<Option<(Arc<Candidate>, usize)>, Fatal> {
        for (i, (via, dirs)) in stages.iter().enumerate() {
            if let Some(c) = self.open_path(name, dirs, via.clone(), i, log)? {
                return Ok(Some((c, i)));
            }
        }
        let cached = match self.shared.cache_step(&self.ctx, name) {
            CacheStep::Hit(p) => Some(p),
            CacheStep::Miss(cache) => {
                // The lookup is a step of the search too (the loader's `_dl_load_cache_lookup`):
                // a miss names the cache it asked.
                log.push((STAGE_CACHE, attempt(&cache, FoundVia::LdCache, Rejection::NotInCache)));
                None
            }
            CacheStep::NoCache => None,
        };
        if let Some(cached) = cached {
            let rejected = nodeflib && self.target.system_dirs.iter().any(|d| cached.starts_with(d.as_bytes()));
            if rejected {
                log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, Rejection::NoDefaultLib)));
            } else {
                match self.probe(&cached)? {
                    Probe::Found(c) => return Ok(Some((c, STAGE_CACHE))),
                    Probe::Skip(r) => log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, r))),
                    Probe::Open(e) => {
                        self.note_errno(e);
                        log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, rejection_of(e))));
                    }
                    Probe::Fatal(msg, detail) => return Err(fatal(&cached, msg, detail)),
                }
            }
        }
        // assume_ldconfig: search the directories ldconfig would have cached (an emulation:
        // by file name rather than by DT_SONAME).
        if let Some(dirs) = self.shared.ldconfig_dirs(&self.ctx) {
            let dirs: Vec<Vec<u8>> = if nodeflib {
                dirs.into_iter()
                    .filter(|d| !self.target.system_dirs.iter().any(|s| d.starts_with(s.as_bytes())))
                    .collect()
            } else {
                dirs
            };
            if let Some(c) = self.open_path(name, &dirs, FoundVia::LdCache, STAGE_CACHE, log)? {
                return Ok(Some((c, STAGE_CACHE)));
            }
        }
        if !nodeflib {
            let dirs: Vec<Vec<u8>> = self.target.default_dirs.iter().map(|d| d.to_vec()).collect();
            if let Some(c) = self.open_path(name, &dirs, FoundVia::DefaultDir, STAGE_DEFAULT, log)? {
                return Ok(Some((c, STAGE_DEFAULT)));
            }
        }
        Ok(None)
    }

    /// Remember that an errno other than ENOENT/EACCES was seen (the search is then not
    /// shared, see [`Loader::search`]).
    fn note_errno(&mut self, e: Errno) {
        if e != libc::ENOENT && e != libc::EACCES {
            self.weird = true;
            self.ever_weird = true;
            self.restart |= self.used_cache;
        }
    }

    /// `open_path`: every directory, every probe suffix; the errno rules of 2.36.
    fn open_path(
        &mut self,
        name: &[u8],
        dirs: &[Vec<u8>],
        via: FoundVia,
        stage: usize,
        log: &mut Vec<(usize, Attempt)>,
    ) -> Result<Option<Arc<Candidate>>, Fatal> {
        let nsub = self.target.subdirs.len();
        for dir in dirs {
            let relative = dir.first() != Some(&b'/');
            let init = if relative { DirStatus::Existing } else { DirStatus::Unknown };
            let mut status = self.status.get(dir).cloned().unwrap_or_else(|| vec![init; nsub]);
            let mut here_any = false;
            let mut found = None;
            // Indexing, not iterating: `probe` needs `self` mutably inside the loop.
            #[allow(clippy::needless_range_loop)]
            for cnt in 0..nsub {
                if status[cnt] == DirStatus::Nonexisting {
                    // Known not to exist: glibc skips the open. The attempt is still listed
                    // for the bare directory, so that what a miss reports does not depend on
                    // which searches ran before.
                    if self.target.subdirs[cnt].is_empty() {
                        let mut buf = dir.clone();
                        buf.extend_from_slice(name);
                        log.push((stage, attempt(&buf, via.clone(), Rejection::NotFound)));
                    }
                    continue;
                }
                let sub = self.target.subdirs[cnt].to_vec();
                let mut buf = dir.clone();
                buf.extend_from_slice(&sub);
                let dirlen = buf.len();
                buf.extend_from_slice(name);
                let probe = self.probe(&buf)?;
                let ok = matches!(probe, Probe::Found(_));
                match probe {
                    Probe::Found(c) => found = Some(c),
                    Probe::Skip(r) => {
                        self.errno = libc::ENOENT;
                        log.push((stage, attempt(&buf, via.clone(), r)));
                    }
                    Probe::Open(e) => {
                        self.errno = e;
                        self.note_errno(e);
                        if sub.is_empty() || e != libc::ENOENT {
                            log.push((stage, attempt(&buf, via.clone(), rejection_of(e))));
                        }
                    }
                    Probe::Fatal(msg, detail) => return Err(fatal(&buf, msg, detail)),
                }
                if status[cnt] == DirStatus::Unknown {
                    status[cnt] = if ok {
                        DirStatus::Existing
                    } else {
                        // "Let's test whether there is any directory at all."
                        let d = &buf[..dirlen];
                        let d = if d.len() > 1 && d.ends_with(b"/") { &d[..d.len() - 1] } else { d };
                        match self.stat_is_dir(d) {
                            Ok(true) => DirStatus::Existing,
                            Ok(false) => DirStatus::Nonexisting,
                            Err(e) => {
                                self.errno = e;
                                self.note_errno(e);
                                DirStatus::Nonexisting
                            }
                        }
                    };
                }
                here_any |= status[cnt] != DirStatus::Nonexisting;
                if ok {
                    break;
                }
            }
            self.status.insert(dir.clone(), status);
            if let Some(c) = found {
                return Ok(Some(c));
            }
            if here_any && self.errno != libc::ENOENT && self.errno != libc::EACCES {
                // "The file exists and is readable, but something went wrong."
                return Ok(None);
            }
        }
        Ok(None)
    }

    fn stat_is_dir(&self, d: &[u8]) -> Result<bool, Errno> {
        let Some(abs) = self.absolute(if d.is_empty() { b"." } else { d }) else { return Err(libc::ENOENT) };
        self.ctx.files.root.is_dir(&abs)
    }

    /// `open_verify` on one path string (relative to the modelled cwd when not absolute).
    fn probe(&mut self, path: &[u8]) -> Result<Probe, Fatal> {
        let Some(abs) = self.absolute(path) else {
            // Depends on a setting rather than on the files: keep it out of the shared cache,
            // and say it once.
            self.uncacheable = true;
            let msg = format!("{}: relative path and no working directory configured", Bytes::from(path));
            if !self.diagnostics.iter().any(|d| d.message == msg) {
                self.diag(None, msg);
            }
            return Ok(Probe::Open(libc::ENOENT));
        };
        let (facts, walked) = match self.ctx.files.open_facts(&abs) {
            Ok(f) => f,
            Err(OpenFailure::Errno(e)) => return Ok(Probe::Open(e)),
            Err(OpenFailure::Fatal(msg, detail)) => return Ok(Probe::Fatal(msg, detail)),
            Err(OpenFailure::TooLarge) => {
                return Ok(Probe::Fatal("file larger than depclose's configured limit", None))
            }
        };
        Ok(match elf::verify_candidate(&facts.head, facts.size, &self.target.abi) {
            Verdict::Accept => Probe::Found(Arc::new(Candidate {
                realname: Bytes::from(path),
                facts,
                realpath: walked.realpath,
                hops: walked.hops,
                file: OnceLock::new(),
            })),
            Verdict::Skip(SkipReason::Class) => Probe::Skip(Rejection::WrongClass),
            Verdict::Skip(SkipReason::Machine) => Probe::Skip(Rejection::WrongMachine),
            Verdict::Fatal(msg) => Probe::Fatal(msg, None),
        })
    }
}

fn fatal(path: &[u8], msg: &'static str, detail: Option<String>) -> Fatal {
    Fatal {
        path: path.to_vec(),
        message: match detail {
            Some(d) => format!("{msg}: {d}"),
            None => msg.to_string(),
        },
    }
}

/// A computed closure kept as the pattern for every input with the same [`template_key`].
pub(crate) struct Template {
    closure: Closure,
    /// How many of its diagnostics came with the input (they are the input's own).
    initial_diagnostics: usize,
}

/// The key under which the closure of `input` may be shared with other inputs, `None` when
/// the input itself can steer the loading.
///
/// What the loader does after mapping the executable depends on the executable only
/// through its `DT_NEEDED` list, its `DT_SONAME` (a dependency may name it) and
/// `DF_1_NODEFLIB`, unless it has `DT_RPATH`/`DT_RUNPATH` (searched for its dependencies,
/// `$ORIGIN` relative to it), filters, a dynamic string token in a name, or is mapped by
/// explicit invocation (then its path and file identity are registered). Those inputs,
/// inputs without `PT_INTERP` and inputs outside the root are computed alone.
fn template_key(ctx: &Context<'_>, input: &Input, info: &ElfInfo) -> Option<Box<[u8]>> {
    let d = info.dynamic.as_ref()?;
    let explicit = ctx.settings.origin == crate::settings::OriginMode::AsGiven;
    if explicit
        || !input.dlopen.is_empty()
        || info.interp.is_none()
        || !ctx.target.interp_from_input
        || input.origin.is_none()
        || d.rpath.is_some()
        || d.runpath.is_some()
        || !d.filter.is_empty()
        || !d.auxiliary.is_empty()
        || d.needed.iter().any(|n| dst_count(n) > 0)
    {
        return None;
    }
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(&(u64::from(ctx.target.id.0)).to_le_bytes());
    k.push(u8::from(d.flags_1 & elf::DF_1_NODEFLIB != 0));
    k.extend_from_slice(&(input.diagnostics.len() as u64).to_le_bytes());
    match &d.soname {
        Some(s) => {
            k.push(1);
            k.extend_from_slice(&(s.len() as u64).to_le_bytes());
            k.extend_from_slice(s);
        }
        None => k.push(0),
    }
    for n in &d.needed {
        k.extend_from_slice(&(n.len() as u64).to_le_bytes());
        k.extend_from_slice(n);
    }
    Some(k.into_boxed_slice())
}

/// The closure of `input` from a template made for another input with the same key: the
/// input object and the input's own diagnostics are this input's, the rest is shared.
fn instantiate(t: &Template, input: &Input, info: &ElfInfo) -> Closure {
    let c = &t.closure;
    let mut objects = Vec::with_capacity(c.objects.len());
    let file = Arc::new(object_file(input.location.clone(), info, input.facts.mode, input.facts.size));
    let mut exe = Object::new(Role::Input, None, file);
    exe.names = c.objects[0].names.clone();
    objects.push(exe);
    objects.extend(c.objects[1..].iter().cloned());
    let mut diagnostics: Vec<Diagnostic> =
        input.diagnostics.iter().map(|m| Diagnostic { object: None, message: m.clone() }).collect();
    diagnostics.extend(c.diagnostics.iter().skip(t.initial_diagnostics).cloned());
    Closure {
        input: input.host_path.clone(),
        root: c.root.clone(),
        libc: c.libc,
        linkage: c.linkage,
        interpreter: c.interpreter.clone(),
        objects,
        edges: c.edges.clone(),
        missing: c.missing.clone(),
        fatal: c.fatal.clone(),
        diagnostics,
        loader_files: c.loader_files.clone(),
        dlopened: Vec::new(),
    }
}

/// Write the key of a shared search into `buf`: every part length-prefixed, so that two
/// different searches never give the same bytes.
fn search_key(buf: &mut Vec<u8>, target: usize, name: &[u8], stages: &[Stage], nodeflib: bool) {
    fn part(buf: &mut Vec<u8>, b: &[u8]) {
        buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
        buf.extend_from_slice(b);
    }
    buf.clear();
    buf.extend_from_slice(&(target as u64).to_le_bytes());
    buf.push(u8::from(nodeflib));
    part(buf, name);
    buf.extend_from_slice(&(stages.len() as u64).to_le_bytes());
    for (_, dirs) in stages {
        buf.extend_from_slice(&(dirs.len() as u64).to_le_bytes());
        for d in dirs.iter() {
            part(buf, d);
        }
    }
}

/// `is_dst`: length of the token (with braces) at the start of `s` (after the `$`).
fn is_dst(s: &[u8], tok: &[u8]) -> Option<usize> {
    let (curly, body) = match s.first() {
        Some(b'{') => (true, &s[1..]),
        _ => (false, s),
    };
    if !body.starts_with(tok) {
        return None;
    }
    let next = body.get(tok.len()).copied();
    if curly {
        (next == Some(b'}')).then_some(tok.len() + 2)
    } else if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
        None
    } else {
        Some(tok.len())
    }
}

/// `_dl_dst_count`: how many known tokens `s` holds.
pub(crate) fn dst_count(s: &[u8]) -> usize {
    // Names are short: a plain scan beats a vectorised search here.
    if !s.contains(&b'$') {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while let Some(p) = s[i..].iter().position(|&b| b == b'$') {
        let at = i + p + 1;
        let rest = &s[at..];
        if let Some(l) = is_dst(rest, b"ORIGIN").or_else(|| is_dst(rest, b"PLATFORM")).or_else(|| is_dst(rest, b"LIB"))
        {
            n += 1;
            i = at + l;
        } else {
            i = at;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_tokens() {
        assert_eq!(is_dst(b"ORIGIN/x", b"ORIGIN"), Some(6));
        assert_eq!(is_dst(b"{ORIGIN}/x", b"ORIGIN"), Some(8));
        assert_eq!(is_dst(b"ORIGINX", b"ORIGIN"), None);
        assert_eq!(is_dst(b"{ORIGIN", b"ORIGIN"), None);
        assert_eq!(dst_count(b"$ORIGIN$ORIGIN/$LIB/$FOO"), 3);
        assert_eq!(dst_count(b"$$"), 0);
    }
}
