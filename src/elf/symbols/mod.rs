//! The dynamic symbol table of an ELF file and its symbol versions, found the way the loader
//! finds them: through `PT_DYNAMIC` (`DT_SYMTAB`, `DT_STRTAB`/`DT_STRSZ`, `DT_GNU_HASH` or
//! `DT_HASH` for the symbol count, `DT_VERSYM`, `DT_VERNEED`, `DT_VERDEF`), never through
//! section headers (they are strippable and the loader ignores them).
//!
//! Every read is bounded by the file's size and by [`SymbolLimits`]; chains in the file (GNU
//! hash chains, `vn_next`/`vna_next`/`vd_next`/`vda_next`) are followed at most as far as the
//! file's size allows, so a hostile file can neither hang the reader nor make it allocate
//! more than a small multiple of its own size.
//!
//! ```
//! let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
//! let syms = depclose::elf::symbols::read(&data).unwrap();
//! // A Rust test binary imports from the C library.
//! assert!(syms.imports().any(|s| s.name.as_bytes() == b"malloc"));
//! assert!(syms.imports_name(b"malloc"));
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use goblin::elf::program_header::{ProgramHeader, PT_DYNAMIC};

use crate::bytes::{find_byte, Bytes};
mod raw;
mod reader;

pub use self::raw::lookup_names;
pub(crate) use self::raw::{read_raw, Bloom, MappedFile, NameHashes, RawSym, RawTables, Table};
use self::reader::*;

use crate::elf::{
    self, in_file, program_headers, rd_u16, rd_u32, rd_u64, vaddr_to_offset, Class, ParseError, RawHeader,
};

/// `DT_HASH`.
pub const DT_HASH: u64 = 4;
/// `DT_SYMTAB`.
pub const DT_SYMTAB: u64 = 6;
/// `DT_GNU_HASH`.
pub const DT_GNU_HASH: u64 = 0x6fff_fef5;
/// `DT_VERSYM`.
pub const DT_VERSYM: u64 = 0x6fff_fff0;
/// `DT_VERDEF`.
pub const DT_VERDEF: u64 = 0x6fff_fffc;
/// `DT_VERDEFNUM`.
pub const DT_VERDEFNUM: u64 = 0x6fff_fffd;
/// `DT_VERNEED`.
pub const DT_VERNEED: u64 = 0x6fff_fffe;
/// `DT_VERNEEDNUM`.
pub const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

/// `EM_ALPHA` (its `DT_HASH` words are 64-bit, as on s390x).
const EM_ALPHA: u16 = 0x9026;

/// `SHN_UNDEF`: an undefined symbol.
pub const SHN_UNDEF: u16 = 0;
/// `SHN_ABS`.
pub const SHN_ABS: u16 = 0xfff1;
/// `SHN_COMMON`.
pub const SHN_COMMON: u16 = 0xfff2;

/// `STB_LOCAL`.
pub const STB_LOCAL: u8 = 0;
/// `STB_GLOBAL`.
pub const STB_GLOBAL: u8 = 1;
/// `STB_WEAK`.
pub const STB_WEAK: u8 = 2;
/// `STB_GNU_UNIQUE`.
pub const STB_GNU_UNIQUE: u8 = 10;

/// `STT_NOTYPE`.
pub const STT_NOTYPE: u8 = 0;
/// `STT_OBJECT`.
pub const STT_OBJECT: u8 = 1;
/// `STT_FUNC`.
pub const STT_FUNC: u8 = 2;
/// `STT_SECTION`.
pub const STT_SECTION: u8 = 3;
/// `STT_FILE`.
pub const STT_FILE: u8 = 4;
/// `STT_COMMON`.
pub const STT_COMMON: u8 = 5;
/// `STT_TLS`.
pub const STT_TLS: u8 = 6;
/// `STT_GNU_IFUNC`.
pub const STT_GNU_IFUNC: u8 = 10;

