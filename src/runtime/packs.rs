//! The packs: from a closure's facts to runtime items, each with its evidence.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;

use super::facts::Facts;
use super::{DlopenLevel, Evidence, Pack, Runtime, Seen, User};
use crate::bytes::Bytes;
use crate::elf::notes::Priority;
use crate::error::Error;
use crate::model::{Closure, DlopenRequest, Role};
use crate::root::Root;

/// What a runtime item is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemKind {
    /// A path of the root: a file, or a directory with everything under it (symlinks on
    /// the way kept); ELF files in it are closed over.
    Path,
    /// A program to ship and close over (a shell, a script's interpreter).
    Program,
    /// A file made for the image.
    Generated {
        /// Its content.
        #[serde(skip)]
        data: Bytes,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// A directory made for the image (unless the root has one, whose mode is then kept).
    Directory {
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
}

/// One runtime file or directory and every piece of evidence for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Item {
    /// In-root absolute path (as the evidence names it: symlinks on the way are kept).
    #[serde(with = "crate::serde_path")]
    pub path: PathBuf,
    /// What it is.
    #[serde(flatten)]
    pub kind: ItemKind,
    /// Why it is there, without duplicates.
    pub evidence: Vec<Evidence>,
}

/// Something the evidence suggests but that was not added (a soname literal that resolves
/// to nothing, a data directory too large to ship on a guess, a program named by path).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Hint {
    /// The pack concerned.
    pub pack: Pack,
    /// What it is about, in words.
    pub message: String,
}

/// A `required` `.note.dlopen` entry that no alternative satisfies: the object cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct RequiredMiss {
    /// In-root canonical path of the object with the note.
    #[serde(with = "crate::serde_path")]
    pub object: PathBuf,
    /// The entry's alternatives.
    pub sonames: Vec<String>,
    /// The entry's `feature`.
    pub feature: Option<String>,
}

/// The runtime files of a set of closures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RuntimeFiles {
    /// Items, sorted by path.
    pub items: Vec<Item>,
    /// Hints, sorted, without duplicates.
    pub hints: Vec<Hint>,
    /// `required` dlopen entries nothing satisfies.
    pub required_missing: Vec<RequiredMiss>,
}

// ---------------------------------------------------------------------------------------
// Triggers: imported symbols that mean a program needs a pack.
// ---------------------------------------------------------------------------------------

const USERS: &[&str] = &[
    "getpwnam",
    "getpwnam_r",
    "getpwuid",
    "getpwuid_r",
    "getpwent",
    "getpwent_r",
    "fgetpwent",
    "getgrnam",
    "getgrnam_r",
    "getgrgid",
    "getgrgid_r",
    "getgrent",
    "getgrouplist",
    "initgroups",
    "getspnam",
    "getspnam_r",
    "getlogin",
    "getlogin_r",
    "cuserid",
    "getpw",
];
const HOSTS: &[&str] = &[
    "getaddrinfo",
    "getaddrinfo_a",
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "getnameinfo",
    "gethostent",
    "gethostent_r",
];
const SERVICES: &[&str] = &[
    "getservbyname",
    "getservbyname_r",
    "getservbyport",
    "getservbyport_r",
    "getservent",
    "getservent_r",
    "getprotobyname",
    "getprotobyname_r",
    "getprotobynumber",
    "getprotobynumber_r",
    "getprotoent",
    "getprotoent_r",
    // Service names in getaddrinfo/getnameinfo are looked up in /etc/services.
    "getaddrinfo",
    "getnameinfo",
];
const TIME: &[&str] = &[
    "localtime",
    "localtime_r",
    "mktime",
    "timelocal",
    "tzset",
    "strftime",
    "strftime_l",
    "wcsftime",
    "ctime",
    "ctime_r",
    "getdate",
    "getdate_r",
];
const ICONV: &[&str] = &["iconv_open", "iconv"];
const UNWIND: &[&str] = &["pthread_cancel", "pthread_exit", "backtrace", "__libc_pthread_cancel"];
const LOCALE: &[&str] = &["setlocale", "newlocale"];
const SHELL: &[&str] = &["system", "popen"];
const EXEC: &[&str] =
    &["posix_spawn", "posix_spawnp", "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe", "fexecve"];
const DLOPEN: &[&str] = &["dlopen", "dlmopen"];
/// File-name prefixes of TLS libraries, whose presence means CA certificates are needed.
const TLS: &[&str] =
    &["libssl.so", "libcrypto.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so", "libbotan-"];

/// Directories of the file-system hierarchy itself: named by many programs, never data of one.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/share",
    "/usr/include",
    "/usr/src",
    "/usr/games",
    "/var",
    "/var/lib",
    "/var/cache",
    "/var/log",
    "/var/spool",
    "/var/mail",
    "/var/opt",
    "/var/local",
    "/opt",
    "/srv",
    "/usr/share/misc",
    "/usr/lib/locale",
];
/// The standard library directories (a search list naming one is a library search path).
const LIB_DIRS: &[&str] = &["/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib"];
/// Trees that are not needed for a program to work (documentation, translations, debug
/// symbols) or that belong to the host and its users (`/var` is the host's variable state:
/// `/var/lib/dbus/machine-id` names the host, unit state is the host's); strings naming
/// them are passed over.
const NOT_DATA: &[&str] = &[
    "/etc",
    "/var",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/tmp",
    "/home",
    "/root",
    "/boot",
    "/mnt",
    "/media",
    "/lost+found",
    "/usr/share/doc",
    "/usr/share/man",
    "/usr/share/info",
    "/usr/share/locale",
    "/usr/lib/debug",
    "/usr/share/lintian",
];
/// A data directory larger than this is reported, not shipped.
const MAX_DATA_TREE: u64 = 64 << 20;
/// A plugin directory larger than this is reported, not shipped.
const MAX_PLUGIN_TREE: u64 = 512 << 20;
/// At most this many entries are looked at in one tree.
const MAX_TREE_ENTRIES: usize = 50_000;

