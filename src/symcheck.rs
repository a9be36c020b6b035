//! "Will it run?": the symbol-version checks and the symbol binding glibc's `ld.so` does for
//! a closure, decided statically, with the loader's messages.
//!
//! This models `ldd -r` (`LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=yes`), glibc 2.36:
//!
//! - `_dl_check_all_versions` (`elf/dl-version.c`): for every loaded object in the loader's
//!   list order, every `DT_VERNEED` entry is looked up in the `DT_VERDEF` of the object its
//!   file name denotes (`find_needed`). A missing version is fatal (`version `V' not found`),
//!   a missing weak one is a warning, a provider without `DT_VERDEF` gives `no version
//!   information available`. Requirements of a library that was not found are skipped.
//! - The relocation pass of trace mode (`elf/rtld.c`): the objects in the reverse of their
//!   initialisation order (`_dl_sort_maps`, depth first), the loader itself skipped; in each,
//!   every `DT_RELA`/`DT_REL` and `DT_JMPREL` relocation naming a non-local symbol is looked
//!   up as `_dl_lookup_symbol_x` does (`elf/dl-lookup.c`): the scope is the executable, the
//!   preloads and the breadth-first dependency list (the object itself first under
//!   `DT_SYMBOLIC`); the first object whose hash table yields a match wins (`check_match`:
//!   undefined entries skipped for PLT-class relocations, `st_value == 0` skipped except for
//!   TLS and `SHN_ABS`, only code and data types, versions matched by name and hash, a hidden
//!   version never chosen for a reference without a version, the single non-hidden version
//!   accepted then); hidden and internal definitions are skipped; copy relocations skip the
//!   executable. A reference that stays unbound is reported unless it is weak, once per run of
//!   relocations naming the same symbol (the loader's one-entry lookup cache).
//!
//! Symbol tables are read once per file per [`SymbolCache`], which a caller keeps across
//! closures.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::bytes::Bytes;
use crate::elf::symbols::{self, NameHashes, RawTables, SymbolLimits, VERSYM_HIDDEN};
use crate::model::{Closure, FoundVia, Libc, Linkage, Role};
use crate::resolver::Resolver;

/// Why a version requirement is not met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VersionProblemKind {
    /// The provider does not define the version: the loader aborts the program.
    NotFound,
    /// A weak version (`VER_FLG_WEAK`) the provider does not define: a warning.
    WeakNotFound,
    /// The provider has no `DT_VERDEF` at all: a warning.
    NoVersionInformation,
}

/// One version requirement the loader complains about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct VersionProblem {
    /// What is wrong.
    pub kind: VersionProblemKind,
    /// The version required (`vna_name`).
    pub version: Bytes,
    /// Index (in `closure.objects`) of the object asked for it.
    pub provider: usize,
    /// Index of the object whose `DT_VERNEED` asks.
    pub required_by: usize,
}

impl VersionProblem {
    /// True when the loader would refuse to start the program.
    pub fn is_fatal(&self) -> bool {
        self.kind == VersionProblemKind::NotFound
    }
}

/// A symbol reference that nothing in scope satisfies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Undefined {
    /// The symbol.
    pub name: Bytes,
    /// The version the reference asks for, if any.
    pub version: Option<Bytes>,
    /// Index of the referencing object.
    pub object: usize,
}

/// One `Vernaux` entry of one object: a version it requires of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Requirement {
    /// The version, such as `GLIBC_2.34`.
    pub version: Bytes,
    /// The file it is required of, as in `DT_VERNEED` (`vn_file`).
    pub file: Bytes,
    /// The object that file denotes; `None` when it was not found.
    pub provider: Option<usize>,
    /// Index of the requiring object.
    pub required_by: usize,
    /// A weak requirement (`VER_FLG_WEAK`).
    pub weak: bool,
    /// True when the requiring object itself defines versions of the same prefix (libc
    /// requiring `GLIBC_*` of the loader, libstdc++'s `GLIBCXX_*` of itself): the family's
    /// requirements of one another, which come with it wherever it goes. Summaries and
    /// policies leave them out, as auditwheel leaves the loader out.
    pub within_family: bool,
    /// The symbols the requiring object imports with this version (sorted).
    pub symbols: ImportedSymbols,
}

/// The symbols an object imports with one version ([`Requirement::symbols`]), sorted and
/// without repeats. They are listed from the object's tables when first used (checks that
/// print no symbol names never list them); the list keeps those tables alive.
#[derive(Clone)]
pub struct ImportedSymbols(Imports);

#[derive(Clone)]
enum Imports {
    Listed(Arc<[Bytes]>),
    /// The imports of this version index in these tables.
    Of(Loaded, u16),
}

impl ImportedSymbols {
    /// The symbols.
    pub fn as_slice(&self) -> &[Bytes] {
        match &self.0 {
            Imports::Listed(l) => l,
            Imports::Of(f, v) => f.as_ref().as_ref().map_or(&[], |fs| fs.imports_of(*v)),
        }
    }
}

impl std::ops::Deref for ImportedSymbols {
    type Target = [Bytes];

    fn deref(&self) -> &[Bytes] {
        self.as_slice()
    }
}

impl From<Vec<Bytes>> for ImportedSymbols {
    fn from(v: Vec<Bytes>) -> Self {
        ImportedSymbols(Imports::Listed(v.into()))
    }
}