/// `STV_DEFAULT`.
pub const STV_DEFAULT: u8 = 0;
/// `STV_INTERNAL`.
pub const STV_INTERNAL: u8 = 1;
/// `STV_HIDDEN`.
pub const STV_HIDDEN: u8 = 2;
/// `STV_PROTECTED`.
pub const STV_PROTECTED: u8 = 3;

/// `VER_FLG_BASE`: the version definition of the file itself (index 1).
pub const VER_FLG_BASE: u16 = 1;
/// `VER_FLG_WEAK`: a weak version reference (a missing version is only a warning).
pub const VER_FLG_WEAK: u16 = 2;
/// The hidden bit of a `DT_VERSYM` entry (`@` rather than `@@`).
pub const VERSYM_HIDDEN: u16 = 0x8000;
/// `VER_NDX_LOCAL`.
pub const VER_NDX_LOCAL: u16 = 0;
/// `VER_NDX_GLOBAL`.
pub const VER_NDX_GLOBAL: u16 = 1;

/// Bounds on what one file may make the reader hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SymbolLimits {
    /// The most symbols read from one file (default 1 << 20).
    pub max_symbols: usize,
    /// The largest string table read from one file (default 64 MiB).
    pub max_string_bytes: u64,
}

impl Default for SymbolLimits {
    fn default() -> Self {
        SymbolLimits { max_symbols: 1 << 20, max_string_bytes: 64 << 20 }
    }
}

/// One entry of the dynamic symbol table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Symbol {
    /// `st_name`, resolved in `DT_STRTAB`.
    pub name: Bytes,
    /// `st_value`.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// `ELF_ST_BIND(st_info)`: [`STB_LOCAL`], [`STB_GLOBAL`], [`STB_WEAK`], [`STB_GNU_UNIQUE`]...
    pub bind: u8,
    /// `ELF_ST_TYPE(st_info)`: [`STT_FUNC`], [`STT_OBJECT`], [`STT_TLS`]...
    pub kind: u8,
    /// `ELF_ST_VISIBILITY(st_other)`.
    pub visibility: u8,
    /// `st_shndx` ([`SHN_UNDEF`] for an undefined symbol).
    pub shndx: u16,
    /// The raw `DT_VERSYM` entry, hidden bit ([`VERSYM_HIDDEN`]) included; `None` when the
    /// file has no `DT_VERSYM`.
    pub version: Option<u16>,
}

impl Symbol {
    /// True when the symbol is defined here (`st_shndx != SHN_UNDEF`).
    pub fn is_defined(&self) -> bool {
        self.shndx != SHN_UNDEF
    }

    /// True when the version is hidden (`name@V`, not `name@@V`): it is never chosen for a
    /// reference without a version.
    pub fn is_hidden_version(&self) -> bool {
        self.version.is_some_and(|v| v & VERSYM_HIDDEN != 0)
    }

    /// The version index without the hidden bit; `None` without `DT_VERSYM`.
    pub fn version_index(&self) -> Option<u16> {
        self.version.map(|v| v & !VERSYM_HIDDEN)
    }
}

/// One `Vernaux` entry: a version required of the file named by its [`VerNeed`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VerNeedAux {
    /// `vna_name`: the version, such as `GLIBC_2.34`.
    pub name: Bytes,
    /// `vna_hash`: the ELF hash of the name.
    pub hash: u32,
    /// `vna_flags` ([`VER_FLG_WEAK`]).
    pub flags: u16,
    /// `vna_other`: the version index symbols use to refer to this entry.
    pub other: u16,
}

impl VerNeedAux {
    /// True for a weak version reference.
    pub fn is_weak(&self) -> bool {
        self.flags & VER_FLG_WEAK != 0
    }
}

/// One `Verneed` entry: the versions required of one `DT_NEEDED` file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VerNeed {
    /// `vn_file`: the file's name as in `DT_NEEDED` (its soname).
    pub file: Bytes,
    /// `vn_version` (1).
    pub version: u16,
    /// The `Vernaux` entries, in file order.
    pub entries: Vec<VerNeedAux>,
}