// ---------------------------------------------------------------------------------------
// Paths in the root, looked at once.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    File {
        elf: bool,
        exec: bool,
        script: bool,
    },
    /// A directory (its tree is looked at only when a pack needs it: [`PathInfo::tree`]).
    Dir,
    Other,
}

/// What a directory tree holds: bytes of its files, whether it holds ELF objects, whether a
/// symlink in it points out of it (absolute, or `..` above the tree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tree {
    bytes: u64,
    /// It holds a loadable ELF file named like a shared object (`*.so`, `*.so.*`).
    has_elf: bool,
    /// It holds a loadable ELF file with an execute bit not named like a shared object (a
    /// program).
    has_program: bool,
    escapes: bool,
}

#[derive(Debug)]
pub(super) struct PathInfo {
    realpath: PathBuf,
    host: PathBuf,
    kind: Kind,
    readable: bool,
    tree: std::sync::OnceLock<Tree>,
}

impl PathInfo {
    /// The tree of a directory, walked on first use (at most four levels, bounded entries).
    fn tree(&self) -> Tree {
        *self.tree.get_or_init(|| walk_tree(&self.host))
    }
}

/// What each path named by the evidence is in the root, looked at once per run.
pub(crate) struct PathCache {
    map: RwLock<HashMap<Vec<u8>, Option<Arc<PathInfo>>>>,
    /// Directory listings ([`Root::read_dir`]), by in-root path.
    dirs: RwLock<HashMap<Vec<u8>, Arc<Vec<std::ffi::OsString>>>>,
}

impl PathCache {
    pub fn new() -> Self {
        PathCache { map: RwLock::new(HashMap::default()), dirs: RwLock::new(HashMap::default()) }
    }

    /// The names in directory `path` of the root, sorted (empty when it cannot be read).
    fn read_dir(&self, root: &Root, path: &[u8]) -> Arc<Vec<std::ffi::OsString>> {
        if let Some(v) = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(path) {
            return v.clone();
        }
        let names = Arc::new(root.read_dir(path).unwrap_or_default());
        self.dirs.write().unwrap_or_else(|e| e.into_inner()).insert(path.to_vec(), names.clone());
        names
    }

    fn get(&self, root: &Root, path: &[u8]) -> Option<Arc<PathInfo>> {
        if let Some(v) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(path) {
            return v.clone();
        }
        let info = look(root, path).map(Arc::new);
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(path.to_vec(), info.clone());
        info
    }
}

fn look(root: &Root, path: &[u8]) -> Option<PathInfo> {
    let w = root.walk(path, true).ok()?;
    let readable = w.metadata.mode & 0o004 != 0;
    let host = root.host_path(&w.realpath);
    let kind = if w.metadata.is_file() {
        let mut head = [0u8; 18];
        let n = std::fs::File::open(&host).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
        Kind::File {
            elf: crate::elf::is_loadable(&head[..n]),
            exec: w.metadata.mode & 0o111 != 0,
            script: head.starts_with(b"#!"),
        }
    } else if w.metadata.is_dir() {
        Kind::Dir
    } else {
        Kind::Other
    };
    Some(PathInfo { realpath: w.realpath, host, kind, readable, tree: std::sync::OnceLock::new() })
}

fn walk_tree(host: &Path) -> Tree {
    let (mut bytes, mut has_elf, mut has_program, mut escapes, mut n) = (0u64, false, false, false, 0usize);
    for e in walkdir::WalkDir::new(host).follow_links(false).max_depth(4).into_iter().flatten() {
        n += 1;
        if n > MAX_TREE_ENTRIES {
            bytes = u64::MAX;
            break;
        }
        if e.file_type().is_symlink() && !escapes {
            let depth = e.depth().saturating_sub(1);
            escapes = std::fs::read_link(e.path()).map_or(true, |t| climbs_out(t.as_os_str().as_bytes(), depth));
        }
        if e.file_type().is_file() {
            let meta = e.metadata().ok();
            bytes = bytes.saturating_add(meta.as_ref().map_or(0, |m| m.len()));
            // Plugins are shared objects, programs have an execute bit: only files named
            // like the one or marked as the other are opened.
            let name = e.file_name().as_bytes();
            let so_name = name.ends_with(b".so") || name.windows(4).any(|w| w == b".so.");
            let exec =
                meta.as_ref().is_some_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0);
            if (so_name && !has_elf) || (!so_name && exec && !has_program) {
                let mut head = [0u8; 18];
                let k =
                    std::fs::File::open(e.path()).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
                if crate::elf::is_loadable(&head[..k]) {
                    if so_name {
                        has_elf = true;
                    } else {
                        has_program = true;
                    }
                }
            }
        }
    }
    Tree { bytes, has_elf, has_program, escapes }
}

/// True when a symlink target leaves a tree from a link `depth` directories below its top:
/// absolute, or more `..` than the depth.
fn climbs_out(target: &[u8], depth: usize) -> bool {
    if target.first() == Some(&b'/') {
        return true;
    }
    let mut d = depth as isize;
    for c in target.split(|&b| b == b'/') {
        match c {
            b".." => d -= 1,
            b"" | b"." => {}
            _ => d += 1,
        }
        if d < 0 {
            return true;
        }
    }
    false
}

/// A path string made canonical in form: `//` folded, `.` dropped, trailing `/` removed.
/// `None` for strings that are not absolute paths or hold a `..`.
fn normalise(s: &[u8]) -> Option<Vec<u8>> {
    if s.first() != Some(&b'/') || s.split(|&b| b == b'/').any(|c| c == b"..") {
        return None;
    }
    Some(crate::bytes::normalize_path(s))
}

