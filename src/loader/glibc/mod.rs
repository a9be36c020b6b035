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
    Attempt, Closure, Diagnostic, DlopenRequest, Dlopened, Edge, FileId, FoundVia, Libc, Linkage, LoadError, Location,
    Missing, Object, ObjectFile, Rejection, Role,
};
use crate::root::{dirname_bytes, join_bytes, Errno};

mod namespace;
mod open;
mod paths;
mod search;
mod shared;
mod template;

use namespace::Map;
use open::{Candidate, DirStatus, Probe};
use paths::dst_count;
pub(crate) use search::{CachedSearch, SearchKey};
use template::{instantiate, template_key, Template};

pub(crate) use shared::{CacheStep, GlibcShared};

/// The glibc closure of `input` (see [`Loader::run`]).
pub(crate) fn run(ctx: &Context<'_>, shared: &GlibcShared, input: Input) -> Result<Closure, Error> {
    Loader::run(ctx, shared, input)
}
use crate::loader::target::Target;

/// An expanded directory list (`r_search_path_elem` entries, each ending in `/`).
type Dirs = Rc<Vec<Vec<u8>>>;
/// One list of directories searched before the cache, with the step it stands for.
type Stage = (FoundVia, Dirs);

enum Mapped {
    Object(usize, FoundVia),
    Vdso,
    NotFound(Vec<Attempt>),
}

/// What one map's dependencies gave ([`Loader::map_dependencies`]).
enum Step {
    Done,
    /// Restart without the shared searches.
    Restart,
    /// The loader stops on this entry.
    Fatal(Bytes, Fatal),
}

/// What the finished closure takes from its input.
struct End<'i> {
    input: &'i Input,
    info: Arc<ElfInfo>,
    linkage: Linkage,
}

struct Fatal {
    path: Vec<u8>,
    message: String,
}

/// The namespace list (`link_map`s in load order) and the indexes `_dl_map_object`'s
/// "already loaded" step uses.
#[derive(Default)]
struct Namespace {
    maps: Vec<Map>,
    /// First map (in list order) per `l_name` / `l_libname` entry.
    by_name: HashMap<Bytes, usize>,
    /// First map (in list order) whose DT_SONAME has not been matched yet, per SONAME.
    by_soname: HashMap<Bytes, usize>,
    /// First map (in list order) per file identity.
    by_id: HashMap<FileId, usize>,
    /// Maps already queued for the breadth-first walk.
    queued: Vec<bool>,
}

/// What the closure has found so far.
#[derive(Default)]
struct Results {
    objects: Vec<Object>,
    edges: Vec<Edge>,
    missing: Vec<Missing>,
    diagnostics: Vec<Diagnostic>,
    /// Outcomes of the input's dlopen requests, in order.
    dlopened: Vec<Dlopened>,
}

/// The modelled process's search memory (`errno`, per-directory status) and whether the
/// shared search outcomes may stand in for it.
struct SearchState {
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
}

/// Expanded search path lists.
#[derive(Default)]
struct PathLists {
    /// `LD_LIBRARY_PATH` directories, expanded once (`_dl_init_paths`).
    llp: Option<Dirs>,
    /// Expanded `DT_RPATH` / `DT_RUNPATH` lists per map (`l_rpath_dirs`, `l_runpath_dirs`).
    rpath_cache: HashMap<(usize, bool), Option<Dirs>>,
}

/// The loader's working tables, kept per thread between closures so that each closure
/// does not allocate them afresh.
#[derive(Default)]
struct Scratch {
    ns: Namespace,
    out: Results,
    status: HashMap<Vec<u8>, Vec<DirStatus>>,
    paths: PathLists,
    key: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

pub(crate) struct Loader<'a> {
    ctx: Context<'a>,
    shared: &'a GlibcShared,
    target: &'a Target,
    ns: Namespace,
    out: Results,
    search: SearchState,
    paths: PathLists,
    /// Set when `/etc/ld.so.preload` named something.
    used_preload_file: bool,
    /// Reused buffer for search keys.
    key: Vec<u8>,
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
        let mut l = Loader::new(ctx, shared, input, use_cache);
        let info = input.facts.info()?;
        let linkage = match &info.dynamic {
            None => Linkage::Static,
            Some(d) if info.interp.is_none() && d.needed.is_empty() && d.filter.is_empty() => Linkage::StaticPie,
            Some(_) => Linkage::Dynamic,
        };
        l.map_executable(input, &info);
        let end = End { input, info, linkage };
        if linkage == Linkage::Static {
            return Ok(Some(l.finish(&end, None)));
        }

