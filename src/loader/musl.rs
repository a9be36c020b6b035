//! The musl loader model (`ldso/dynlink.c`: `load_library`, `path_open`, `fixup_rpath`,
//! `load_deps`), as summarised in `ldso-spec.md` section 7.
//!
//! Differences from glibc that matter here: `LD_LIBRARY_PATH` comes first; one path string
//! per object (`DT_RUNPATH`, else `DT_RPATH`), inherited along the first-loader chain; only
//! `$ORIGIN` (any other `$` disables the object's whole path string); the system path comes
//! from `<prefix>/etc/ld-musl-<arch>.path`; `libc.*`, `libpthread.*`, … and the loader's own
//! name resolve to the loader; already-loaded objects match by the basename a search found
//! them under (never by `DT_SONAME`); the first file that opens is used, with no class or
//! machine check, so a wrong file is a load failure rather than a reason to keep searching.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::bytes::Bytes;
use crate::elf::{self, Verdict};
use crate::error::{Error, ErrorKind};
use crate::files::object_file;
use crate::loader::target::Target;
use crate::loader::{attempt, rejection_of, Context, Input};
use crate::model::{
    Attempt, Closure, Diagnostic, Dlopened, Edge, FileId, FoundVia, Libc, Linkage, Missing, Object, Rejection, Role,
};
use crate::root::{join_bytes, Errno, Opened};

const RESERVED: &[&[u8]] = &[b"c.", b"pthread.", b"rt.", b"m.", b"dl.", b"util.", b"xnet."];
const DEFAULT_SYS_PATH: &[u8] = b"/lib:/usr/local/lib:/usr/lib";
/// `char buf[2*NAME_MAX+2]` in `load_library`.
const BUF_SIZE: usize = 2 * 255 + 2;

struct Dso {
    /// Index in `Closure::objects`.
    object: usize,
    /// `shortname`: basename of the path a search found it at.
    shortname: Option<Vec<u8>>,
    /// `name`: the path string it was opened under.
    name: Vec<u8>,
    file_id: Option<FileId>,
    needed: Vec<Bytes>,
    /// `rpath_orig`: DT_RUNPATH if present, else DT_RPATH.
    rpath_orig: Option<Vec<u8>>,
    needed_by: Option<usize>,
    /// For the input under a real exec, `$ORIGIN` is the canonical directory.
    origin_override: Option<Vec<u8>>,
}

enum Found {
    Dso(usize, FoundVia),
    Failed(Vec<Attempt>),
}