fn under(path: &[u8], dirs: &[&str]) -> bool {
    dirs.iter().any(|d| {
        let d = d.as_bytes();
        d == b"/" && path == b"/"
            || d != b"/" && path.starts_with(d) && (path.len() == d.len() || path[d.len()] == b'/')
    })
}

fn as_path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

// ---------------------------------------------------------------------------------------
// One closure, seen by the engine.
// ---------------------------------------------------------------------------------------

struct View<'a> {
    rt: &'a Runtime<'a>,
    c: &'a Closure,
    facts: Vec<Arc<Facts>>,
    /// The C library: the object that defines `__libc_start_main`.
    libc: Option<usize>,
    /// Objects `0..strong` are loaded at start-up of a closure given as evidence: their
    /// strings (path and soname literals) are evidence. Strings of an object that is
    /// itself there on a string's word (a dlopen literal, a plugin directory) are not:
    /// guesses do not breed guesses.
    strong: usize,
    /// [`View::loads_plugins`] of each object.
    loaders: std::sync::OnceLock<Vec<bool>>,
}

impl<'a> View<'a> {
    fn new(rt: &'a Runtime<'a>, c: &'a Closure, brought: bool) -> View<'a> {
        let root = rt.resolver.root();
        let facts: Vec<Arc<Facts>> = c.objects.iter().map(|o| rt.facts.get(root, &o.file.location.realpath)).collect();
        let libc = facts.iter().position(|f| f.exports(b"__libc_start_main"));
        let strong = if brought { 0 } else { rt.startup_of(c).min(c.objects.len()) };
        View { rt, c, facts, libc, strong, loaders: std::sync::OnceLock::new() }
    }

    fn path(&self, i: usize) -> &'a Path {
        &self.c.objects[i].file.location.realpath
    }

    /// The first object (in load order) that imports one of `names`, and the name.
    fn importer(&self, names: &[&str]) -> Option<(usize, Bytes)> {
        self.facts.iter().enumerate().find_map(|(i, f)| f.imports_any(names).map(|s| (i, s)))
    }

    /// Evidence that `pack` applies to this closure: forced, or a trigger symbol imported.
    fn trigger(&self, pack: Pack, names: &[&str]) -> Option<Evidence> {
        let opts = &self.rt.opts;
        if !opts.is_enabled(pack) {
            return None;
        }
        if let Some((i, s)) = self.importer(names) {
            return Some(Evidence::new(pack, Some(self.path(i)), Seen::Symbol { symbol: s }));
        }
        if pack == Pack::Users && opts.user.is_some() {
            return Some(Evidence::new(pack, None, Seen::Flag { flag: "--user".into() }));
        }
        opts.is_forced(pack).then(|| Evidence::new(pack, None, Seen::Flag { flag: format!("--with {pack}") }))
    }

    /// True when object `i` loads plugins: it imports `dlopen`/`dlmopen`, or a function of
    /// a library of the closure that does (a plugin loader such as libltdl or GModule).
    /// Worked out once per closure.
    fn loads_plugins(&self, i: usize) -> bool {
        let all = self.loaders.get_or_init(|| {
            let direct: Vec<bool> = self.facts.iter().map(|f| f.imports_any(DLOPEN).is_some()).collect();
            (0..self.facts.len())
                .map(|i| {
                    direct[i]
                        || self.facts.iter().enumerate().any(|(j, g)| {
                            j != i && direct[j] && self.facts[i].imports.iter().any(|s| g.exports(s.as_bytes()))
                        })
                })
                .collect()
        });
        all.get(i).copied().unwrap_or(false)
    }