impl PartialEq for ImportedSymbols {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ImportedSymbols {}

impl std::fmt::Debug for ImportedSymbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl Serialize for ImportedSymbols {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

/// What the symbol checks found for one closure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SymbolReport {
    /// Version problems, in the order the loader reports them.
    pub version_problems: Vec<VersionProblem>,
    /// Unbound references, in the order (and with the repeats) the loader prints them.
    pub undefined: Vec<Undefined>,
    /// Every version requirement (`DT_VERNEED`) of every object, in the loader's order.
    pub required: Vec<Requirement>,
    /// Objects whose dynamic symbols could not be read: (index, reason). Their references
    /// are not checked and they provide nothing.
    pub unreadable: Vec<(usize, String)>,
    /// Set when the checks were not made, and why (a musl or static closure, a closure whose
    /// loading fails).
    pub not_checked: Option<String>,
}

impl SymbolReport {
    /// True when the loader would refuse to start the program (a missing non-weak version).
    pub fn is_fatal(&self) -> bool {
        self.version_problems.iter().any(VersionProblem::is_fatal)
    }

    /// The highest version of each prefix (the part before the first `_`: `GLIBC`,
    /// `GLIBCXX`, `CXXABI`, `GCC`...) the closure requires, by prefix; versions whose rest is
    /// not numeric (`GLIBC_PRIVATE`) are left out. "needs GLIBC_2.34, GLIBCXX_3.4.30".
    pub fn highest_versions(&self) -> Vec<Bytes> {
        let mut best: Vec<(String, Vec<u64>, Bytes)> = Vec::new();
        for v in self.required.iter().filter(|r| !r.within_family) {
            let Some((prefix, num)) = split_version(v.version.as_bytes()) else { continue };
            match best.iter_mut().find(|b| b.0 == prefix) {
                Some(b) if b.1 < num => *b = (prefix, num, v.version.clone()),
                Some(_) => {}
                None => best.push((prefix, num, v.version.clone())),
            }
        }
        best.sort_by(|a, b| a.0.cmp(&b.0));
        best.into_iter().map(|b| b.2).collect()
    }

    /// The versions required of object `provider`, without repeats, in first-seen order.
    pub fn versions_required_of(&self, provider: usize) -> Vec<&Bytes> {
        let mut out: Vec<&Bytes> = Vec::new();
        for r in self.required.iter().filter(|r| r.provider == Some(provider)) {
            if !out.contains(&&r.version) {
                out.push(&r.version);
            }
        }
        out
    }

    /// The requirements above a policy: those whose prefix the policy names with a lower
    /// maximum, as auditwheel's manylinux policies decide (`required <= allowed` per prefix,
    /// the version split at its first `_`); requirements within a family are left out.
    pub fn exceeding<'a>(&'a self, policy: &[VersionPolicy]) -> Vec<&'a Requirement> {
        if policy.is_empty() {
            return Vec::new();
        }
        self.required
            .iter()
            .filter(|r| !r.within_family)
            .filter(|r| {
                split_version(r.version.as_bytes())
                    .is_some_and(|(prefix, num)| policy.iter().any(|p| p.prefix == prefix && num > p.max))
            })
            .collect()
    }

    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.version_problems.is_empty() && self.undefined.is_empty() && self.unreadable.is_empty()
    }

    /// The lines `ldd -r` prints on stderr for these problems, in its order: the version
    /// messages (`PROG: LIB: version `V' not found (required by R)`), then the unbound
    /// references (`undefined symbol: NAME[, version V]\t(FILE)`). Object names are the
    /// paths the loader opened (the input as given).
    pub fn ldd_lines(&self, closure: &Closure) -> Vec<String> {
        let name = |i: usize| object_name(closure, i);
        let prog = object_name(closure, 0);
        let mut out = Vec::new();
        for p in &self.version_problems {
            let v = p.version.to_string_lossy();
            let (lib, req) = (name(p.provider), name(p.required_by));
            out.push(match p.kind {
                VersionProblemKind::NotFound => format!("{prog}: {lib}: version `{v}' not found (required by {req})"),
                VersionProblemKind::WeakNotFound => {
                    format!("{prog}: {lib}: weak version `{v}' not found (required by {req})")
                }
                VersionProblemKind::NoVersionInformation => {
                    format!("{prog}: {lib}: no version information available (required by {req})")
                }
            });
        }
        for u in &self.undefined {
            let version = u.version.as_ref().map(|v| format!(", version {v}")).unwrap_or_default();
            out.push(format!("undefined symbol: {}{version}\t({})", u.name, name(u.object)));
        }
        out
    }
}

/// A maximum version per prefix, such as `GLIBC<=2.28`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionPolicy {
    /// The prefix, upper case (`GLIBC`, `GLIBCXX`, `CXXABI`, `GCC`...).
    pub prefix: String,
    /// The highest allowed version, by numeric components.
    pub max: Vec<u64>,
}

impl std::str::FromStr for VersionPolicy {
    type Err = String;

    /// `PREFIX<=VERSION` (`glibc<=2.28`, `GLIBCXX<=3.4.25`); the prefix in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (prefix, max) =
            s.split_once("<=").ok_or_else(|| format!("{s:?}: expected PREFIX<=VERSION, as glibc<=2.28"))?;
        let prefix = prefix.trim().to_ascii_uppercase();
        if prefix.is_empty() || prefix.contains('_') {
            return Err(format!("{s:?}: the prefix must be a name such as GLIBC, GLIBCXX, CXXABI or GCC"));
        }
        let max = numeric(max.trim().as_bytes())
            .ok_or_else(|| format!("{s:?}: the version must be numbers separated by dots"))?;
        Ok(VersionPolicy { prefix, max })
    }
}

