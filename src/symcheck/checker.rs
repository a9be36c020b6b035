//! The checks themselves: symbol versions as `_dl_check_map_versions` does them, and symbol
//! binding as `_dl_relocate_object` looks names up, over one closure.

use super::*;

/// `ELF_RTYPE_CLASS_PLT`.
pub(super) const CLASS_PLT: u8 = 1;
/// `ELF_RTYPE_CLASS_COPY`.
pub(super) const CLASS_COPY: u8 = 2;

/// How the machine's loader treats a relocation type: `None` when it looks nothing up
/// (`R_*_NONE`, `R_*_RELATIVE`), else its `elf_machine_type_class`.
pub(super) fn reloc_class(machine: u16, kind: u32) -> Option<u8> {
    use crate::elf::{EM_386, EM_AARCH64, EM_S390, EM_X86_64};
    if kind == 0 {
        return None;
    }
    // One match (a jump table), not a search of per-machine lists: every relocation of
    // every file passes here.
    let class = match (machine, kind) {
        // R_X86_64_RELATIVE, RELATIVE64; R_386_RELATIVE; R_AARCH64_RELATIVE; R_390_RELATIVE.
        (EM_X86_64, 8 | 38) | (EM_386, 8) | (EM_AARCH64, 1027) | (EM_S390, 12) => return None,
        // The COPY relocations.
        (EM_X86_64 | EM_386, 5) | (EM_AARCH64, 1024) | (EM_S390, 9) => CLASS_COPY,
        // x86-64: JUMP_SLOT, DTPMOD64, DTPOFF64, TPOFF64, TLSDESC.
        (EM_X86_64, 7 | 16 | 17 | 18 | 36)
        // i386: JMP_SLOT, TLS_TPOFF, TLS_DTPMOD32, TLS_DTPOFF32, TLS_TPOFF32, TLS_DESC.
        | (EM_386, 7 | 14 | 35 | 36 | 37 | 41)
        // AArch64: JUMP_SLOT, TLS_DTPMOD, TLS_DTPREL, TLS_TPREL, TLSDESC.
        | (EM_AARCH64, 1026 | 1028 | 1029 | 1030 | 1031)
        // s390: JMP_SLOT, TLS_DTPMOD, TLS_DTPOFF, TLS_TPOFF.
        | (EM_S390, 11 | 54 | 55 | 56) => CLASS_PLT,
        (EM_X86_64 | EM_386 | EM_AARCH64 | EM_S390, _) => 0,
        // Other machines: every type is looked up (the all-ones one as a COPY, as before).
        (_, u32::MAX) => CLASS_COPY,
        _ => 0,
    };
    Some(class)
}

/// A version a reference asks for (`struct r_found_version`).
pub(super) struct Wanted<'a> {
    pub(super) name: &'a Bytes,
    pub(super) hash: u32,
    pub(super) hidden: bool,
}

pub(super) struct Checker<'a> {
    pub(super) closure: &'a Closure,
    pub(super) maps: &'a [Option<&'a FileSymbols>],
    /// `l_versions` of each object.
    pub(super) slots: Vec<Cow<'a, [VersionSlot]>>,
    /// The cache's lookups left open by objects' own dependency sets.
    pub(super) own: &'a Mutex<FxHashMap<OwnKey, Arc<[u32]>>>,
    /// The cache's answers per (open lookups, file).
    pub(super) pairs: &'a Mutex<Pairs>,
    /// The tables of each object, shared (for [`ImportedSymbols`]).
    pub(super) files: &'a [Option<Loaded>],
    pub(super) report: &'a mut SymbolReport,
}

/// An object and the files of its dependency set (by address in the cache, which keeps
/// them alive), and which of them is the executable (copy relocations skip it).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct OwnKey {
    pub(super) files: Vec<usize>,
    pub(super) main_at: Option<usize>,
}