    /// Path strings of object `i`, split at `:` (search lists), normalised, deduplicated.
    fn path_strings(&self, i: usize) -> Vec<(Vec<u8>, Bytes)> {
        let mut out = Vec::new();
        for s in &self.facts[i].strings.paths {
            let parts: Vec<&[u8]> = s.as_bytes().split(|&b| b == b':').collect();
            // A list that holds a system library directory is a library search path (as
            // libltdl keeps one): its directories are the loader's, not plugins or data.
            if parts.len() > 1
                && parts.iter().any(|p| LIB_DIRS.iter().any(|d| normalise(p).as_deref() == Some(d.as_bytes())))
            {
                continue;
            }
            for part in parts {
                if let Some(n) = normalise(part) {
                    out.push((n, s.clone()));
                }
            }
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// Names the first `n` objects answer.
    fn names_loaded(&self, n: usize) -> HashSet<&'a [u8]> {
        let mut set = HashSet::default();
        for o in self.c.objects.iter().take(n) {
            for n in &o.names {
                set.insert(n.as_bytes());
            }
            if let Some(s) = &o.file.soname {
                set.insert(s.as_bytes());
            }
        }
        set
    }
}

// ---------------------------------------------------------------------------------------
// dlopen requests
// ---------------------------------------------------------------------------------------

type NoteKey = (usize, usize);

/// The dlopen requests of a closure whose first `startup` objects are loaded at start-up.
fn requests(
    v: &View<'_>,
    startup: usize,
    alt: &HashMap<NoteKey, usize>,
    strings: bool,
) -> Vec<(DlopenRequest, Option<(NoteKey, usize)>)> {
    let opts = &v.rt.opts;
    let mut out: Vec<(DlopenRequest, Option<(NoteKey, usize)>)> = Vec::new();
    // A name that start-up loaded needs no dlopen; one a dlopen loaded is requested again.
    let loaded = v.names_loaded(startup);
    let mut seen: HashSet<(usize, Vec<u8>)> = HashSet::default();
    let mut push = |out: &mut Vec<_>, from: usize, name: &[u8], ev: Evidence, key: Option<(NoteKey, usize)>| {
        if seen.insert((from, name.to_vec())) {
            out.push((DlopenRequest::new(from, name, ev.to_string()), key));
        }
    };
    // The C library's own dlopens: the unwinder, and NSS modules where files/dns are not
    // built in (glibc before 2.34).
    if let Some(l) = v.libc {
        let lf = &v.facts[l];
        if let Some(ev) = v.trigger(Pack::LibgccS, UNWIND) {
            if let Some(s) = lf.strings.sonames.iter().find(|s| s.as_bytes().starts_with(b"libgcc_s.so")) {
                if !loaded.contains(s.as_bytes()) {
                    let ev = ev.located(v.path(l), s);
                    push(&mut out, l, s.as_bytes(), ev, None);
                }
            }
        }
        let nss_needed = [(Pack::Users, USERS), (Pack::Hosts, HOSTS), (Pack::Services, SERVICES)]
            .iter()
            .filter_map(|(p, names)| v.trigger(*p, names))
            .next();
        let has_nss_strings =
            lf.strings.sonames.iter().chain(&lf.strings.paths).any(|s| s.as_bytes().starts_with(b"libnss_"));
        if let (Some(ev), true, true) = (nss_needed, opts.is_enabled(Pack::Nss), has_nss_strings) {
            for (svc, probe) in [("files", "_nss_files_getpwnam_r"), ("dns", "_nss_dns_gethostbyname4_r")] {
                if !lf.exports(probe.as_bytes()) {
                    let name = format!("libnss_{svc}.so.2");
                    let ev = Evidence::new(Pack::Nss, Some(v.path(l)), Seen::Pack { pack: ev.pack });
                    push(&mut out, l, name.as_bytes(), ev, None);
                }
            }
        }
    }
    if !opts.is_enabled(Pack::Dlopen) {
        return out;
    }
    for (i, f) in v.facts.iter().enumerate() {
        for (k, e) in f.notes.entries.iter().enumerate() {
            let wanted = match e.priority {
                Priority::Required | Priority::Recommended => true,
                _ => opts.dlopen >= DlopenLevel::All,
            };
            if !wanted || e.sonames.is_empty() {
                continue;
            }
            if e.sonames.iter().any(|s| loaded.contains(s.as_bytes())) {
                continue;
            }
            let a = alt.get(&(i, k)).copied().unwrap_or(0).min(e.sonames.len() - 1);
            let soname = Bytes::from(e.sonames[a].as_str());
            let seen =
                Seen::Note { soname: soname.clone(), priority: e.priority.as_str().into(), feature: e.feature.clone() };
            push(
                &mut out,
                i,
                soname.as_bytes(),
                Evidence::new(Pack::Dlopen, Some(v.path(i)), seen),
                Some(((i, k), e.sonames.len())),
            );
        }
        // Soname literals count in start-up objects only (see `View::strong`).
        if strings
            && i < startup
            && opts.dlopen >= DlopenLevel::Strings
            && !f.strings.sonames.is_empty()
            && v.loads_plugins(i)
        {
            let own = v.c.objects[i].file.soname.as_ref().map(|s| s.as_bytes());
            let base = v.path(i).file_name().map(|n| n.as_bytes());
            for s in &f.strings.sonames {
                let b = s.as_bytes();
                if loaded.contains(b) || Some(b) == own || Some(b) == base {
                    continue;
                }
                let ev = Evidence::new(Pack::Dlopen, Some(v.path(i)), Seen::String { string: s.clone() });
                push(&mut out, i, b, ev, None);
            }
        }
    }
    out
}

pub(super) fn expand(rt: &Runtime<'_>, mut c: Closure, strings: bool) -> Result<Closure, Error> {
    let mut alt: HashMap<NoteKey, usize> = HashMap::default();
    // Objects of a closure as given are its start-up objects (an expanded closure given
    // again keeps its dlopened objects as they are).
    let startup = rt.startup_of(&c).min(c.objects.len());
    rt.set_startup(&c, startup);
    for _ in 0..16 {
        let reqs = {
            let v = View::new(rt, &c, !strings);
            requests(&v, startup, &alt, strings)
        };
        let same = reqs.len() == c.dlopened.len() && reqs.iter().zip(&c.dlopened).all(|((r, _), d)| *r == d.request);
        if same {
            break;
        }
        let list: Vec<DlopenRequest> = reqs.iter().map(|(r, _)| r.clone()).collect();
        c = rt.resolver.with_dlopen(&c, &list)?;
        // A note entry whose alternative was not found: try the next one.
        for ((_, key), d) in reqs.iter().zip(&c.dlopened) {
            if let (Some((k, n)), None) = (key, d.to) {
                let a = alt.entry(*k).or_insert(0);
                if *a + 1 < *n {
                    *a += 1;
                }
            }
        }
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Acc {
    items: BTreeMap<PathBuf, Item>,
    hints: Vec<Hint>,
    required: Vec<RequiredMiss>,
}

impl Acc {
    fn add(&mut self, path: &[u8], kind: ItemKind, ev: Evidence) {
        let p = as_path(path).to_path_buf();
        let it = self.items.entry(p.clone()).or_insert_with(|| Item { path: p, kind, evidence: Vec::new() });
        if !it.evidence.contains(&ev) {
            it.evidence.push(ev);
        }
    }

    fn hint(&mut self, pack: Pack, message: String) {
        self.hints.push(Hint { pack, message });
    }
}

pub(super) fn files(rt: &Runtime<'_>, closures: &[&Closure], brought: &[&Closure]) -> RuntimeFiles {
    let mut acc = Acc::default();
    let opts = &rt.opts;
    let all = closures.iter().map(|c| (*c, false)).chain(brought.iter().map(|c| (*c, true)));
    for (c, brought) in all {
        let v = View::new(rt, c, brought);
        users(&v, &mut acc);
        services(&v, &mut acc);
        ca(&v, &mut acc);
        tzdata(&v, &mut acc);
        gconv(&v, &mut acc);
        locale(&v, &mut acc);
        shell(&v, &mut acc);
        strings_packs(&v, &mut acc);
        dlopen_outcomes(&v, &mut acc);
        for (i, f) in v.facts.iter().enumerate() {
            for p in &f.problems {
                acc.hint(Pack::Dlopen, format!("{}: {p}", v.path(i).display()));
            }
        }
    }
    if opts.is_enabled(Pack::Dirs) && !closures.is_empty() {
        for (p, mode, why) in [
            ("/tmp", 0o1777, "temporary files (mktemp, tmpfile)"),
            ("/var/tmp", 0o1777, "temporary files that outlive a run"),
            ("/run", 0o755, "run-time state"),
            ("/dev", 0o755, "mount point a container runtime fills"),
            ("/proc", 0o555, "mount point a container runtime fills"),
            ("/sys", 0o555, "mount point a container runtime fills"),
        ] {
            let ev = Evidence::new(Pack::Dirs, None, Seen::Default { why: why.into() });
            acc.add(p.as_bytes(), ItemKind::Directory { mode, uid: 0, gid: 0 }, ev);
        }
    }
    acc.hints.sort();
    acc.hints.dedup();
    RuntimeFiles { items: acc.items.into_values().collect(), hints: acc.hints, required_missing: acc.required }
}

fn users(v: &View<'_>, acc: &mut Acc) {
    let opts = &v.rt.opts;
    let users_ev = v.trigger(Pack::Users, USERS);
    let hosts_ev = v.trigger(Pack::Hosts, HOSTS);
    if let Some(ev) = &users_ev {
        let mut list = User::defaults();
        if let Some(u) = &opts.user {
            if !list.iter().any(|k| k.uid == u.uid || k.name == u.name) {
                list.push(u.clone());
            }
        }
        let mut passwd = String::new();
        let mut group = String::new();
        for u in &list {
            passwd.push_str(&format!("{}:x:{}:{}:{}:{}:/sbin/nologin\n", u.name, u.uid, u.gid, u.name, u.home));
        }
        let mut groups: Vec<(String, u32)> =
            vec![("root".into(), 0), ("tty".into(), 5), ("staff".into(), 50), ("nobody".into(), 65534)];
        groups.push(("nonroot".into(), 65532));
        for u in &list {
            if !groups.iter().any(|(_, g)| *g == u.gid) {
                groups.push((u.name.clone(), u.gid));
            }
        }
        for (n, g) in &groups {
            group.push_str(&format!("{n}:x:{g}:\n"));
        }
        let file = |d: String| ItemKind::Generated { data: Bytes::from(d.into_bytes()), mode: 0o644, uid: 0, gid: 0 };
        acc.add(b"/etc/passwd", file(passwd), ev.clone());
        acc.add(b"/etc/group", file(group), ev.clone());
        for u in &list {
            if u.home == "/nonexistent" {
                continue;
            }
            if let Some(parent) = Path::new(&u.home).parent().filter(|p| *p != Path::new("/")) {
                let kind = ItemKind::Directory { mode: 0o755, uid: 0, gid: 0 };
                acc.add(parent.as_os_str().as_bytes(), kind, ev.clone());
            }
            let kind = ItemKind::Directory { mode: 0o700, uid: u.uid, gid: u.gid };
            acc.add(u.home.as_bytes(), kind, ev.clone());
        }
    }
    if let Some(ev) = &hosts_ev {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
        let kind = ItemKind::Generated { data: Bytes::from(hosts), mode: 0o644, uid: 0, gid: 0 };
        acc.add(b"/etc/hosts", kind, ev.clone());
    }
    let services_ev = v.trigger(Pack::Services, SERVICES);
    let any = users_ev.as_ref().or(hosts_ev.as_ref()).or(services_ev.as_ref());
    let names_nsswitch = v.libc.map(|l| v.facts[l].strings.paths.iter().any(|s| s.as_bytes() == b"/etc/nsswitch.conf"));
    if let (Some(ev), true, Some(true)) = (any, opts.is_enabled(Pack::Nss), names_nsswitch) {
        // files and dns are built into libc since glibc 2.34; an older libc dlopens
        // libnss_files.so.2 and libnss_dns.so.2 for them (see `requests`).
        let conf =
            "passwd: files\ngroup: files\nshadow: files\ngshadow: files\n\nhosts: files dns\nnetworks: files\n\n\
                    protocols: files\nservices: files\nethers: files\nrpc: files\n\nnetgroup: files\n";
        let kind = ItemKind::Generated { data: Bytes::from(conf), mode: 0o644, uid: 0, gid: 0 };
        let l = v.libc.unwrap_or(0);
        let ev = Evidence::new(Pack::Nss, ev.object.as_deref(), ev.seen.clone())
            .located(v.path(l), &Bytes::from("/etc/nsswitch.conf"));
        acc.add(b"/etc/nsswitch.conf", kind, ev);
    }
}

/// Files the C library names (`/etc/services`) taken from the root.
fn services(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Services, SERVICES) else { return };
    let l = v.libc.unwrap_or(0);
    for name in ["/etc/services", "/etc/protocols"] {
        let named = v.facts[l].strings.paths.iter().find(|s| s.as_bytes() == name.as_bytes());
        let Some(s) = named else { continue };
        match v.rt.paths.get(v.rt.resolver.root(), name.as_bytes()) {
            Some(info) if matches!(info.kind, Kind::File { .. }) => {
                acc.add(name.as_bytes(), ItemKind::Path, ev.clone().located(v.path(l), s));
            }
            _ => acc.hint(Pack::Services, format!("{name} (named by {}) is not in the root", v.path(l).display())),
        }
    }
}

fn ca(v: &View<'_>, acc: &mut Acc) {
    if !v.rt.opts.is_enabled(Pack::Ca) {
        return;
    }
    let tls = v.c.objects.iter().find(|o| {
        let n = o.file.location.realpath.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let s = o.file.soname.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
        TLS.iter().any(|t| n.starts_with(t.as_bytes()) || s.starts_with(t.as_bytes()))
    });
    let ev = match tls {
        Some(o) => {
            let lib = Bytes::from(o.file.location.realpath.file_name().map(|n| n.as_bytes()).unwrap_or_default());
            Evidence::new(Pack::Ca, Some(&o.file.location.realpath), Seen::Library { library: lib })
        }
        None if v.rt.opts.is_forced(Pack::Ca) => Evidence::new(Pack::Ca, None, Seen::Flag { flag: "--with ca".into() }),
        None => return,
    };
    let root = v.rt.resolver.root();
    let mut found = false;
    for i in 0..v.c.objects.len() {
        for (p, s) in v.path_strings(i) {
            let Some(info) = v.rt.paths.get(root, &p) else { continue };
            if !info.readable || p.windows(7).any(|w| w == b"private") {
                continue;
            }
            let name = p.rsplit(|&b| b == b'/').next().unwrap_or_default();
            let take = match info.kind {
                Kind::File { elf: false, .. } => name.ends_with(b".crt") || name.ends_with(b".pem"),
                Kind::Dir => name == b"certs",
                _ => false,
            };
            if take {
                found = true;
                acc.add(&p, ItemKind::Path, ev.clone().located(v.path(i), &s));
            }
            if info.kind == Kind::Dir {
                let mut cnf = p.clone();
                cnf.extend_from_slice(b"/openssl.cnf");
                if matches!(v.rt.paths.get(root, &cnf).map(|i| i.kind.clone()), Some(Kind::File { .. })) {
                    acc.add(&cnf, ItemKind::Path, ev.clone().located(v.path(i), &s));
                }
            }
        }
    }
    if !found {
        acc.hint(Pack::Ca, "a TLS library is in the closure but no CA bundle it names is in the root".into());
    }
}

/// Directories named by the closure's strings whose last component is `leaf`.
fn named_dirs(v: &View<'_>, leaf: &[u8]) -> Vec<(usize, Vec<u8>, Bytes)> {
    let root = v.rt.resolver.root();
    let mut out = Vec::new();
    let order: Vec<usize> = v.libc.into_iter().chain((0..v.c.objects.len()).filter(|i| Some(*i) != v.libc)).collect();
    for i in order {
        for (p, s) in v.path_strings(i) {
            if p.rsplit(|&b| b == b'/').next() != Some(leaf) || out.iter().any(|(_, q, _)| *q == p) {
                continue;
            }
            if matches!(v.rt.paths.get(root, &p).map(|x| x.kind.clone()), Some(Kind::Dir)) {
                out.push((i, p, s));
            }
        }
    }
    out
}

fn tzdata(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Tzdata, TIME) else { return };
    let dirs = named_dirs(v, b"zoneinfo");
    if dirs.is_empty() {
        acc.hint(
            Pack::Tzdata,
            "time functions are imported but no zoneinfo directory named by the closure is in the root".into(),
        );
    }
    let root = v.rt.resolver.root();
    for (i, d, s) in dirs.iter().take(1) {
        match &v.rt.opts.tz {
            None => acc.add(d, ItemKind::Path, ev.clone().located(v.path(*i), s)),
            Some(zones) => {
                for z in zones {
                    let mut p = d.clone();
                    p.push(b'/');
                    p.extend_from_slice(z.as_bytes());
                    match normalise(&p).and_then(|n| v.rt.paths.get(root, &n).map(|_| n)) {
                        Some(n) => {
                            let e = Evidence::new(Pack::Tzdata, None, Seen::Flag { flag: format!("--tz {z}") });
                            acc.add(&n, ItemKind::Path, e.located(v.path(*i), s));
                        }
                        None => acc.hint(Pack::Tzdata, format!("--tz {z}: no such zone in {}", as_path(d).display())),
                    }
                }
            }
        }
    }
    if let Some(l) = v.libc {
        if let Some(s) = v.facts[l].strings.paths.iter().find(|s| s.as_bytes() == b"/etc/localtime") {
            if v.rt.paths.get(root, s.as_bytes()).is_some() {
                acc.add(s.as_bytes(), ItemKind::Path, ev.clone().located(v.path(l), s));
            }
        }
    }
}

fn gconv(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Gconv, ICONV) else { return };
    let dirs = named_dirs(v, b"gconv");
    let Some((i, d, s)) = dirs.first() else {
        if v.libc.is_some_and(|l| v.facts[l].exports(b"__gconv_open") || v.facts[l].exports(b"iconv_open")) {
            acc.hint(
                Pack::Gconv,
                "iconv is imported but no gconv directory named by the C library is in the root".into(),
            );
        }
        return;
    };
    let ev = ev.located(v.path(*i), s);
    let Some(list) = &v.rt.opts.gconv else {
        acc.add(d, ItemKind::Path, ev);
        return;
    };
    let root = v.rt.resolver.root();
    let host = root.host_path(as_path(d));
    let names: Vec<std::ffi::OsString> =
        std::fs::read_dir(&host).map(|r| r.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    for n in &names {
        let b = n.as_bytes();
        let module = b.strip_suffix(b".so");
        let keep = b.starts_with(b"gconv-modules")
            || module.is_some_and(|m| {
                list.iter().any(|w| {
                    let w: Vec<u8> =
                        w.bytes().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
                    let m: Vec<u8> =
                        m.iter().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
                    w == m
                })
            });
        if keep {
            let mut p = d.clone();
            p.push(b'/');
            p.extend_from_slice(b);
            acc.add(&p, ItemKind::Path, ev.clone());
        }
    }
}

fn locale(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Locale, LOCALE) else { return };
    let Some(l) = v.libc else { return };
    let root = v.rt.resolver.root();
    let dir = v.facts[l].strings.paths.iter().find(|s| {
        let b = s.as_bytes();
        b.ends_with(b"/locale") && matches!(v.rt.paths.get(root, b).map(|x| x.kind.clone()), Some(Kind::Dir))
    });
    let Some(s) = dir else { return };
    let mut wanted = vec!["C.utf8".to_string()];
    for w in &v.rt.opts.locales {
        // glibc normalises the codeset: en_US.UTF-8 is looked up as en_US.utf8.
        let n = match w.split_once('.') {
            Some((lang, cs)) => {
                format!(
                    "{lang}.{}",
                    cs.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
                )
            }
            None => w.clone(),
        };
        wanted.push(n);
    }
    for (k, w) in wanted.iter().enumerate() {
        let mut p = s.to_vec();
        p.push(b'/');
        p.extend_from_slice(w.as_bytes());
        let e = if k == 0 {
            ev.clone()
        } else {
            Evidence::new(Pack::Locale, None, Seen::Flag { flag: format!("--locale {w}") })
        };
        if v.rt.paths.get(root, &p).is_some() {
            acc.add(&p, ItemKind::Path, e.located(v.path(l), s));
        } else if k > 0 {
            let mut archive = s.to_vec();
            archive.extend_from_slice(b"/locale-archive");
            if v.rt.paths.get(root, &archive).is_some() {
                acc.add(&archive, ItemKind::Path, e.located(v.path(l), s));
            } else {
                acc.hint(Pack::Locale, format!("--locale {w}: not in {}", s));
            }
        }
    }
}

