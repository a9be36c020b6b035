//! What the runtime evidence reads from one ELF file: imported and defined dynamic symbols,
//! string literals in its read-only data, `.note.dlopen` entries. Read once per file
//! (per canonical in-root path) and shared by every closure of a run.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::bytes::Bytes;
use crate::elf::notes::{self, DlopenNotes};
use crate::elf::strings::{self, StringLimits, Strings};
use crate::elf::symbols::{self, MappedFile, NameHashes, RawTables, SymbolLimits, SHN_UNDEF};
use crate::elf::Source;
use crate::root::Root;

/// The facts of one file.
#[derive(Default)]
pub(crate) struct Facts {
    /// Names of the undefined global and weak dynamic symbols (what the file imports).
    pub imports: HashSet<Bytes>,
    /// Its dynamic symbol and hash tables as they are in the file (windows on the mapping
    /// of a mapped file): what it defines is looked up the way the loader looks it up.
    tables: Option<RawTables>,
    /// String literals of its read-only segments.
    pub strings: Strings,
    /// Its `.note.dlopen` entries.
    pub notes: DlopenNotes,
    /// Its path strings as the packs look them up (split at `:`, normalised), worked out
    /// on first use.
    pub path_strings: std::sync::OnceLock<Vec<(Vec<u8>, Bytes)>>,
    /// Problems met while reading (reported as hints, never fatal: the closure is right
    /// without them).
    pub problems: Vec<String>,
}

impl Facts {
    /// The first of `names` the file imports.
    pub fn imports_any(&self, names: &[&str]) -> Option<Bytes> {
        names.iter().map(|n| n.as_bytes()).find(|n| self.imports.contains(*n)).map(Bytes::from)
    }

    /// True when the file defines `name`: its hash table yields a defined symbol of that
    /// name.
    pub fn exports(&self, name: &[u8]) -> bool {
        let Some(t) = &self.tables else { return false };
        let h = NameHashes::of(name);
        t.candidates(&h, |i| t.sym(i as usize).is_some_and(|s| s.shndx != SHN_UNDEF && t.name_is(s.name, name)))
            .is_some()
    }
}

/// `pread` access to an open file, for the bounded ELF readers.
struct Pread<'a> {
    file: &'a File,
    size: u64,
}

impl Source for Pread<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        let end = off.checked_add(len)?;
        if end > self.size {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        self.file.read_exact_at(&mut buf, off).ok()?;
        Some(Cow::Owned(buf))
    }
}

/// Facts by canonical in-root path, read on first use.
pub(crate) struct FactsCache {
    map: RwLock<HashMap<PathBuf, Arc<Facts>>>,
    /// [`FactsCache::imports_from`] answers, by the two files' facts (addresses of entries
    /// `map` keeps alive for the cache's life, so never reused).
    uses: RwLock<HashMap<(usize, usize), bool>>,
}

impl FactsCache {
    pub fn new() -> Self {
        FactsCache { map: RwLock::new(HashMap::default()), uses: RwLock::new(HashMap::default()) }
    }

    /// True when `user` imports a symbol that `lib` defines. Worked out once per pair of
    /// files for a run: the same libraries meet in many closures.
    pub fn imports_from(&self, user: &Arc<Facts>, lib: &Arc<Facts>) -> bool {
        let key = (Arc::as_ptr(user) as usize, Arc::as_ptr(lib) as usize);
        if let Some(&b) = self.uses.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return b;
        }
        let b = user.imports.iter().any(|s| lib.exports(s.as_bytes()));
        self.uses.write().unwrap_or_else(|e| e.into_inner()).insert(key, b);
        b
    }

    /// The facts of the file at `in_root` (canonical), reading it the first time.
    pub fn get(&self, root: &Root, in_root: &Path) -> Arc<Facts> {
        if let Some(f) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(in_root) {
            return f.clone();
        }
        let facts = Arc::new(read_facts(&root.host_path(in_root)));
        self.map.write().unwrap_or_else(|e| e.into_inner()).entry(in_root.to_path_buf()).or_insert(facts).clone()
    }
}

fn read_facts(host: &Path) -> Facts {
    let mut facts = Facts::default();
    let file = match File::open(host) {
        Ok(f) => f,
        Err(e) => {
            facts.problems.push(format!("{}: {e}", host.display()));
            return facts;
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A file of some size is mapped: the readers then look at its bytes in place, without a
    // copy (the string scan reads all its read-only data). The map is read-only and private;
    // a file truncated while mapped would fault, as it would for the loader (library files
    // are renamed into place, not rewritten).
    let map = (size >= MAP_AT)
        // SAFETY: see above.
        .then(|| unsafe { memmap2::Mmap::map(&file) }.ok())
        .flatten();
    match map {
        Some(map) => read_from(host, &MappedFile(Arc::new(map)), facts),
        None => read_from(host, &Pread { file: &file, size }, facts),
    }
}

/// Files smaller than this are read with `pread` (a map costs more than a copy).
const MAP_AT: u64 = 64 << 10;

fn read_from<S: Source + ?Sized>(host: &Path, src: &S, mut facts: Facts) -> Facts {
    match symbols::read_raw(src, &SymbolLimits::default()) {
        Ok(t) => {
            for i in 0..t.count {
                let Some(sym) = t.sym(i) else { break };
                if sym.shndx == SHN_UNDEF && (sym.bind == 1 || sym.bind == 2) {
                    let name = t.str_at(sym.name);
                    if !name.is_empty() && !facts.imports.contains(name) {
                        facts.imports.insert(Bytes::from(name));
                    }
                }
            }
            facts.tables = Some(t);
        }
        Err(e) => facts.problems.push(format!("{}: symbols: {e}", host.display())),
    }
    facts.strings = strings::scan_source(src, &StringLimits::default());
    facts.notes = notes::dlopen_notes_source(src);
    for p in &facts.notes.problems {
        facts.problems.push(format!("{}: .note.dlopen: {p}", host.display()));
    }
    facts
}
