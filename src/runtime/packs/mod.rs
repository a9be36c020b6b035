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

mod files;

pub(super) use self::files::files;

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
                        || self
                            .facts
                            .iter()
                            .enumerate()
                            .any(|(j, g)| j != i && direct[j] && self.rt.facts.imports_from(&self.facts[i], g))
                })
                .collect()
        });
        all.get(i).copied().unwrap_or(false)
    }

    /// Path strings of object `i`, split at `:` (search lists), normalised, deduplicated.
    /// Worked out once per file for a run (kept with its facts).
    fn path_strings(&self, i: usize) -> &[(Vec<u8>, Bytes)] {
        self.facts[i].path_strings.get_or_init(|| Self::split_paths(&self.facts[i]))
    }

    fn split_paths(facts: &Facts) -> Vec<(Vec<u8>, Bytes)> {
        let mut out = Vec::new();
        for s in &facts.strings.paths {
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