fn shell(v: &View<'_>, acc: &mut Acc) {
    if !v.rt.opts.is_enabled(Pack::Shell) {
        return;
    }
    let root = v.rt.resolver.root();
    let sh = |f: &Facts| f.strings.paths.iter().find(|s| s.as_bytes() == b"/bin/sh").cloned();
    let mut ev = None;
    if let (Some((i, sym)), Some(l)) = (v.importer(SHELL), v.libc) {
        if let Some(s) = sh(&v.facts[l]) {
            ev = Some(Evidence::new(Pack::Shell, Some(v.path(i)), Seen::Symbol { symbol: sym }).located(v.path(l), &s));
        }
    }
    if ev.is_none() {
        for (i, f) in v.facts.iter().enumerate() {
            if let (Some(sym), Some(s)) = (f.imports_any(EXEC), sh(f)) {
                ev = Some(
                    Evidence::new(Pack::Shell, Some(v.path(i)), Seen::Symbol { symbol: sym }).located(v.path(i), &s),
                );
                break;
            }
        }
    }
    if ev.is_none() && v.rt.opts.is_forced(Pack::Shell) {
        ev = Some(Evidence::new(Pack::Shell, None, Seen::Flag { flag: "--with shell".into() }));
    }
    let Some(ev) = ev else { return };
    if v.c.objects[0].file.location.realpath == Path::new("/bin/sh") {
        return;
    }
    match v.rt.paths.get(root, b"/bin/sh") {
        Some(_) => acc.add(b"/bin/sh", ItemKind::Program, ev),
        None => acc.hint(Pack::Shell, "the program runs commands through /bin/sh, which is not in the root".into()),
    }
}