impl std::fmt::Display for VersionPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<String> = self.max.iter().map(u64::to_string).collect();
        write!(f, "{}<={}", self.prefix, v.join("."))
    }
}

/// `1.2.3` as numbers; `None` for anything else.
fn numeric(s: &[u8]) -> Option<Vec<u64>> {
    let s = std::str::from_utf8(s).ok()?;
    s.split('.')
        .map(|p| if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) { None } else { p.parse().ok() })
        .collect()
}

/// `GLIBC_2.34` as (`GLIBC`, [2, 34]): split at the first `_`, as auditwheel does.
fn split_version(v: &[u8]) -> Option<(String, Vec<u64>)> {
    let at = v.iter().position(|&b| b == b'_')?;
    let prefix = std::str::from_utf8(&v[..at]).ok()?.to_ascii_uppercase();
    Some((prefix, numeric(&v[at + 1..])?))
}

/// The name the loader knows object `i` by (`l_name`): the path it opened, in the root;
/// for the input, the path as given when the root is `/` or the input lies outside the root
/// (the loader's own name for its program is its argument).
pub fn object_name(closure: &Closure, i: usize) -> String {
    let external =
        closure.diagnostics.iter().any(|d| d.object.is_none() && d.message.starts_with(crate::resolver::OUTSIDE_ROOT));
    if i == 0 && (closure.root.as_os_str() == "/" || external) {
        closure.input.to_string_lossy().into_owned()
    } else {
        closure.objects[i].file.location.path.to_string_lossy().into_owned()
    }
}

/// `l_versions[i]` of a map: what version index `i` means in that object.
#[derive(Clone, Debug, Default)]
struct VersionSlot {
    name: Bytes,
    hash: u32,
    hidden: bool,
    /// Set for a requirement (`DT_VERNEED`), the file it is required of.
    filename: Option<Bytes>,
}

/// One file's dynamic tables (as in the file: lookups walk its own hash table, as the
/// loader does), relocations, and what the checks need of them, read once.
struct FileSymbols {
    raw: RawTables,
    /// The lookups the relocations make, in order: (symbol index, class), relocations the
    /// loader resolves without a lookup (no symbol class, local or hidden symbols) left out,
    /// a repeat of the previous lookup left out (`l_lookup_cache`), then the lookups of weak
    /// symbols left out (their outcome is never reported).
    lookups: Vec<(u32, u8)>,
    /// Some lookup is a copy relocation's (those skip the executable).
    has_copy: bool,
    /// Imported symbol names by version index (sorted, without repeats), listed when first
    /// asked for.
    imports_by_version: OnceLock<FxHashMap<u16, Arc<[Bytes]>>>,
    /// `l_versions` when every file named in `DT_VERNEED` is loaded (the usual case).
    slots_all_found: Vec<VersionSlot>,
}

impl FileSymbols {
    fn new(mut raw: RawTables) -> FileSymbols {
        let mut lookups = Vec::new();
        let mut last: Option<(u32, u8)> = None;
        // The relocations are needed only for the lookups they make.
        let refs = std::mem::take(&mut raw.relocs.refs);
        for rel in &refs {
            let Some(class) = reloc_class(raw.relocs.machine, rel.kind) else { continue };
            let Some(sym) = raw.sym(rel.sym as usize) else { continue };
            if sym.bind == symbols::STB_LOCAL || matches!(sym.visibility, symbols::STV_HIDDEN | symbols::STV_INTERNAL) {
                continue;
            }
            if last == Some((rel.sym, class)) {
                continue;
            }
            last = Some((rel.sym, class));
            lookups.push((rel.sym, class));
        }
        // A weak reference left unbound is no error: whether it binds changes nothing the
        // checks report, so it is not looked up at all. (Dropped after the repeats above:
        // a weak lookup between two of the same symbol still empties the loader's cache.)
        lookups.retain(|&(sym, _)| raw.sym(sym as usize).is_some_and(|s| s.bind != symbols::STB_WEAK));
        let slots_all_found = version_slots(&raw, |_| true);
        let has_copy = lookups.iter().any(|&(_, class)| class & CLASS_COPY != 0);
        FileSymbols { raw, lookups, has_copy, imports_by_version: OnceLock::new(), slots_all_found }
    }

    /// The symbols imported with version index `v`.
    fn imports_of(&self, v: u16) -> &[Bytes] {
        self.imports_by_version.get_or_init(|| imports_by_version(&self.raw)).get(&v).map_or(&[], |l| l)
    }
}

/// The names of a file's imports by version index, sorted, without repeats.
fn imports_by_version(raw: &RawTables) -> FxHashMap<u16, Arc<[Bytes]>> {
    let mut by_version: FxHashMap<u16, Vec<Bytes>> = FxHashMap::default();
    if raw.versym.is_some() {
        for i in 0..raw.count {
            let Some(s) = raw.sym(i) else { break };
            if s.shndx != symbols::SHN_UNDEF || !matches!(s.bind, symbols::STB_GLOBAL | symbols::STB_WEAK) {
                continue;
            }
            let name = raw.str_at(s.name);
            if name.is_empty() {
                continue;
            }
            if let Some(v) = raw.versym(i) {
                by_version.entry(v & !VERSYM_HIDDEN).or_default().push(Bytes::from(name));
            }
        }
    }
    by_version
        .into_iter()
        .map(|(k, mut v)| {
            v.sort();
            v.dedup();
            (k, Arc::from(v))
        })
        .collect()
}