/// One `Verdef` entry: a version this file defines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VerDef {
    /// `vd_ndx`: the version index symbols use for it.
    pub index: u16,
    /// `vd_flags` ([`VER_FLG_BASE`], [`VER_FLG_WEAK`]).
    pub flags: u16,
    /// `vd_hash`: the ELF hash of the first name.
    pub hash: u32,
    /// `vd_version` (1).
    pub version: u16,
    /// The `Verdaux` names: the version first, then its parents.
    pub names: Vec<Bytes>,
}

impl VerDef {
    /// The version's name (the first `Verdaux`), if any.
    pub fn name(&self) -> Option<&Bytes> {
        self.names.first()
    }

    /// True for the file's base definition (its soname, index 1).
    pub fn is_base(&self) -> bool {
        self.flags & VER_FLG_BASE != 0
    }
}

/// Which hash table a file has: the loader searches only the symbols it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum HashTable {
    /// Neither: the loader finds nothing in this file (`l_nbuckets == 0`).
    #[default]
    None,
    /// `DT_HASH`: every symbol is in a chain.
    Sysv,
    /// `DT_GNU_HASH`: the symbols from `symoffset` on are hashed.
    Gnu {
        /// The first hashed symbol index.
        symoffset: u32,
    },
}

/// The dynamic symbols and symbol versions of one ELF file.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DynSymbols {
    /// Every entry of the dynamic symbol table, index 0 (the null symbol) included, so that
    /// `symbols[i]` is symbol index `i` of relocations and `DT_VERSYM`.
    pub symbols: Vec<Symbol>,
    /// `DT_VERNEED`, in file order.
    pub verneed: Vec<VerNeed>,
    /// `DT_VERDEF`, in file order.
    pub verdef: Vec<VerDef>,
    /// True when the file has a `DT_VERSYM` table.
    pub has_versym: bool,
    /// The hash table the loader looks symbols up with (it prefers `DT_GNU_HASH`).
    pub hash: HashTable,
    /// Indices into `symbols` of the imports, sorted by name (for [`DynSymbols::imports_name`]),
    /// built on first use.
    import_index: std::sync::OnceLock<Vec<u32>>,
}

impl PartialEq for DynSymbols {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the symbols.
        self.symbols == other.symbols
            && self.verneed == other.verneed
            && self.verdef == other.verdef
            && self.has_versym == other.has_versym
            && self.hash == other.hash
    }
}

impl Eq for DynSymbols {}

impl DynSymbols {
    /// Undefined, non-local (`STB_GLOBAL` or `STB_WEAK`) symbols with a non-empty name: what
    /// this object imports.
    pub fn imports(&self) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().filter(|s| is_import(s))
    }

    /// The name of the version `sym`'s `DT_VERSYM` index refers to: a `DT_VERNEED` entry
    /// (`vna_other`) or a `DT_VERDEF` entry (`vd_ndx`). `None` for the indices 0 and 1 (local
    /// and global), without `DT_VERSYM`, or when nothing has that index.
    pub fn version_name(&self, sym: &Symbol) -> Option<&Bytes> {
        self.version_name_of(sym.version_index()?)
    }

    /// The name of version index `ndx` (hidden bit ignored), as [`DynSymbols::version_name`].
    pub fn version_name_of(&self, ndx: u16) -> Option<&Bytes> {
        let ndx = ndx & !VERSYM_HIDDEN;
        if ndx <= VER_NDX_GLOBAL {
            return None;
        }
        if let Some(d) = self.verdef.iter().find(|d| d.index == ndx) {
            return d.name();
        }
        self.verneed.iter().flat_map(|n| &n.entries).find(|a| a.other & !VERSYM_HIDDEN == ndx).map(|a| &a.name)
    }

    /// The `DT_VERNEED` entry (file and version) that version index `ndx` refers to.
    pub fn verneed_of(&self, ndx: u16) -> Option<(&VerNeed, &VerNeedAux)> {
        let ndx = ndx & !VERSYM_HIDDEN;
        self.verneed.iter().find_map(|n| n.entries.iter().find(|a| a.other & !VERSYM_HIDDEN == ndx).map(|a| (n, a)))
    }

    /// True when any import has exactly this name (a binary search).
    pub fn imports_name(&self, name: &[u8]) -> bool {
        let index = self.import_index.get_or_init(|| {
            let mut idx: Vec<u32> =
                (0..self.symbols.len() as u32).filter(|&i| is_import(&self.symbols[i as usize])).collect();
            idx.sort_by(|&a, &b| self.symbols[a as usize].name.cmp(&self.symbols[b as usize].name));
            idx
        });
        index.binary_search_by(|&i| self.symbols[i as usize].name.as_bytes().cmp(name)).is_ok()
    }
}