/// Plugin directories, data files and directories, helper programs: what the objects'
/// path strings name in the root.
fn strings_packs(v: &View<'_>, acc: &mut Acc) {
    let opts = &v.rt.opts;
    let (plugins, data, helpers) =
        (opts.is_enabled(Pack::Plugins), opts.is_enabled(Pack::Data), opts.is_enabled(Pack::Helpers));
    let root = v.rt.resolver.root();
    // Directories that hold objects of the closure are library directories, not plugins.
    let mut lib_dirs: HashSet<Vec<u8>> = HashSet::default();
    let mut ancestors: HashSet<Vec<u8>> = HashSet::default();
    for o in &v.c.objects {
        for p in [&o.file.location.realpath, &o.file.location.path] {
            let mut cur = p.parent();
            if let Some(d) = cur {
                lib_dirs.insert(d.as_os_str().as_bytes().to_vec());
            }
            while let Some(d) = cur {
                ancestors.insert(d.as_os_str().as_bytes().to_vec());
                cur = d.parent();
            }
        }
    }
    let own_paths: HashSet<&[u8]> =
        v.c.objects.iter().map(|o| o.file.location.realpath.as_os_str().as_bytes()).collect();
    for i in 0..v.strong {
        // The C library and the loader name the system's own files, which the packs above
        // handle; their other strings are no evidence about this program.
        if Some(i) == v.libc || v.c.objects[i].role == Role::Interpreter {
            continue;
        }
        let loader = v.loads_plugins(i);
        for (p, s) in v.path_strings(i) {
            if SYSTEM_DIRS.iter().any(|d| d.as_bytes() == p.as_slice())
                || lib_dirs.contains(&p)
                || ancestors.contains(&p)
                // Nothing under the excluded trees is data, a plugin or a helper: not looked at.
                || under(&p, NOT_DATA)
                // A file at the top of the tree (`/.dockerenv`) marks the host's kind.
                || !p[1..].contains(&b'/')
            {
                continue;
            }
            let Some(info) = v.rt.paths.get(root, &p) else { continue };
            let real = info.realpath.as_os_str().as_bytes();
            if SYSTEM_DIRS.iter().any(|d| d.as_bytes() == real) || lib_dirs.contains(real) || ancestors.contains(real) {
                continue;
            }
            if !info.readable || own_paths.contains(real) {
                continue;
            }
            let excluded = under(&p, NOT_DATA) || under(real, NOT_DATA);
            let ev = |pack: Pack| Evidence::new(pack, Some(v.path(i)), Seen::String { string: s.clone() });
            let tree = (info.kind == Kind::Dir && !excluded && (data || loader && plugins)).then(|| info.tree());
            match (&info.kind, tree) {
                (Kind::Dir, Some(Tree { bytes, has_elf: true, .. })) if loader && plugins => {
                    if bytes <= MAX_PLUGIN_TREE {
                        acc.add(&p, ItemKind::Path, ev(Pack::Plugins));
                    } else {
                        acc.hint(
                            Pack::Plugins,
                            format!(
                                "{}: plugin directory {} is too large to ship on a guess (add it with --add)",
                                v.path(i).display(),
                                as_path(&p).display()
                            ),
                        );
                    }
                }
                // A data directory holds data: one with programs or libraries (which need a
                // loader's evidence), or with links out of it (to host configuration, keys),
                // is only reported.
                (Kind::Dir, Some(Tree { bytes, has_elf, has_program, escapes })) if data => {
                    if has_elf || has_program || escapes {
                        acc.hint(
                            Pack::Data,
                            format!(
                                "{}: names the directory {}, which holds {} (add it with --add)",
                                v.path(i).display(),
                                as_path(&p).display(),
                                if has_elf || has_program { "programs or libraries" } else { "links out of it" }
                            ),
                        );
                    } else if bytes <= MAX_DATA_TREE {
                        acc.add(&p, ItemKind::Path, ev(Pack::Data));
                    } else {
                        acc.hint(
                            Pack::Data,
                            format!(
                                "{}: data directory {} is too large to ship on a guess (add it with --add)",
                                v.path(i).display(),
                                as_path(&p).display()
                            ),
                        );
                    }
                }
                (&Kind::File { elf, exec, script }, _) if (elf || script) && exec && !excluded => {
                    if helpers {
                        acc.add(&p, ItemKind::Program, ev(Pack::Helpers));
                    } else if p != b"/bin/sh" {
                        acc.hint(
                            Pack::Helpers,
                            format!(
                                "{} names the program {} (add it with --with helpers or --add)",
                                v.path(i).display(),
                                as_path(&p).display()
                            ),
                        );
                    }
                }
                (Kind::File { elf: false, .. }, _) if data && !excluded && info_size_ok(root, &info.realpath) => {
                    acc.add(&p, ItemKind::Path, ev(Pack::Data));
                }
                _ => {}
            }
            // A compiled-in name is often the stem of the file read (libmagic opens
            // "/usr/share/misc/magic" + ".mgc"): data files beside it named STEM.SUFFIX come too.
            if data
                && !excluded
                && (matches!(info.kind, Kind::File { elf: false, .. })
                    || matches!(tree, Some(Tree { has_elf: false, has_program: false, escapes: false, .. })))
            {
                for sib in suffixed_siblings(v, &p) {
                    acc.add(&sib, ItemKind::Path, ev(Pack::Data));
                }
            }
        }
    }
}