pub(crate) fn run(ctx: &Context<'_>, input: Input) -> Result<Closure, Error> {
    let target = ctx.target;
    let info = input.facts.info()?;
    let linkage = match &info.dynamic {
        None => Linkage::Static,
        Some(d) if info.interp.is_none() && d.needed.is_empty() => Linkage::StaticPie,
        Some(_) => Linkage::Dynamic,
    };
    let mut m = Musl {
        ctx: *ctx,
        target,
        dsos: Vec::new(),
        objects: Vec::new(),
        edges: Vec::new(),
        missing: Vec::new(),
        dlopened: Vec::new(),
        diagnostics: input.diagnostics.iter().map(|d| Diagnostic { object: None, message: d.clone() }).collect(),
        ldso: None,
        sys_path: None,
        path_file: None,
    };
    let file = object_file(input.location.clone(), &info, input.facts.mode, input.facts.size);
    m.objects.push(Object::new(Role::Input, None, Arc::new(file)));
    let d = info.dynamic.clone().unwrap_or_default();
    m.dsos.push(Dso {
        object: 0,
        shortname: None,
        name: input.location.path.as_os_str().as_bytes().to_vec(),
        file_id: None,
        needed: d.needed.clone(),
        rpath_orig: d.runpath.clone().or(d.rpath.clone()).map(|b| b.to_vec()),
        needed_by: None,
        origin_override: input.origin.clone(),
    });
    if linkage != Linkage::Static {
        m.add_ldso();
        for p in ctx.settings.preload.clone() {
            for part in p.as_bytes().split(|&b| b.is_ascii_whitespace() || b == b':') {
                if part.is_empty() {
                    continue;
                }
                let before = m.objects.len();
                match m.load_library(part, None)? {
                    // A preload newly loaded is a preload, not a library something needs.
                    Found::Dso(..) if m.objects.len() > before => m.objects[before].role = Role::Preload,
                    Found::Dso(..) => {}
                    Found::Failed(_) => m.diag(format!("{}: cannot be preloaded", Bytes::from(part))),
                }
            }
        }
        // load_deps: walk the list; new objects are appended, so the order is breadth-first.
        // Then each dlopen request: musl's dlopen searches as for the main program
        // (`load_library(file, head)`), then loads the new object's dependencies.
        let mut i = 0;
        let mut next_dlopen = 0;
        loop {
            while i < m.dsos.len() {
                let needed = m.dsos[i].needed.clone();
                for n in needed {
                    match m.load_library(n.as_bytes(), Some(i))? {
                        Found::Dso(t, via) => {
                            let to = m.dsos[t].object;
                            m.edges.push(Edge { from: m.dsos[i].object, name: n.clone(), to, via });
                        }
                        Found::Failed(tried) if next_dlopen > 0 => {
                            if let Some(d) = m.dlopened.last_mut() {
                                d.error.get_or_insert_with(|| {
                                    format!("Error loading shared library {n}: No such file or directory")
                                });
                                d.tried.extend(tried);
                            }
                        }
                        Found::Failed(tried) => m.missing.push(Missing { from: m.dsos[i].object, name: n, tried }),
                    }
                    if m.objects.len() > ctx.settings.limits.max_objects {
                        return Err(Error::new(
                            ErrorKind::LimitExceeded,
                            &input.host_path,
                            format!("closure has more than {} objects", ctx.settings.limits.max_objects),
                        ));
                    }
                }
                i += 1;
            }
            let Some(req) = input.dlopen.get(next_dlopen) else { break };
            next_dlopen += 1;
            let mut rec = Dlopened { request: req.clone(), to: None, via: None, tried: Vec::new(), error: None };
            match m.load_library(req.name.as_bytes(), Some(0))? {
                Found::Dso(t, via) => {
                    let to = m.dsos[t].object;
                    m.edges.push(Edge { from: req.from, name: req.name.clone(), to, via: via.clone() });
                    rec.to = Some(to);
                    rec.via = Some(via);
                }
                Found::Failed(tried) => {
                    rec.tried = tried;
                    rec.error = Some(format!("Error loading shared library {}: No such file or directory", req.name));
                }
            }
            m.dlopened.push(rec);
        }
    }
    Ok(Closure {
        input: input.host_path.clone(),
        root: ctx.files.root.host_dir().to_path_buf(),
        libc: if linkage == Linkage::Static { Libc::None } else { Libc::Musl },
        linkage,
        interpreter: info.interp.clone(),
        objects: m.objects,
        edges: m.edges,
        missing: m.missing,
        fatal: None,
        loader_files: m.path_file.into_iter().collect(),
        diagnostics: m.diagnostics,
        dlopened: m.dlopened,
    })
}

struct Musl<'a> {
    ctx: Context<'a>,
    target: &'a Target,
    dsos: Vec<Dso>,
    objects: Vec<Object>,
    edges: Vec<Edge>,
    missing: Vec<Missing>,
    diagnostics: Vec<Diagnostic>,
    dlopened: Vec<Dlopened>,
    /// Index in `dsos` of the loader (`ldso`), once it is in the list.
    ldso: Option<usize>,
    sys_path: Option<Vec<u8>>,
    /// The system path file, once a library was found through it.
    path_file: Option<crate::model::Location>,
}