fn is_import(s: &Symbol) -> bool {
    !s.is_defined() && matches!(s.bind, STB_GLOBAL | STB_WEAK) && !s.name.is_empty()
}

/// Read the dynamic symbols and versions of the ELF file in `data`, with the default
/// [`SymbolLimits`].
///
/// A file without `PT_DYNAMIC` or without `DT_SYMTAB` has no dynamic symbols:
/// `Ok(DynSymbols::default())`.
///
/// # Errors
/// Not ELF; a header, program headers, a table or a string outside the file or outside
/// every `PT_LOAD` segment; more symbols or string bytes than the limits allow; version
/// records that overlap or run past the file.
pub fn read(data: &[u8]) -> Result<DynSymbols, ParseError> {
    read_source(data, &SymbolLimits::default())
}

/// [`read`] with explicit limits.
///
/// # Errors
/// See [`read`].
pub fn read_with_limits(data: &[u8], limits: &SymbolLimits) -> Result<DynSymbols, ParseError> {
    read_source(data, limits)
}

/// [`read`] over any [`elf::Source`]: a handful of reads (dynamic section, hash table,
/// symbol table, version table, string table, version records), each bounded by the file.
pub(crate) fn read_source<S: elf::Source + ?Sized>(src: &S, limits: &SymbolLimits) -> Result<DynSymbols, ParseError> {
    Ok(read_both(src, limits, false)?.0)
}

/// [`read`] and [`read_relocations`] in one pass over the file's headers.
///
/// # Errors
/// See [`read`]; relocation tables outside the file.
pub fn read_with_relocations(data: &[u8], limits: &SymbolLimits) -> Result<(DynSymbols, Relocations), ParseError> {
    read_both(data, limits, true)
}

/// The symbol references of the file's dynamic relocations (`DT_RELA`/`DT_REL` and
/// `DT_JMPREL`), in the order the loader processes them, and the facts that decide how
/// they bind (`DT_SYMBOLIC`, the machine).
///
/// # Errors
/// See [`read`].
pub fn read_relocations(data: &[u8]) -> Result<Relocations, ParseError> {
    Ok(read_both(data, &SymbolLimits::default(), true)?.1)
}