/// Data files `STEM.SUFFIX` in the directory of `stem` (an in-root path), regular files or
/// links to them, not ELF, world-readable, within the data size limit.
fn suffixed_siblings(v: &View<'_>, stem: &[u8]) -> Vec<Vec<u8>> {
    let root = v.rt.resolver.root();
    let Some(cut) = stem.iter().rposition(|&b| b == b'/') else { return Vec::new() };
    let (dir, base) = (&stem[..cut.max(1)], &stem[cut + 1..]);
    let names = v.rt.paths.read_dir(root, dir);
    let mut out = Vec::new();
    for n in names.iter() {
        let n = n.as_bytes();
        if n.len() <= base.len() + 1 || !n.starts_with(base) || n[base.len()] != b'.' {
            continue;
        }
        let mut p = if dir == b"/" { Vec::new() } else { dir.to_vec() };
        p.push(b'/');
        p.extend_from_slice(n);
        if let Some(info) = v.rt.paths.get(root, &p) {
            if info.readable && matches!(info.kind, Kind::File { elf: false, .. }) && info_size_ok(root, &info.realpath)
            {
                out.push(p);
            }
        }
    }
    out
}

fn info_size_ok(root: &Root, p: &Path) -> bool {
    std::fs::metadata(root.host_path(p)).map(|m| m.len() <= MAX_DATA_TREE).unwrap_or(false)
}

/// Hints for dlopen requests that found nothing, and misses for `required` notes.
fn dlopen_outcomes(v: &View<'_>, acc: &mut Acc) {
    for d in &v.c.dlopened {
        if d.to.is_none() || d.error.is_some() {
            let from = v.c.objects.get(d.request.from).map(|o| o.file.location.realpath.display().to_string());
            acc.hint(
                Pack::Dlopen,
                format!(
                    "{}: dlopen(\"{}\") would fail: {} ({})",
                    from.unwrap_or_default(),
                    d.request.name,
                    d.error.as_deref().unwrap_or("not found"),
                    d.request.reason
                ),
            );
        }
    }
    if !v.rt.opts.is_enabled(Pack::Dlopen) {
        return;
    }
    let loaded = v.names_loaded(v.c.objects.len());
    for (i, f) in v.facts.iter().enumerate() {
        for e in &f.notes.entries {
            if e.priority == Priority::Required && !e.sonames.iter().any(|s| loaded.contains(s.as_bytes())) {
                acc.required.push(RequiredMiss {
                    object: v.path(i).to_path_buf(),
                    sonames: e.sonames.clone(),
                    feature: e.feature.clone(),
                });
            }
        }
    }
}