/// `l_versions` as `_dl_check_map_versions` fills it: requirements first, then the
/// definitions other than the base one. The table is as long as the highest index among the
/// definitions and the requirements of files that were found (`found(vn_file)`): in trace
/// mode the requirements of a missing library do not count, and those past the end are
/// left out (a reference with such a version is looked up without one).
fn version_slots(s: &RawTables, found: impl Fn(&[u8]) -> bool) -> Vec<VersionSlot> {
    let high = s
        .verneed
        .iter()
        .filter(|n| found(n.file.as_bytes()))
        .flat_map(|n| n.entries.iter().map(|a| a.other & !VERSYM_HIDDEN))
        .chain(s.verdef.iter().map(|d| d.index & !VERSYM_HIDDEN))
        .max();
    let Some(high) = high.filter(|&h| h > 0) else { return Vec::new() };
    let mut v = vec![VersionSlot::default(); usize::from(high) + 1];
    for n in &s.verneed {
        for a in &n.entries {
            if let Some(slot) = v.get_mut(usize::from(a.other & !VERSYM_HIDDEN)) {
                *slot = VersionSlot {
                    name: a.name.clone(),
                    hash: a.hash,
                    hidden: a.other & VERSYM_HIDDEN != 0,
                    filename: Some(n.file.clone()),
                };
            }
        }
    }
    for d in &s.verdef {
        if d.is_base() {
            continue;
        }
        if let Some(slot) = v.get_mut(usize::from(d.index & !VERSYM_HIDDEN)) {
            slot.hash = d.hash;
            slot.name = d.names.first().cloned().unwrap_or_default();
            slot.filename = None;
        }
    }
    v
}

type Loaded = Arc<Result<FileSymbols, String>>;

/// For (an `own` result's address, a file's address): which of those open lookups the file
/// satisfies, one bit each.
type Pairs = FxHashMap<(usize, usize), Arc<[u64]>>;

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

    fn load(&self, host: &Path) -> Loaded {
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
fn checked_at_all(closure: &Closure) -> bool {
    closure.libc == Libc::Glibc && closure.linkage != Linkage::Static && closure.fatal.is_none()
}

/// True when the closure's input lies outside its root (it is read from the host).
fn is_external(closure: &Closure) -> bool {
    closure.diagnostics.iter().any(|d| d.object.is_none() && d.message.starts_with(crate::resolver::OUTSIDE_ROOT))
}

/// Check one closure with a fresh cache (see [`SymbolCache::check`]).
pub fn check(closure: &Closure, resolver: &Resolver) -> SymbolReport {
    SymbolCache::new().check(closure, resolver)
}

/// Files at least this large are mapped rather than read: their tables are then windows on
/// the mapping, kept for the run, and nothing is copied (the pages a lookup touches are the
/// page cache's). Smaller files take one read.
const MAP_AT: u64 = 16 << 10;

/// At most this many files stay mapped per cache (well below the kernel's default of 65,530
/// mappings per process); past it, files are read.
const MAX_MAPS: usize = 16 << 10;

fn read_file(host: &Path, limits: &SymbolLimits, maps: &AtomicUsize) -> Result<FileSymbols, String> {
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
        .then(|| unsafe { memmap2::Mmap::map(&file) }.ok())
        .flatten();
    let read = if let Some(map) = map {
        symbols::read_raw(&symbols::MappedFile(Arc::new(map)), limits)
    } else {
        crate::resolver::with_source(&file, size, |src| symbols::read_raw(src, limits))
            .map_err(|errno| err(&crate::root::errno_text(errno)))?
    };
    Ok(FileSymbols::new(read.map_err(|e| err(&e))?))
}

/// `ELF_RTYPE_CLASS_PLT`.
const CLASS_PLT: u8 = 1;
/// `ELF_RTYPE_CLASS_COPY`.
const CLASS_COPY: u8 = 2;

/// How the machine's loader treats a relocation type: `None` when it looks nothing up
/// (`R_*_NONE`, `R_*_RELATIVE`), else its `elf_machine_type_class`.
fn reloc_class(machine: u16, kind: u32) -> Option<u8> {
    use crate::elf::{EM_386, EM_AARCH64, EM_S390, EM_X86_64};
    let (relative, copy, plt): (&[u32], u32, &[u32]) = match machine {
        // R_X86_64_RELATIVE, RELATIVE64; COPY; JUMP_SLOT, DTPMOD64, DTPOFF64, TPOFF64, TLSDESC.
        EM_X86_64 => (&[8, 38], 5, &[7, 16, 17, 18, 36]),
        // R_386_RELATIVE; COPY; JMP_SLOT, TLS_TPOFF, TLS_DTPMOD32, TLS_DTPOFF32, TLS_TPOFF32, TLS_DESC.
        EM_386 => (&[8], 5, &[7, 14, 35, 36, 37, 41]),
        // R_AARCH64_RELATIVE; COPY; JUMP_SLOT, TLS_DTPMOD, TLS_DTPREL, TLS_TPREL, TLSDESC.
        EM_AARCH64 => (&[1027], 1024, &[1026, 1028, 1029, 1030, 1031]),
        // R_390_RELATIVE; COPY; JMP_SLOT, TLS_DTPMOD, TLS_DTPOFF, TLS_TPOFF.
        EM_S390 => (&[12], 9, &[11, 54, 55, 56]),
        _ => (&[], u32::MAX, &[]),
    };
    if kind == 0 || relative.contains(&kind) {
        None
    } else if kind == copy {
        Some(CLASS_COPY)
    } else if plt.contains(&kind) {
        Some(CLASS_PLT)
    } else {
        Some(0)
    }
}

/// A version a reference asks for (`struct r_found_version`).
struct Wanted<'a> {
    name: &'a Bytes,
    hash: u32,
    hidden: bool,
}

