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

mod cache;
mod checker;

use self::cache::*;
pub use self::cache::{check, SymbolCache};
use self::checker::*;

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
    /// The hash table's bloom filter, decoded: most objects of a scope are passed over on it.
    bloom: symbols::Bloom,
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
            // A weak reference left unbound is no error: whether it binds changes nothing the
            // checks report, so it is not looked up at all. (Dropped after the repeats are:
            // a weak lookup between two of the same symbol still empties the loader's cache.)
            if sym.bind != symbols::STB_WEAK {
                lookups.push((rel.sym, class));
            }
        }
        let slots_all_found = version_slots(&raw, |_| true);
        let has_copy = lookups.iter().any(|&(_, class)| class & CLASS_COPY != 0);
        let bloom = raw.bloom();
        FileSymbols { raw, lookups, has_copy, imports_by_version: OnceLock::new(), slots_all_found, bloom }
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

#[cfg(test)]
mod tests;