impl Musl<'_> {
    fn diag(&mut self, message: String) {
        self.diagnostics.push(Diagnostic { object: None, message });
    }

    fn interp(&self) -> Vec<u8> {
        self.target.interp.as_ref().map(|b| b.to_vec()).unwrap_or_default()
    }

    /// The loader is always mapped; it enters the object list at once (as the interpreter).
    fn add_ldso(&mut self) {
        let interp = self.interp();
        if interp.is_empty() {
            return;
        }
        let abs = self.absolute(&interp);
        match abs.as_deref().and_then(|a| self.ctx.files.locate_cached(a)) {
            Some(located) => {
                let facts = located.facts.clone();
                let file = match located.object_file() {
                    Ok((_, f)) => f,
                    Err(e) => {
                        self.diag(format!("interpreter: {e}"));
                        return;
                    }
                };
                let mut obj = Object::new(Role::Interpreter, None, file);
                obj.names.push(Bytes::from(interp.clone()));
                self.objects.push(obj);
                let o = self.objects.len() - 1;
                self.edges.push(Edge { from: 0, name: Bytes::from(interp.clone()), to: o, via: FoundVia::Interpreter });
                self.dsos.push(Dso {
                    object: o,
                    shortname: None,
                    name: interp,
                    file_id: Some(facts.file_id),
                    needed: Vec::new(),
                    rpath_orig: None,
                    needed_by: None,
                    origin_override: None,
                });
                self.ldso = Some(self.dsos.len() - 1);
            }
            _ => self.missing.push(Missing {
                from: 0,
                name: Bytes::from(interp.clone()),
                tried: vec![Attempt {
                    path: PathBuf::from(OsStr::from_bytes(&interp)),
                    via: FoundVia::Interpreter,
                    rejection: Rejection::NotFound,
                }],
            }),
        }
    }

    fn absolute(&self, p: &[u8]) -> Option<Vec<u8>> {
        if p.first() == Some(&b'/') {
            return Some(p.to_vec());
        }
        let cwd = self.ctx.settings.cwd.as_ref()?;
        Some(join_bytes(cwd.as_os_str().as_bytes(), p))
    }

    fn load_library(&mut self, name: &[u8], needed_by: Option<usize>) -> Result<Found, Error> {
        if name.is_empty() {
            return Ok(Found::Failed(vec![attempt(name, FoundVia::Path, Rejection::OpenError(libc::EINVAL))]));
        }
        let is_self = (name.starts_with(b"lib") && RESERVED.iter().any(|r| name[3..].starts_with(r)))
            || name == self.interp().as_slice();
        if is_self {
            return Ok(match self.ldso {
                Some(l) => Found::Dso(l, FoundVia::MuslReserved),
                None => Found::Failed(Vec::new()),
            });
        }
        let mut tried = Vec::new();
        let (opened, via, searched) = if name.contains(&b'/') {
            match self.open(name) {
                Ok(o) => (Some((name.to_vec(), o)), FoundVia::Path, false),
                Err(e) => {
                    tried.push(attempt(name, FoundVia::Path, rejection_of(e)));
                    (None, FoundVia::Path, false)
                }
            }
        } else {
            if let Some(o) = self.dsos.iter().skip(1).position(|d| d.shortname.as_deref() == Some(name)) {
                return Ok(Found::Dso(o + 1, FoundVia::AlreadyLoaded));
            }
            if name.len() > 255 {
                return Ok(Found::Failed(vec![attempt(
                    name,
                    FoundVia::Path,
                    Rejection::OpenError(libc::ENAMETOOLONG),
                )]));
            }
            let mut r = PathOpen::NotFound;
            if let Some(llp) = self.ctx.settings.ld_library_path.clone().filter(|_| !self.ctx.settings.secure) {
                r = self.path_open(name, llp.as_bytes(), FoundVia::LdLibraryPath, &mut tried);
            }
            let mut via = FoundVia::LdLibraryPath;
            let mut p = needed_by;
            while let (PathOpen::NotFound, Some(i)) = (&r, p) {
                if let Some(rp) = self.fixup_rpath(i) {
                    via = FoundVia::Rpath { owner: self.dsos[i].object };
                    r = self.path_open(name, &rp, via.clone(), &mut tried);
                }
                p = self.dsos[i].needed_by;
            }
            if let PathOpen::NotFound = r {
                let sys = self.sys_path();
                via = FoundVia::MuslSystemPath;
                r = self.path_open(name, &sys, FoundVia::MuslSystemPath, &mut tried);
                if matches!(r, PathOpen::Opened(..)) && self.path_file.is_none() {
                    let file = self.path_file_name();
                    if let Ok(w) = self.ctx.files.root.walk(&file, true) {
                        self.path_file = Some(crate::model::Location {
                            path: PathBuf::from(OsStr::from_bytes(&file)),
                            realpath: w.realpath,
                            hops: w.hops,
                        });
                    }
                }
            }
            match r {
                PathOpen::Opened(path, o) => (Some((path, o)), via, true),
                _ => (None, via, true),
            }
        };
        let Some((path, walked_id)) = opened else { return Ok(Found::Failed(tried)) };
        let (file_id, abs) = walked_id;
        // Same (dev, ino) as a loaded object: reuse it (and give it a shortname).
        if let Some(i) = self.dsos.iter().position(|d| d.file_id == Some(file_id)) {
            if self.dsos[i].shortname.is_none() && searched {
                self.dsos[i].shortname = basename(&self.dsos[i].name).map(|b| b.to_vec());
            }
            return Ok(Found::Dso(i, FoundVia::SameFile));
        }
        // map_library: no class or machine check; a file that cannot be mapped is an error.
        let facts = match self.ctx.files.open_facts(&abs) {
            Ok((f, _)) => f,
            Err(_) => {
                tried.push(attempt(&path, via, Rejection::OpenError(libc::ENOEXEC)));
                return Ok(Found::Failed(tried));
            }
        };
        let abi = self.target.abi;
        match elf::verify_candidate(&facts.head, facts.size, &abi) {
            Verdict::Accept => {}
            Verdict::Skip(elf::SkipReason::Class) => {
                tried.push(attempt(&path, via, Rejection::WrongClass));
                return Ok(Found::Failed(tried));
            }
            // No machine check in musl's map_library: the file is mapped (and fails later,
            // at relocation or when run).
            Verdict::Skip(elf::SkipReason::Machine) => {
                self.diag(format!(
                    "{}: e_machine {} differs from the program's; musl loads it anyway",
                    Bytes::from(path.clone()),
                    facts.head.get(18).copied().unwrap_or(0)
                ));
            }
            Verdict::Fatal(_) => {
                tried.push(attempt(&path, via, Rejection::OpenError(libc::ENOEXEC)));
                return Ok(Found::Failed(tried));
            }
        }
        let info = match facts.info() {
            Ok(i) => i,
            Err(_) => {
                tried.push(attempt(&path, via, Rejection::OpenError(libc::ENOEXEC)));
                return Ok(Found::Failed(tried));
            }
        };
        // "Avoid the danger of getting two versions of libc mapped into the same process":
        // a library defining both __libc_start_main and stdin is replaced by the loader.
        if let Ok(data) = self.ctx.files.root.read(&abs, self.ctx.settings.limits.max_file_bytes) {
            if elf::defines_all(&data, &[b"__libc_start_main", b"stdin"]) {
                self.diag(format!("{}: a C library; musl uses itself instead", Bytes::from(path.clone())));
                return self.load_library(b"libc.so", needed_by);
            }
        }
        let loc = match self.ctx.files.root.walk(&abs, true) {
            Ok(w) => crate::model::Location {
                path: PathBuf::from(OsStr::from_bytes(&abs)),
                realpath: w.realpath,
                hops: w.hops,
            },
            Err(e) => {
                tried.push(attempt(&path, via, rejection_of(e)));
                return Ok(Found::Failed(tried));
            }
        };
        let mut obj =
            Object::new(Role::Library, Some(file_id), Arc::new(object_file(loc, &info, facts.mode, facts.size)));
        obj.names.push(Bytes::from(name));
        obj.loaded_by = needed_by.map(|i| self.dsos[i].object);
        self.objects.push(obj);
        let d = info.dynamic.clone().unwrap_or_default();
        self.dsos.push(Dso {
            object: self.objects.len() - 1,
            shortname: if searched { basename(&path).map(|b| b.to_vec()) } else { None },
            name: path,
            file_id: Some(file_id),
            needed: d.needed.clone(),
            rpath_orig: d.runpath.clone().or(d.rpath.clone()).map(|b| b.to_vec()),
            needed_by,
            origin_override: None,
        });
        Ok(Found::Dso(self.dsos.len() - 1, via))
    }

    /// `open(2)` inside the root: the file identity and absolute path, or the errno.
    fn open(&mut self, path: &[u8]) -> Result<(FileId, Vec<u8>), Errno> {
        let abs = self.absolute(path).ok_or(libc::ENOENT)?;
        match self.ctx.files.root.open(&abs)? {
            Opened::File(w, _) | Opened::Directory(w) | Opened::Special(w) => Ok((w.file_id(), abs)),
        }
    }

    /// `path_open`: split on `:` and newline, skip empty elements, `<elem>/<name>`.
    fn path_open(&mut self, name: &[u8], s: &[u8], via: FoundVia, tried: &mut Vec<Attempt>) -> PathOpen {
        for el in s.split(|&b| b == b':' || b == b'\n') {
            if el.is_empty() {
                continue;
            }
            let mut buf = el.to_vec();
            buf.push(b'/');
            buf.extend_from_slice(name);
            if buf.len() >= BUF_SIZE {
                continue;
            }
            match self.open(&buf) {
                Ok(o) => return PathOpen::Opened(buf, o),
                Err(e @ (libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::ENAMETOOLONG)) => {
                    tried.push(attempt(&buf, via.clone(), rejection_of(e)));
                }
                Err(e) => {
                    tried.push(attempt(&buf, via.clone(), rejection_of(e)));
                    return PathOpen::Inhibit;
                }
            }
        }
        PathOpen::NotFound
    }

    /// `fixup_rpath`: the object's path string with `$ORIGIN` expanded; `None` when it has
    /// none or it holds any other `$`.
    fn fixup_rpath(&self, i: usize) -> Option<Vec<u8>> {
        let d = &self.dsos[i];
        let orig = d.rpath_orig.as_ref()?;
        if !orig.contains(&b'$') {
            return Some(orig.clone());
        }
        let mut k = 0;
        while let Some(p) = orig[k..].iter().position(|&b| b == b'$') {
            let t = &orig[k + p..];
            if !t.starts_with(b"$ORIGIN") && !t.starts_with(b"${ORIGIN}") {
                return None;
            }
            k += p + 1;
        }
        let origin: Vec<u8> = match &d.origin_override {
            Some(o) if d.object == 0 && !self.ctx.settings.secure => o.clone(),
            _ if d.object == 0 && self.ctx.settings.secure => return None,
            _ => match d.name.iter().rposition(|&b| b == b'/') {
                Some(0) => Vec::new(),
                Some(p) => d.name[..p].to_vec(),
                None => b".".to_vec(),
            },
        };
        let mut out = Vec::new();
        let mut s = &orig[..];
        while let Some(p) = s.iter().position(|&b| b == b'$') {
            out.extend_from_slice(&s[..p]);
            out.extend_from_slice(&origin);
            let skip = if s.get(p + 1) == Some(&b'{') { 9 } else { 7 };
            s = &s[p + skip..];
        }
        out.extend_from_slice(s);
        Some(out)
    }

    /// `<prefix>/etc/ld-musl-<arch>.path`, where the prefix is the loader's name without its
    /// last two components.
    fn path_file_name(&self) -> Vec<u8> {
        let name = self.interp();
        let base = basename(&name).unwrap_or(&name);
        let arch = base.strip_prefix(b"ld-musl-").and_then(|r| r.strip_suffix(b".so.1")).unwrap_or(b"");
        let prefix: &[u8] = if name.first() == Some(&b'/') {
            let slashes: Vec<usize> = name.iter().enumerate().filter(|(_, &b)| b == b'/').map(|(i, _)| i).collect();
            let z = if slashes.len() >= 2 { slashes[slashes.len() - 2] } else { 0 };
            &name[..z]
        } else {
            b""
        };
        let mut file = prefix.to_vec();
        file.extend_from_slice(b"/etc/ld-musl-");
        file.extend_from_slice(arch);
        file.extend_from_slice(b".path");
        file
    }

    /// The system path from [`Musl::path_file_name`], or the default when it is absent.
    fn sys_path(&mut self) -> Vec<u8> {
        if let Some(s) = &self.sys_path {
            return s.clone();
        }
        let file = self.path_file_name();
        let s = match self.ctx.files.root.read(&file, 1 << 20) {
            Ok(text) => text,
            Err(libc::ENOENT) => DEFAULT_SYS_PATH.to_vec(),
            Err(_) => Vec::new(),
        };
        self.sys_path = Some(s.clone());
        s
    }
}

enum PathOpen {
    Opened(Vec<u8>, (FileId, Vec<u8>)),
    NotFound,
    Inhibit,
}

fn basename(p: &[u8]) -> Option<&[u8]> {
    p.iter().rposition(|&b| b == b'/').map(|i| &p[i + 1..])
}