struct Checker<'a> {
    closure: &'a Closure,
    maps: &'a [Option<&'a FileSymbols>],
    /// `l_versions` of each object.
    slots: Vec<Cow<'a, [VersionSlot]>>,
    /// The cache's lookups left open by objects' own dependency sets.
    own: &'a Mutex<FxHashMap<OwnKey, Arc<[u32]>>>,
    /// The cache's answers per (open lookups, file).
    pairs: &'a Mutex<Pairs>,
    /// The tables of each object, shared (for [`ImportedSymbols`]).
    files: &'a [Option<Loaded>],
    report: &'a mut SymbolReport,
}

/// An object and the files of its dependency set (by address in the cache, which keeps
/// them alive), and which of them is the executable (copy relocations skip it).
#[derive(Clone, PartialEq, Eq, Hash)]
struct OwnKey {
    files: Vec<usize>,
    main_at: Option<usize>,
}

impl Checker<'_> {
    fn run(&mut self) {
        let search = self.search_list();
        self.slots = (0..self.closure.objects.len())
            .map(|i| match self.maps[i] {
                Some(m) if m.raw.verneed.iter().all(|n| self.find_needed(&search, n.file.as_bytes()).is_some()) => {
                    Cow::Borrowed(&m.slots_all_found[..])
                }
                Some(m) => Cow::Owned(version_slots(&m.raw, |f| self.find_needed(&search, f).is_some())),
                None => Cow::Owned(Vec::new()),
            })
            .collect();
        self.versions(&search);
        self.bind(&search);
    }

    /// The main map's `l_searchlist`: the executable, then every object in the order
    /// `_dl_map_object_deps` first reaches it (preloads first); the loader is in it only
    /// where some object needs it.
    fn search_list(&self) -> Vec<usize> {
        let n = self.closure.objects.len();
        let mut seen = vec![false; n];
        let mut out = vec![0];
        seen[0] = true;
        for e in &self.closure.edges {
            if e.via == FoundVia::Interpreter || e.to >= n || seen[e.to] {
                continue;
            }
            seen[e.to] = true;
            out.push(e.to);
        }
        out
    }

    /// `find_needed`: the first loaded object known by `name` (the loader list is the search
    /// list here).
    fn find_needed(&self, search: &[usize], name: &[u8]) -> Option<usize> {
        search.iter().copied().find(|&i| {
            let o = &self.closure.objects[i];
            o.names.iter().any(|n| n.as_bytes() == name)
                || o.file.location.path.as_os_str().as_encoded_bytes() == name
                || (i > 0 && o.file.soname.as_ref().is_some_and(|s| s.as_bytes() == name) && o.role != Role::Input)
        })
    }

    fn versions(&mut self, search: &[usize]) {
        for &r in search {
            let Some(map) = self.maps[r] else { continue };
            let own_prefixes: Vec<&[u8]> = map
                .raw
                .verdef
                .iter()
                .filter(|d| !d.is_base())
                .filter_map(|d| d.names.first())
                .filter_map(|n| n.as_bytes().split(|&b| b == b'_').next())
                .collect();
            for need in &map.raw.verneed {
                let provider = self.find_needed(search, need.file.as_bytes());
                for aux in &need.entries {
                    let prefix = aux.name.as_bytes().split(|&b| b == b'_').next().unwrap_or_default();
                    let symbols = match &self.files[r] {
                        Some(l) => ImportedSymbols(Imports::Of(l.clone(), aux.other & !VERSYM_HIDDEN)),
                        None => ImportedSymbols::from(Vec::new()),
                    };
                    self.report.required.push(Requirement {
                        version: aux.name.clone(),
                        file: need.file.clone(),
                        provider,
                        required_by: r,
                        weak: aux.is_weak(),
                        within_family: own_prefixes.contains(&prefix),
                        symbols,
                    });
                    // A missing library: the loader's stub has no versions to check.
                    let Some(p) = provider else { continue };
                    let Some(pm) = self.maps[p] else { continue };
                    let kind = if pm.raw.verdef.is_empty() {
                        Some(VersionProblemKind::NoVersionInformation)
                    } else if pm.raw.verdef.iter().any(|d| d.hash == aux.hash && d.names.first() == Some(&aux.name)) {
                        None
                    } else if aux.is_weak() {
                        Some(VersionProblemKind::WeakNotFound)
                    } else {
                        Some(VersionProblemKind::NotFound)
                    };
                    if let Some(kind) = kind {
                        self.report.version_problems.push(VersionProblem {
                            kind,
                            version: aux.name.clone(),
                            provider: p,
                            required_by: r,
                        });
                    }
                }
            }
        }
    }

    /// The order the trace-mode relocation loop visits objects: the reverse of
    /// `_dl_sort_maps`' depth-first order over the search list (each object's direct
    /// dependencies in `DT_NEEDED` order, the executable never entered as a dependency).
    fn relocation_order(&self, search: &[usize]) -> Vec<usize> {
        let n = self.closure.objects.len();
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.closure.edges {
            if e.via == FoundVia::Interpreter || e.from >= n || e.to >= n {
                continue;
            }
            if e.to != e.from && !deps[e.from].contains(&e.to) {
                deps[e.from].push(e.to);
            }
        }
        let mut visited = vec![false; n];
        let mut out = Vec::with_capacity(search.len());
        // Iterative depth-first traversal (a deep chain must not overflow the stack).
        for &top in search.iter().rev() {
            if visited[top] {
                continue;
            }
            visited[top] = true;
            let mut stack: Vec<(usize, usize)> = vec![(top, 0)];
            while let Some((m, k)) = stack.last_mut() {
                let m = *m;
                if let Some(&d) = deps[m].get(*k) {
                    *k += 1;
                    if !visited[d] && d != 0 {
                        visited[d] = true;
                        stack.push((d, 0));
                    }
                } else {
                    stack.pop();
                    out.push(m);
                }
            }
        }
        out
    }

    fn bind(&mut self, search: &[usize]) {
        let order = self.relocation_order(search);
        let deps = self.dependency_sets();
        for r in order {
            if self.closure.objects[r].role == Role::Interpreter {
                continue;
            }
            let Some(map) = self.maps[r] else { continue };
            // The lookups nothing in the object's own dependency set satisfies (everything in
            // it is in the global scope too, so a lookup it satisfies is satisfied): computed
            // once per (object, dependency files) and kept across closures.
            let (open, checked) = match &deps[r] {
                // Valid when every member's `l_versions` is the file's own (all its version
                // requirements' files loaded), as it then is in every closure.
                Some(set) if set.iter().all(|&m| matches!(self.slots[m], Cow::Borrowed(_))) => {
                    let key = OwnKey {
                        files: set
                            .iter()
                            .map(|&m| self.maps[m].map_or(0, |f| f as *const FileSymbols as usize))
                            .collect(),
                        // Which member is the executable matters only to copy relocations:
                        // without them, a library's results as an input and as a dependency
                        // are the same.
                        main_at: if map.has_copy { set.iter().position(|&m| m == 0) } else { None },
                    };
                    let cached = self.own.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
                    let v = match cached {
                        Some(v) => v,
                        None => {
                            let v: Arc<[u32]> = self.open_lookups(set, r, map, None).into();
                            // The first result stays (another thread may have made the same):
                            // its address keys `SymbolCache::pairs`.
                            self.own.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(v).clone()
                        }
                    };
                    (v, true)
                }
                _ => ((0..map.lookups.len() as u32).collect::<Vec<_>>().into(), false),
            };
            // The dependency set is part of the search list; when it is all of it (the
            // executable's, usually), what it leaves open is what stays unbound.
            let whole = checked && deps[r].as_ref().is_some_and(|set| set.len() == search.len());
            let unbound = match &deps[r] {
                _ if whole => open.to_vec(),
                _ if open.is_empty() => Vec::new(),
                Some(set) if checked => self.still_open(search, set, r, map, &open),
                _ => self.open_lookups(search, r, map, Some(&open)),
            };
            for k in unbound {
                let (sym_idx, _) = map.lookups[k as usize];
                let Some(sym) = map.raw.sym(sym_idx as usize) else { continue };
                if sym.bind == symbols::STB_WEAK {
                    continue;
                }
                let version = self.wanted(r, map, sym_idx).map(|w| w.name.clone());
                let name = Bytes::from(map.raw.str_at(sym.name));
                self.report.undefined.push(Undefined { name, version, object: r });
            }
        }
    }

    /// The lookups of `open` (what object `r`'s dependency set `set` leaves open) that no
    /// other object of `search` satisfies. Whether an object satisfies one depends only on
    /// the two files when both have their own `l_versions` (and the object is not the
    /// executable facing a copy relocation): that answer, for all of `open` at once, is
    /// computed once per pair of files and kept in the cache, so an object that leaves the
    /// same references open in many closures costs a few bit operations per co-loaded file.
    fn still_open(&self, search: &[usize], set: &[usize], r: usize, map: &FileSymbols, open: &Arc<[u32]>) -> Vec<u32> {
        let n = open.len();
        let mut left = vec![true; n];
        let mut remaining = n;
        let mut in_set = vec![false; self.closure.objects.len()];
        for &m in set {
            in_set[m] = true;
        }
        for &m in search {
            if remaining == 0 {
                break;
            }
            let Some(mm) = self.maps[m] else { continue };
            if in_set[m] {
                continue;
            }
            if matches!(self.slots[m], Cow::Borrowed(_)) && !(m == 0 && map.has_copy) {
                let key = (Arc::as_ptr(open) as *const u32 as usize, mm as *const FileSymbols as usize);
                let cached = self.pairs.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
                let sat = match cached {
                    Some(v) => v,
                    None => {
                        let mut bits = vec![0u64; n.div_ceil(64)];
                        for (k, &at) in open.iter().enumerate() {
                            if self.satisfies(m, mm, r, map, at) {
                                bits[k / 64] |= 1 << (k % 64);
                            }
                        }
                        let v: Arc<[u64]> = bits.into();
                        self.pairs.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(v).clone()
                    }
                };
                for (k, l) in left.iter_mut().enumerate() {
                    if *l && sat[k / 64] & (1 << (k % 64)) != 0 {
                        *l = false;
                        remaining -= 1;
                    }
                }
            } else {
                for (k, l) in left.iter_mut().enumerate() {
                    if *l && self.satisfies(m, mm, r, map, open[k]) {
                        *l = false;
                        remaining -= 1;
                    }
                }
            }
        }
        open.iter().zip(left).filter(|(_, l)| *l).map(|(&k, _)| k).collect()
    }

    /// Whether object `m` (not `r`) satisfies lookup `at` of object `r`.
    fn satisfies(&self, m: usize, mm: &FileSymbols, r: usize, map: &FileSymbols, at: u32) -> bool {
        let (sym_idx, class) = map.lookups[at as usize];
        if class & CLASS_COPY != 0 && m == 0 {
            return false;
        }
        let Some(sym) = map.raw.sym(sym_idx as usize) else { return false };
        let name = map.raw.str_at(sym.name);
        let wanted = self.wanted(r, map, sym_idx);
        self.lookup_in(mm, &self.slots[m], name, &NameHashes::of(name), None, wanted.as_ref(), class)
    }

    /// The version a reference of object `r` asks for: its `l_versions` entry, when that has
    /// a hash (`RESOLVE_MAP` passes no version otherwise).
    fn wanted<'s>(&'s self, r: usize, map: &FileSymbols, sym_idx: u32) -> Option<Wanted<'s>> {
        map.raw
            .versym(sym_idx as usize)
            .and_then(|i| self.slots[r].get(usize::from(i & !VERSYM_HIDDEN)))
            .filter(|v| v.hash != 0)
            .map(|v| Wanted { name: &v.name, hash: v.hash, hidden: v.hidden })
    }

    /// The positions in `map.lookups` (all of them, or those of `only`) that no object of
    /// `scope` satisfies.
    fn open_lookups(&self, scope: &[usize], r: usize, map: &FileSymbols, only: Option<&[u32]>) -> Vec<u32> {
        let all: Vec<u32>;
        let which: &[u32] = match only {
            Some(o) => o,
            None => {
                all = (0..map.lookups.len() as u32).collect();
                &all
            }
        };
        let mut hint = 0;
        which
            .iter()
            .copied()
            .filter(|&k| {
                let (sym_idx, class) = map.lookups[k as usize];
                let wanted = self.wanted(r, map, sym_idx);
                !self.lookup(scope, r, map, sym_idx, wanted.as_ref(), class, &mut hint)
            })
            .collect()
    }

    /// For each object, the objects its loading brings in (itself, then its transitive
    /// dependencies), in breadth-first order.
    fn dependency_sets(&self) -> Vec<Option<Vec<usize>>> {
        let n = self.closure.objects.len();
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.closure.edges {
            if e.via == FoundVia::Interpreter || e.from >= n || e.to >= n {
                continue;
            }
            if !deps[e.from].contains(&e.to) {
                deps[e.from].push(e.to);
            }
        }
        (0..n)
            .map(|r| {
                let mut seen = vec![false; n];
                let mut out = vec![r];
                seen[r] = true;
                let mut i = 0;
                while i < out.len() {
                    for &d in &deps[out[i]] {
                        if !seen[d] {
                            seen[d] = true;
                            out.push(d);
                        }
                    }
                    i += 1;
                }
                Some(out)
            })
            .collect()
    }

    /// `_dl_lookup_symbol_x` for symbol `ref_idx` of object `undef`: true when a definition
    /// is found in scope.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &self,
        scope: &[usize],
        undef: usize,
        umap: &FileSymbols,
        ref_idx: u32,
        wanted: Option<&Wanted<'_>>,
        class: u8,
        hint: &mut usize,
    ) -> bool {
        let Some(sym) = umap.raw.sym(ref_idx as usize) else { return false };
        let name = umap.raw.str_at(sym.name);
        let hashes = NameHashes::of(name);
        // Whether some object of the scope satisfies the reference does not depend on the
        // order they are searched in (the loader's order decides only which one binds, and
        // its DT_SYMBOLIC object is in the scope anyway): try the last object that did first.
        let n = scope.len();
        for k in 0..n {
            let at = (*hint + k) % n;
            let m = scope[at];
            if class & CLASS_COPY != 0 && m == 0 {
                continue;
            }
            let Some(map) = self.maps[m] else { continue };
            if self.lookup_in(map, &self.slots[m], name, &hashes, (m == undef).then_some(ref_idx), wanted, class) {
                *hint = at;
                return true;
            }
        }
        false
    }

    /// `do_lookup_x` for one object: true when it yields a usable definition.
    #[allow(clippy::too_many_arguments)]
    fn lookup_in(
        &self,
        map: &FileSymbols,
        slots: &[VersionSlot],
        name: &[u8],
        hashes: &NameHashes<'_>,
        self_ref: Option<u32>,
        wanted: Option<&Wanted<'_>>,
        class: u8,
    ) -> bool {
        let mut num_versions = 0;
        let mut versioned = None;
        let found = map.raw.candidates(hashes, |i| {
            check_match(map, slots, i, name, self_ref == Some(i), wanted, class, &mut num_versions, &mut versioned)
        });
        let Some(i) = found.or(if num_versions == 1 { versioned } else { None }) else { return false };
        let Some(s) = map.raw.sym(i as usize) else { return false };
        if matches!(s.visibility, symbols::STV_HIDDEN | symbols::STV_INTERNAL) {
            return false;
        }
        matches!(s.bind, symbols::STB_GLOBAL | symbols::STB_WEAK | symbols::STB_GNU_UNIQUE)
    }
}