pub(crate) fn read_both<S: elf::Source + ?Sized>(
    src: &S,
    limits: &SymbolLimits,
    relocs: bool,
) -> Result<(DynSymbols, Relocations), ParseError> {
    let size = src.size();
    let head = src.get(0, size.min(64)).ok_or(ParseError::new("cannot read file data"))?;
    if !elf::is_elf(&head) {
        return Err(ParseError::new("not an ELF file (bad magic)"));
    }
    let raw = RawHeader::read(&head).ok_or(ParseError::new("ELF header truncated or of unknown class/byte order"))?;
    let phdrs = program_headers(src).ok_or(ParseError::new("program headers past end of file"))?;
    let is64 = raw.class() == Class::Elf64;
    let mut rel = Relocations { machine: raw.machine, class64: is64, ..Relocations::default() };
    let Some(dynph) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC && p.p_filesz > 0) else {
        return Ok((DynSymbols::default(), rel));
    };
    // s390x and Alpha: 64-bit DT_HASH words (glibc's Elf_Symndx, binutils' sh_entsize 8).
    let hash_word = if is64 && matches!(raw.machine, elf::EM_S390 | EM_ALPHA) { 8 } else { 4 };
    let r = Reader { src, phdrs: &phdrs, be: raw.big_endian(), is64, hash_word, size };
    let d = r.dynamic(dynph)?;
    rel.symbolic = d.symbolic;
    if relocs {
        rel.refs = r.relocations(&d, raw.machine)?;
    }
    let Some(symtab) = d.symtab else {
        return Ok((DynSymbols::default(), rel));
    };
    let strings = r.strings(&d, limits)?;
    let (count, hash) = r.symbol_count(&d, symtab)?;
    if count > limits.max_symbols {
        return Err(ParseError::new("more dynamic symbols than the limit allows"));
    }
    let mut out = DynSymbols { hash, ..DynSymbols::default() };
    let mut budget = strings.budget();
    out.symbols = r.symbols(symtab, count, &strings, &mut budget)?;
    if let Some(versym) = d.versym {
        r.versyms(versym, &mut out.symbols)?;
        out.has_versym = true;
    }
    if let Some(v) = d.verneed {
        out.verneed = r.verneed(v, d.verneednum, &strings, &mut budget)?;
    }
    if let Some(v) = d.verdef {
        out.verdef = r.verdef(v, d.verdefnum, &strings, &mut budget)?;
    }
    Ok((out, rel))
}

/// One dynamic relocation that names a symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RelocRef {
    /// `ELF_R_SYM`: the index into the dynamic symbol table (never 0 here).
    pub sym: u32,
    /// `ELF_R_TYPE`: the machine's relocation type.
    pub kind: u32,
}

/// The symbol-naming dynamic relocations of a file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Relocations {
    /// `e_machine` (relocation types are per machine).
    pub machine: u16,
    /// True for ELFCLASS64.
    pub class64: bool,
    /// `DT_SYMBOLIC` or `DF_SYMBOLIC`: the object's own definitions come first in its lookups.
    pub symbolic: bool,
    /// Relocations with a symbol, in processing order: `DT_RELA` (or `DT_REL`, whichever the
    /// machine uses) past its `DT_RELACOUNT` relative prefix, then `DT_JMPREL`; relocations
    /// with symbol index 0 are left out.
    pub refs: Vec<RelocRef>,
}

/// The ELF hash (`elf_hash`, System V ABI) of a version name, as in `vna_hash`/`vd_hash`.
pub fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_executable() {
        let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let s = read(&data).unwrap();
        assert!(s.imports_name(b"malloc"));
        assert!(!s.imports_name(b"no such symbol, surely"));
        let m = s.imports().find(|s| s.name.as_bytes() == b"malloc").unwrap();
        assert!(s.version_name(m).is_some_and(|v| v.as_bytes().starts_with(b"GLIBC_")));
        assert!(s.verneed.iter().any(|n| n.file.as_bytes() == b"libc.so.6"));
    }

    #[test]
    fn elf_hash_matches_known_values() {
        // vna_hash of GLIBC_2.2.5 in every x86-64 binary.
        assert_eq!(elf_hash(b"GLIBC_2.2.5"), 0x09691a75);
        assert_eq!(elf_hash(b""), 0);
    }

    #[test]
    fn truncated_at_every_length_never_panics() {
        for path in ["/bin/true", "/usr/lib/x86_64-linux-gnu/libz.so.1"] {
            let data = std::fs::read(path).unwrap_or_default();
            for n in 0..data.len().min(16384) {
                let _ = read(&data[..n]);
            }
            // Every prefix long enough to hold all the tables reads the same as the file.
            if !data.is_empty() {
                let full = read(&data).unwrap();
                assert!(!full.symbols.is_empty());
            }
        }
    }
}