        // The interpreter (rtld map): names are the PT_INTERP string and its SONAME; it has
        // no registered file id (elf/rtld.c), so only names ever match it.
        if let Some(interp) = ctx.target.interp.clone() {
            l.add_rtld(&interp);
        }

        // LD_LIBRARY_PATH is ignored in secure mode (since 2.26); "" means unset.
        if let Some(llp) = &ctx.settings.ld_library_path {
            if !ctx.settings.secure && !llp.as_bytes().is_empty() {
                l.paths.llp = Some(Rc::new(l.expand_path_list(0, llp.as_bytes(), b":;")));
            }
        }

        // Breadth-first: the queue is the executable, then preloads, then each new object.
        let mut queue: Vec<usize> = Vec::with_capacity(16);
        l.enqueue(&mut queue, 0);
        let preloads = l.preload_names();
        for name in preloads {
            let mapped = l.map_object(0, &name, true);
            if l.search.restart {
                return Ok(None);
            }
            match mapped {
                Ok(Mapped::Object(m, via)) => {
                    l.push_edge(0, &name, m, via);
                    l.enqueue(&mut queue, m);
                }
                Ok(_) => l.diag(None, format!("{name}: cannot be preloaded, ignored")),
                Err(f) => return Ok(Some(l.finish_fatal(0, &name, f, &end))),
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
                match l.map_dependencies(m, &mut queue, next_dlopen > 0, input)? {
                    Step::Done => {}
                    Step::Restart => return Ok(None),
                    Step::Fatal(raw, f) => return Ok(Some(l.finish_fatal(m, &raw, f, &end))),
                }
            }
            let Some(req) = input.dlopen.get(next_dlopen) else { break };
            next_dlopen += 1;
            if l.dlopen(req, &mut queue) {
                return Ok(None);
            }
        }
        Ok(Some(l.finish(&end, None)))
    }

    /// A loader for one closure of `input`, its tables taken from this thread's scratch.
    fn new(ctx: Context<'a>, shared: &'a GlibcShared, input: &Input, use_cache: bool) -> Self {
        let target = ctx.target;
        let sc = SCRATCH.with(|c| c.borrow_mut().take()).unwrap_or_default();
        let Scratch { ns, mut out, status, paths, key } = sc;
        out.diagnostics.extend(input.diagnostics.iter().map(|m| Diagnostic { object: None, message: m.clone() }));
        Loader {
            ctx,
            shared,
            target,
            ns,
            out,
            search: SearchState {
                status,
                errno: libc::ENOENT,
                weird: false,
                uncacheable: false,
                use_cache,
                used_cache: false,
                restart: false,
                ever_weird: false,
            },
            paths,
            used_preload_file: false,
            key,
        }
    }

    /// The executable's object and map (rtld.c `main_map`).
    fn map_executable(&mut self, input: &Input, info: &Arc<ElfInfo>) {
        // The executable: l_name "" and libname "" (it then matches an empty DT_NEEDED),
        // no file id (rtld.c leaves it zero).
        let file = Arc::new(object_file(input.location.clone(), info, input.facts.mode, input.facts.size));
        self.out.objects.push(Object::new(Role::Input, None, file));
        // Under an explicit `ld.so FILE` (what ldd runs), the program is mapped by
        // _dl_map_object: its name is the path as given and its file id is registered.
        let explicit = self.ctx.settings.origin == crate::settings::OriginMode::AsGiven;
        let exe_name =
            if explicit { Bytes::from(input.location.path.as_os_str().as_bytes()) } else { Bytes::default() };
        self.push_map(
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
    }

    /// `_dl_map_object_deps` for one map: its `DT_NEEDED`, `DT_FILTER` and `DT_AUXILIARY`
    /// entries in dynamic-section order, each mapped and queued. `in_dlopen`: the map was
    /// brought by a dlopen request (a failure fails that request, not the start-up).
    fn map_dependencies(
        &mut self,
        m: usize,
        queue: &mut Vec<usize>,
        in_dlopen: bool,
        input: &Input,
    ) -> Result<Step, Error> {
        let info = self.ns.maps[m].info.clone();
        let Some(dynamic) = info.dynamic.as_ref() else { return Ok(Step::Done) };
        // One loop over DT_NEEDED, DT_FILTER and DT_AUXILIARY in dynamic-section order, as
        // `_dl_map_object_deps` (elf/dl-deps.c) walks `l_ld`: the order decides which
        // object a name first loads and so which copy satisfies a later request.
        let entries = dynamic.dependencies().map(|(k, n)| (n, k != crate::elf::DependencyKind::Auxiliary));
        for (raw, required) in entries {
            // dl-deps.c expand_dst(l, name, 0): a DST in a set-uid program is fatal; an
            // expansion that comes out empty skips the entry silently.
            let name = if dst_count(raw.as_bytes()) > 0 {
                if self.ctx.settings.secure {
                    let f = Fatal { path: raw.to_vec(), message: "DST not allowed in SUID/SGID programs".into() };
                    return Ok(Step::Fatal(raw.clone(), f));
                }
                match self.substitute(m, raw.as_bytes()) {
                    Some(n) if !n.is_empty() => Bytes::from(n),
                    _ => {
                        self.diag(Some(m), format!("{raw}: dynamic string token has no value here; entry skipped"));
                        continue;
                    }
                }
            } else {
                raw.clone()
            };
            let mapped = self.map_object(m, &name, false);
            if self.search.restart {
                return Ok(Step::Restart);
            }
            match mapped {
                Ok(Mapped::Object(t, via)) => {
                    self.push_edge(m, raw, t, via);
                    self.enqueue(queue, t);
                    if self.out.objects.len() > self.ctx.settings.limits.max_objects {
                        return Err(Error::new(
                            ErrorKind::LimitExceeded,
                            &input.host_path,
                            format!("closure has more than {} objects", self.ctx.settings.limits.max_objects),
                        ));
                    }
                }
                Ok(Mapped::Vdso) => {
                    self.diag(Some(m), format!("{raw}: satisfied by the kernel's vDSO (no file)"));
                }
                Ok(Mapped::NotFound(tried)) => {
                    // In trace mode a missing DT_AUXILIARY gets a stub like a missing
                    // DT_NEEDED (`=> not found`); a real run goes on without it.
                    if !required {
                        self.diag(
                            Some(m),
                            format!("{raw}: auxiliary filter not found (a real run goes on without it)"),
                        );
                    }
                    if let Some(d) = self.out.dlopened.last_mut().filter(|_| in_dlopen) {
                        if required {
                            d.error.get_or_insert_with(|| {
                                format!("{raw}: cannot open shared object file: No such file or directory")
                            });
                            d.tried.extend(tried);
                        }
                    } else {
                        self.out.missing.push(Missing { from: self.obj_of(m), name: raw.clone(), tried });
                    }
                }
                Err(f) => {
                    if !required {
                        self.diag(Some(m), format!("{raw}: auxiliary filter cannot be loaded: {}", f.message));
                        continue;
                    }
                    if let Some(d) = self.out.dlopened.last_mut().filter(|_| in_dlopen) {
                        d.error.get_or_insert_with(|| format!("{}: {}", Bytes::from(f.path), f.message));
                        continue;
                    }
                    return Ok(Step::Fatal(raw.clone(), f));
                }
            }
        }
        Ok(Step::Done)
    }

    /// One dlopen request after start-up; true when the closure must restart without the
    /// shared searches.
    fn dlopen(&mut self, req: &DlopenRequest, queue: &mut Vec<usize>) -> bool {
        let mut rec = Dlopened { request: req.clone(), to: None, via: None, tried: Vec::new(), error: None };
        let Some(m) = (0..self.ns.maps.len()).find(|&m| self.ns.maps[m].object == Some(req.from)) else {
            rec.error = Some(format!("no object {} in the closure", req.from));
            self.out.dlopened.push(rec);
            return false;
        };
        let mapped = self.map_object(m, &req.name, false);
        if self.search.restart {
            return true;
        }
        match mapped {
            Ok(Mapped::Object(t, via)) => {
                self.push_edge(m, &req.name, t, via.clone());
                rec.to = Some(self.materialise(t));
                rec.via = Some(via);
                self.enqueue(queue, t);
            }
            Ok(Mapped::Vdso) => rec.error = Some("satisfied by the kernel's vDSO (no file)".into()),
            Ok(Mapped::NotFound(tried)) => {
                rec.tried = tried;
                rec.error = Some(format!("{}: cannot open shared object file: No such file or directory", req.name));
            }
            Err(f) => rec.error = Some(format!("{}: {}", Bytes::from(f.path), f.message)),
        }
        self.out.dlopened.push(rec);
        false
    }

    /// The closure, the working tables handed back to the scratch.
    fn finish(mut self, end: &End<'_>, fatal: Option<LoadError>) -> Closure {
        let c = Closure {
            loader_files: self.loader_files(),
            input: end.input.host_path.clone(),
            root: self.ctx.files.root.host_dir().to_path_buf(),
            libc: if end.linkage == Linkage::Static { Libc::None } else { self.target.libc },
            linkage: end.linkage,
            interpreter: end.info.interp.clone(),
            // Exact-size copies; the working vectors go back to the scratch.
            objects: self.out.objects.drain(..).collect(),
            edges: self.out.edges.drain(..).collect(),
            missing: std::mem::take(&mut self.out.missing),
            fatal,
            diagnostics: std::mem::take(&mut self.out.diagnostics),
            dlopened: std::mem::take(&mut self.out.dlopened),
        };
        self.recycle();
        c
    }

    /// Hand the working buffers back to this thread's scratch, emptied.
    fn recycle(self) {
        let Loader { mut ns, mut out, mut search, mut paths, key, .. } = self;
        ns.maps.clear();
        ns.by_name.clear();
        ns.by_soname.clear();
        ns.by_id.clear();
        ns.queued.clear();
        out.objects.clear();
        out.edges.clear();
        out.missing.clear();
        out.diagnostics.clear();
        out.dlopened.clear();
        search.status.clear();
        paths.llp = None;
        paths.rpath_cache.clear();
        SCRATCH.with(|c| *c.borrow_mut() = Some(Scratch { ns, out, status: search.status, paths, key }));
    }

    /// See [`Closure::loader_files`].
    fn loader_files(&self) -> Vec<Location> {
        let needs_cache = self.out.edges.iter().any(|e| {
            e.via == FoundVia::LdCache && {
                let p = self.out.objects[e.to].file.location.path.as_os_str().as_bytes();
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

    fn finish_fatal(mut self, m: usize, name: &[u8], f: Fatal, end: &End<'_>) -> Closure {
        let from = self.obj_of(m);
        let err = LoadError {
            from,
            name: Bytes::from(name),
            path: PathBuf::from(OsStr::from_bytes(&f.path)),
            message: f.message,
        };
        self.out.diagnostics.shrink_to_fit();
        self.finish(end, Some(err))
    }

    fn diag(&mut self, map: Option<usize>, message: String) {
        let object = map.and_then(|m| self.ns.maps[m].object);
        self.out.diagnostics.push(Diagnostic { object, message });
    }

    fn push_edge(&mut self, from: usize, name: &Bytes, to: usize, via: FoundVia) {
        let from = self.obj_of(from);
        let to = self.materialise(to);
        self.out.edges.push(Edge { from, name: name.clone(), to, via });
    }

    // ---------------------------------------------------------------------------------
    // DSTs (elf/dl-load.c is_dst, _dl_dst_substitute)
    // ---------------------------------------------------------------------------------

    // ---------------------------------------------------------------------------------
    // _dl_map_object
    // ---------------------------------------------------------------------------------

    fn map_object(&mut self, req: usize, name: &Bytes, preload: bool) -> Result<Mapped, Fatal> {
        // 1. Already loaded: the first map, in list order, whose l_name or a l_libname is
        // the name, or else whose DT_SONAME is (then cached as an alias). Indexed, so that
        // long chains do not make this quadratic.
        let by_name = self.ns.by_name.get(name.as_bytes()).copied();
        let by_soname = self.ns.by_soname.get(name.as_bytes()).copied();
        match (by_name, by_soname) {
            (Some(i), s) if s.is_none_or(|s| i < s) => return Ok(Mapped::Object(i, FoundVia::AlreadyLoaded)),
            (_, Some(i)) => {
                self.ns.maps[i].soname_pending = None;
                // The next map still waiting with this SONAME, if any, takes over.
                self.ns.by_soname.remove(name.as_bytes());
                if let Some(j) = (i + 1..self.ns.maps.len())
                    .find(|&j| self.ns.maps[j].soname_pending.as_ref().is_some_and(|s| s.as_bytes() == name.as_bytes()))
                {
                    self.ns.by_soname.insert(name.clone(), j);
                }
                self.register_name(i, name);
                if let Some(o) = self.ns.maps[i].object {
                    let names = &mut self.out.objects[o].names;
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
        if let Some(&i) = self.ns.by_id.get(&id) {
            self.register_name(i, name);
            if let Some(o) = self.ns.maps[i].object {
                self.out.objects[o].names.push(name.clone());
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
        self.out.objects.push(obj);
        let o = self.out.objects.len() - 1;
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
        Ok(Mapped::Object(self.ns.maps.len() - 1, via))
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