impl Checker<'_> {
    pub(super) fn run(&mut self) {
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
    pub(super) fn search_list(&self) -> Vec<usize> {
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
    pub(super) fn find_needed(&self, search: &[usize], name: &[u8]) -> Option<usize> {
        search.iter().copied().find(|&i| {
            let o = &self.closure.objects[i];
            o.names.iter().any(|n| n.as_bytes() == name)
                || o.file.location.path.as_os_str().as_encoded_bytes() == name
                || (i > 0 && o.file.soname.as_ref().is_some_and(|s| s.as_bytes() == name) && o.role != Role::Input)
        })
    }

    pub(super) fn versions(&mut self, search: &[usize]) {
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
    pub(super) fn relocation_order(&self, search: &[usize]) -> Vec<usize> {
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

    pub(super) fn bind(&mut self, search: &[usize]) {
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
    pub(super) fn still_open(
        &self,
        search: &[usize],
        set: &[usize],
        r: usize,
        map: &FileSymbols,
        open: &Arc<[u32]>,
    ) -> Vec<u32> {
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
    pub(super) fn satisfies(&self, m: usize, mm: &FileSymbols, r: usize, map: &FileSymbols, at: u32) -> bool {
        let (sym_idx, class) = map.lookups[at as usize];
        if class & CLASS_COPY != 0 && m == 0 {
            return false;
        }
        let Some(sym) = map.raw.sym(sym_idx as usize) else { return false };
        let name = map.raw.str_at(sym.name);
        let hashes = NameHashes::of(name);
        if !mm.bloom.may_hold(hashes.gnu) {
            return false;
        }
        let wanted = self.wanted(r, map, sym_idx);
        self.lookup_in(mm, &self.slots[m], name, &hashes, None, wanted.as_ref(), class)
    }

    /// The version a reference of object `r` asks for: its `l_versions` entry, when that has
    /// a hash (`RESOLVE_MAP` passes no version otherwise).
    pub(super) fn wanted<'s>(&'s self, r: usize, map: &FileSymbols, sym_idx: u32) -> Option<Wanted<'s>> {
        map.raw
            .versym(sym_idx as usize)
            .and_then(|i| self.slots[r].get(usize::from(i & !VERSYM_HIDDEN)))
            .filter(|v| v.hash != 0)
            .map(|v| Wanted { name: &v.name, hash: v.hash, hidden: v.hidden })
    }

    /// The positions in `map.lookups` (all of them, or those of `only`) that no object of
    /// `scope` satisfies.
    pub(super) fn open_lookups(&self, scope: &[usize], r: usize, map: &FileSymbols, only: Option<&[u32]>) -> Vec<u32> {
        let all: Vec<u32>;
        let which: &[u32] = match only {
            Some(o) => o,
            None => {
                all = (0..map.lookups.len() as u32).collect();
                &all
            }
        };
        let mut hint = 0;
        // Where to start looking for a reference with version index `v`: the object of the
        // scope that the version is required of (`vn_file`), which nearly always defines it.
        // The outcome does not depend on where the search starts (see `lookup`).
        let slots: &[VersionSlot] = &self.slots[r];
        let first: Vec<Option<usize>> = slots
            .iter()
            .map(|slot| {
                let file = slot.filename.as_ref()?.as_bytes();
                scope.iter().position(|&m| {
                    let o = &self.closure.objects[m];
                    o.file.soname.as_ref().is_some_and(|n| n.as_bytes() == file)
                        || o.names.iter().any(|n| n.as_bytes() == file)
                })
            })
            .collect();
        which
            .iter()
            .copied()
            .filter(|&k| {
                let (sym_idx, class) = map.lookups[k as usize];
                let v = map.raw.versym(sym_idx as usize).map(|v| usize::from(v & !VERSYM_HIDDEN));
                if let Some(Some(at)) = v.and_then(|v| first.get(v)) {
                    hint = *at;
                }
                let wanted = self.wanted(r, map, sym_idx);
                !self.lookup(scope, r, map, sym_idx, wanted.as_ref(), class, &mut hint)
            })
            .collect()
    }

    /// For each object, the objects its loading brings in (itself, then its transitive
    /// dependencies), in breadth-first order.
    pub(super) fn dependency_sets(&self) -> Vec<Option<Vec<usize>>> {
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
    pub(super) fn lookup(
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
        let mut at = if *hint < n { *hint } else { 0 };
        for k in 0..n {
            if k > 0 {
                at = if at + 1 == n { 0 } else { at + 1 };
            }
            let m = scope[at];
            if class & CLASS_COPY != 0 && m == 0 {
                continue;
            }
            let Some(map) = self.maps[m] else { continue };
            // What the bloom filter rejects has no candidate: passed over without a walk.
            if !map.bloom.may_hold(hashes.gnu) {
                continue;
            }
            if self.lookup_in(map, &self.slots[m], name, &hashes, (m == undef).then_some(ref_idx), wanted, class) {
                *hint = at;
                return true;
            }
        }
        false
    }

    /// `do_lookup_x` for one object: true when it yields a usable definition.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lookup_in(
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
        // The symbol that matched, as `check_match` decoded it (not decoded again).
        let mut hit = None;
        let found = map.raw.candidates(hashes, |i| {
            hit =
                check_match(map, slots, i, name, self_ref == Some(i), wanted, class, &mut num_versions, &mut versioned);
            hit.is_some()
        });
        let s = match (found, hit) {
            (Some(_), Some(s)) => s,
            _ => {
                let Some(i) = found.or(if num_versions == 1 { versioned } else { None }) else { return false };
                let Some(s) = map.raw.sym(i as usize) else { return false };
                s
            }
        };
        if matches!(s.visibility, symbols::STV_HIDDEN | symbols::STV_INTERNAL) {
            return false;
        }
        matches!(s.bind, symbols::STB_GLOBAL | symbols::STB_WEAK | symbols::STB_GNU_UNIQUE)
    }
}

/// glibc's `check_match`: symbol `i` of `map` (decoded) when it satisfies the reference to
/// `name` (`is_ref`: it is the referencing symbol itself).
#[allow(clippy::too_many_arguments)]
pub(super) fn check_match(
    map: &FileSymbols,
    slots: &[VersionSlot],
    i: u32,
    name: &[u8],
    is_ref: bool,
    wanted: Option<&Wanted<'_>>,
    class: u8,
    num_versions: &mut u32,
    versioned: &mut Option<u32>,
) -> Option<symbols::RawSym> {
    let s = map.raw.sym(i as usize)?;
    if (s.value == 0 && s.shndx != symbols::SHN_ABS && s.kind != symbols::STT_TLS)
        || (class & CLASS_PLT != 0 && s.shndx == symbols::SHN_UNDEF)
    {
        return None;
    }
    const ALLOWED: u32 = (1 << symbols::STT_NOTYPE)
        | (1 << symbols::STT_OBJECT)
        | (1 << symbols::STT_FUNC)
        | (1 << symbols::STT_COMMON)
        | (1 << symbols::STT_TLS)
        | (1 << symbols::STT_GNU_IFUNC);
    if (1u32 << (s.kind & 0xf)) & ALLOWED == 0 {
        return None;
    }
    if !is_ref && !map.raw.name_is(s.name, name) {
        return None;
    }
    let Some(versym) = map.raw.versym(i as usize) else {
        // No DT_VERSYM: every definition is used.
        return Some(s);
    };
    let ndx = usize::from(versym & !VERSYM_HIDDEN);
    match wanted {
        Some(w) => {
            let slot = slots.get(ndx);
            let (hash, vname) = slot.map_or((0, None), |v| (v.hash, Some(&v.name)));
            let same = hash == w.hash && vname == Some(w.name);
            (same || !(w.hidden || hash != 0 || versym & VERSYM_HIDDEN != 0)).then_some(s)
        }
        None => {
            if ndx >= 3 {
                if versym & VERSYM_HIDDEN == 0 {
                    if *num_versions == 0 {
                        *versioned = Some(i);
                    }
                    *num_versions += 1;
                }
                return None;
            }
            Some(s)
        }
    }
}