/// glibc's `check_match`: whether symbol `i` of `map` satisfies the reference to `name`
/// (`is_ref`: it is the referencing symbol itself).
#[allow(clippy::too_many_arguments)]
fn check_match(
    map: &FileSymbols,
    slots: &[VersionSlot],
    i: u32,
    name: &[u8],
    is_ref: bool,
    wanted: Option<&Wanted<'_>>,
    class: u8,
    num_versions: &mut u32,
    versioned: &mut Option<u32>,
) -> bool {
    let Some(s) = map.raw.sym(i as usize) else { return false };
    if (s.value == 0 && s.shndx != symbols::SHN_ABS && s.kind != symbols::STT_TLS)
        || (class & CLASS_PLT != 0 && s.shndx == symbols::SHN_UNDEF)
    {
        return false;
    }
    const ALLOWED: u32 = (1 << symbols::STT_NOTYPE)
        | (1 << symbols::STT_OBJECT)
        | (1 << symbols::STT_FUNC)
        | (1 << symbols::STT_COMMON)
        | (1 << symbols::STT_TLS)
        | (1 << symbols::STT_GNU_IFUNC);
    if (1u32 << (s.kind & 0xf)) & ALLOWED == 0 {
        return false;
    }
    if !is_ref && !map.raw.name_is(s.name, name) {
        return false;
    }
    let Some(versym) = map.raw.versym(i as usize) else {
        // No DT_VERSYM: every definition is used.
        return true;
    };
    let ndx = usize::from(versym & !VERSYM_HIDDEN);
    match wanted {
        Some(w) => {
            let slot = slots.get(ndx);
            let (hash, vname) = slot.map_or((0, None), |v| (v.hash, Some(&v.name)));
            let same = hash == w.hash && vname == Some(w.name);
            same || !(w.hidden || hash != 0 || versym & VERSYM_HIDDEN != 0)
        }
        None => {
            if ndx >= 3 {
                if versym & VERSYM_HIDDEN == 0 {
                    if *num_versions == 0 {
                        *versioned = Some(i);
                    }
                    *num_versions += 1;
                }
                return false;
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_auditwheel_splits_versions() {
        let p: VersionPolicy = "glibc<=2.28".parse().unwrap();
        assert_eq!((p.prefix.as_str(), &p.max[..]), ("GLIBC", &[2, 28][..]));
        assert_eq!(p.to_string(), "GLIBC<=2.28");
        let p: VersionPolicy = " GLIBCXX <= 3.4.25 ".parse().unwrap();
        assert_eq!((p.prefix.as_str(), &p.max[..]), ("GLIBCXX", &[3, 4, 25][..]));
        for bad in ["glibc=2.28", "<=2.28", "glibc<=", "glibc<=2.x", "GLIBC_2<=3", "glibc<=2..8"] {
            assert!(bad.parse::<VersionPolicy>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(split_version(b"GLIBC_2.34"), Some(("GLIBC".into(), vec![2, 34])));
        assert_eq!(split_version(b"CXXABI_1.3.13"), Some(("CXXABI".into(), vec![1, 3, 13])));
        assert_eq!(split_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(split_version(b"libc.so.6"), None);
        // Numeric, not textual, comparison: 2.9 < 2.28.
        assert!(split_version(b"GLIBC_2.9").unwrap().1 < split_version(b"GLIBC_2.28").unwrap().1);
    }

    fn req(version: &str, within_family: bool) -> Requirement {
        Requirement {
            version: Bytes::from(version),
            file: Bytes::from("libc.so.6"),
            provider: Some(1),
            required_by: 0,
            weak: false,
            within_family,
            symbols: vec![Bytes::from("sym")].into(),
        }
    }

    #[test]
    fn summaries_and_policies_take_the_highest_version_per_prefix() {
        let report = SymbolReport {
            required: vec![
                req("GLIBC_2.2.5", false),
                req("GLIBC_2.34", false),
                req("GLIBC_2.28", false),
                req("GLIBC_2.35", true),
                req("GLIBC_PRIVATE", false),
                req("GLIBCXX_3.4.30", false),
            ],
            ..SymbolReport::default()
        };
        let needs: Vec<String> = report.highest_versions().iter().map(|b| b.to_string()).collect();
        assert_eq!(needs, ["GLIBC_2.34", "GLIBCXX_3.4.30"]);
        let policy = |s: &str| vec![s.parse::<VersionPolicy>().unwrap()];
        let over: Vec<String> =
            report.exceeding(&policy("glibc<=2.28")).iter().map(|r| r.version.to_string()).collect();
        assert_eq!(over, ["GLIBC_2.34"]);
        assert!(report.exceeding(&policy("glibc<=2.34")).is_empty());
        assert!(report.exceeding(&policy("GCC<=1.0")).is_empty());
        assert_eq!(report.exceeding(&policy("glibcxx<=3.4.29")).len(), 1);
        assert_eq!(report.versions_required_of(1).len(), 6);
    }

    #[test]
    fn relocation_classes_of_the_modelled_machines() {
        use crate::elf::{EM_386, EM_AARCH64, EM_S390, EM_X86_64};
        // NONE and RELATIVE look nothing up; COPY and the PLT class are told apart.
        assert_eq!(reloc_class(EM_X86_64, 0), None);
        assert_eq!(reloc_class(EM_X86_64, 8), None);
        assert_eq!(reloc_class(EM_X86_64, 5), Some(CLASS_COPY));
        assert_eq!(reloc_class(EM_X86_64, 7), Some(CLASS_PLT));
        assert_eq!(reloc_class(EM_X86_64, 6), Some(0));
        assert_eq!(reloc_class(EM_386, 8), None);
        assert_eq!(reloc_class(EM_AARCH64, 1026), Some(CLASS_PLT));
        assert_eq!(reloc_class(EM_S390, 11), Some(CLASS_PLT));
        assert_eq!(reloc_class(EM_S390, 9), Some(CLASS_COPY));
    }
}
