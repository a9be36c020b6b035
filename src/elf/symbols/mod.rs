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

/// True when the machine's loader processes `Elf_Rel` (rather than `Elf_Rela`) tables.
fn uses_rel(machine: u16) -> bool {
    matches!(machine, elf::EM_386 | elf::EM_ARM | elf::EM_MIPS)
}

/// The `PT_DYNAMIC` entries the symbol reader needs.
#[derive(Default)]
struct Dyn {
    symtab: Option<u64>,
    strtab: Option<u64>,
    strsz: Option<u64>,
    hash: Option<u64>,
    gnu_hash: Option<u64>,
    versym: Option<u64>,
    verneed: Option<u64>,
    verdef: Option<u64>,
    verneednum: u64,
    verdefnum: u64,
    rela: Option<u64>,
    relasz: u64,
    relacount: u64,
    rel: Option<u64>,
    relsz: u64,
    relcount: u64,
    jmprel: Option<u64>,
    pltrelsz: u64,
    symbolic: bool,
}

struct Reader<'a, S: elf::Source + ?Sized> {
    src: &'a S,
    phdrs: &'a [ProgramHeader],
    be: bool,
    is64: bool,
    /// Width of a `DT_HASH` word.
    hash_word: u64,
    size: u64,
}

/// The string table, read once.
struct Strings<'a> {
    table: Cow<'a, [u8]>,
    /// Where the table is in the file.
    off: u64,
    len: u64,
}

impl Strings<'_> {
    /// How many string bytes an honest file may make us copy: each distinct string once
    /// (names shared by several symbols or versions are counted again), with slack.
    fn budget(&self) -> u64 {
        (self.table.len() as u64).saturating_mul(4).saturating_add(1 << 20)
    }

    fn get(&self, off: u64, budget: &mut u64) -> Result<Bytes, ParseError> {
        let off = usize::try_from(off).map_err(|_| ParseError::new("symbol string offset past the string table"))?;
        let tail = self.table.get(off..).ok_or(ParseError::new("symbol string offset past the string table"))?;
        let n = find_byte(tail, 0).ok_or(ParseError::new("unterminated symbol string"))?;
        *budget =
            budget.checked_sub(n as u64).ok_or(ParseError::new("symbol strings repeat far beyond the string table"))?;
        Ok(Bytes::from(&tail[..n]))
    }
}

/// Records of a version table: one read of a window at its start, single reads beyond.
struct Window<'a> {
    start: u64,
    data: Cow<'a, [u8]>,
}

/// Version records are read in one window of this size (they take a few hundred bytes in an
/// honest file); records past it are read one by one.
const VERSION_WINDOW: u64 = 4 << 10;

impl<'a, S: elf::Source + ?Sized> Reader<'a, S> {
    fn err(msg: &'static str) -> ParseError {
        ParseError::new(msg)
    }

    /// File offset and the file bytes from there to the end of its `PT_LOAD` segment (and of
    /// the file).
    fn map(&self, vaddr: u64, what: &'static str) -> Result<(u64, u64), ParseError> {
        let (off, avail) = vaddr_to_offset(self.phdrs, vaddr).ok_or(Self::err(what))?;
        if off >= self.size {
            return Err(Self::err(what));
        }
        Ok((off, avail.min(self.size - off)))
    }

    fn dynamic(&self, ph: &ProgramHeader) -> Result<Dyn, ParseError> {
        if !in_file(self.size, ph.p_offset, ph.p_filesz) {
            return Err(Self::err("PT_DYNAMIC outside the file"));
        }
        let table = self.src.get(ph.p_offset, ph.p_filesz).ok_or(Self::err("cannot read file data"))?;
        let entsize = if self.is64 { 16 } else { 8 };
        let mut d = Dyn::default();
        for ent in table.chunks_exact(entsize) {
            let (tag, val) = if self.is64 {
                (rd_u64(ent, 0, self.be).unwrap_or(0), rd_u64(ent, 8, self.be).unwrap_or(0))
            } else {
                // d_tag is signed: sign-extend, then compare the low 32 bits.
                let t = rd_u32(ent, 0, self.be).unwrap_or(0) as i32 as i64 as u64;
                (t & 0xffff_ffff, u64::from(rd_u32(ent, 4, self.be).unwrap_or(0)))
            };
            // The loader keeps the last value of a tag that appears twice (elf_get_dynamic_info).
            match tag {
                0 => break,
                DT_SYMTAB => d.symtab = Some(val),
                elf::DT_STRTAB => d.strtab = Some(val),
                elf::DT_STRSZ => d.strsz = Some(val),
                DT_HASH => d.hash = Some(val),
                DT_GNU_HASH => d.gnu_hash = Some(val),
                DT_VERSYM => d.versym = Some(val),
                DT_VERNEED => d.verneed = Some(val),
                DT_VERDEF => d.verdef = Some(val),
                DT_VERNEEDNUM => d.verneednum = val,
                DT_VERDEFNUM => d.verdefnum = val,
                7 => d.rela = Some(val),
                8 => d.relasz = val,
                17 => d.rel = Some(val),
                18 => d.relsz = val,
                23 => d.jmprel = Some(val),
                2 => d.pltrelsz = val,
                0x6fff_fff9 => d.relacount = val,
                0x6fff_fffa => d.relcount = val,
                16 => d.symbolic = true,
                // DF_SYMBOLIC.
                elf::DT_FLAGS if val & 2 != 0 => d.symbolic = true,
                _ => {}
            }
        }
        Ok(d)
    }

    fn strings(&self, d: &Dyn, limits: &SymbolLimits) -> Result<Strings<'a>, ParseError> {
        let strtab = d.strtab.ok_or(Self::err("DT_SYMTAB without DT_STRTAB"))?;
        let (off, avail) = self.map(strtab, "DT_STRTAB outside every PT_LOAD segment")?;
        let len = d.strsz.map_or(avail, |s| s.min(avail));
        if len > limits.max_string_bytes {
            return Err(Self::err("dynamic string table larger than the limit allows"));
        }
        let table = self.src.get(off, len).ok_or(Self::err("cannot read file data"))?;
        Ok(Strings { table, off, len })
    }

    /// A 4- or 8-byte word at `vaddr`.
    fn word_at(&self, vaddr: u64, width: u64, what: &'static str) -> Result<u64, ParseError> {
        let (off, avail) = self.map(vaddr, what)?;
        if avail < width {
            return Err(Self::err(what));
        }
        let b = self.src.get(off, width).ok_or(Self::err("cannot read file data"))?;
        if width == 8 { rd_u64(&b, 0, self.be) } else { rd_u32(&b, 0, self.be).map(u64::from) }.ok_or(Self::err(what))
    }

    /// The number of symbols: `nchain` of `DT_HASH` (64-bit words on 64-bit s390 and Alpha), else one past the end of the highest
    /// `DT_GNU_HASH` chain, else (no hash table: the loader could not look anything up) the
    /// entries between `DT_SYMTAB` and a following `DT_STRTAB`.
    fn symbol_count(&self, d: &Dyn, symtab: u64) -> Result<(usize, HashTable), ParseError> {
        let entsize: u64 = if self.is64 { 24 } else { 16 };
        // The count: nchain when there is a DT_HASH (readelf's choice too); the table the
        // loader searches: DT_GNU_HASH when there is one.
        let gnu = match d.gnu_hash {
            Some(g) => Some(self.gnu_hash_count(g)?),
            None => None,
        };
        let table = match (gnu, d.hash) {
            (Some((_, symoffset)), _) => HashTable::Gnu { symoffset: symoffset as u32 },
            (None, Some(_)) => HashTable::Sysv,
            (None, None) => HashTable::None,
        };
        let count = if let Some(h) = d.hash {
            self.word_at(h.saturating_add(self.hash_word), self.hash_word, "DT_HASH outside the file")?
        } else if let Some((count, _)) = gnu {
            count
        } else {
            match d.strtab {
                Some(s) if s > symtab => {
                    let (_, avail) = self.map(symtab, "DT_SYMTAB outside every PT_LOAD segment")?;
                    ((s - symtab) / entsize).min(avail / entsize)
                }
                _ => 0,
            }
        };
        // Never more than the file can hold.
        if count.saturating_mul(entsize) > self.size {
            return Err(Self::err("symbol count larger than the file"));
        }
        let count = usize::try_from(count).map_err(|_| Self::err("symbol count larger than the file"))?;
        Ok((count, table))
    }

    /// One past the end of the highest `DT_GNU_HASH` chain, and `symoffset`.
    fn gnu_hash_count(&self, g: u64) -> Result<(u64, u64), ParseError> {
        const WHAT: &str = "DT_GNU_HASH outside the file";
        let (off, avail) = self.map(g, WHAT)?;
        if avail < 16 {
            return Err(Self::err(WHAT));
        }
        let h = self.src.get(off, 16).ok_or(Self::err("cannot read file data"))?;
        let nbuckets = u64::from(rd_u32(&h, 0, self.be).unwrap_or(0));
        let symoffset = u64::from(rd_u32(&h, 4, self.be).unwrap_or(0));
        let bloom = u64::from(rd_u32(&h, 8, self.be).unwrap_or(0));
        let word = if self.is64 { 8 } else { 4 };
        let buckets_at = 16u64.saturating_add(bloom.saturating_mul(word));
        let chains_at = buckets_at.saturating_add(nbuckets.saturating_mul(4));
        if chains_at > avail {
            return Err(Self::err("DT_GNU_HASH buckets outside the file"));
        }
        let buckets = self.src.get(off + buckets_at, nbuckets * 4).ok_or(Self::err("cannot read file data"))?;
        let last = buckets.chunks_exact(4).filter_map(|c| rd_u32(c, 0, self.be)).max().unwrap_or(0);
        let last = u64::from(last);
        if last < symoffset {
            // No hashed symbol (all buckets empty): only the unhashed ones below symoffset.
            return Ok((symoffset, symoffset));
        }
        // Walk the last chain to its end (bit 0 set), reading in chunks; it cannot run past
        // the segment, so a chain without an end is an error, not a hang.
        let mut at = chains_at.saturating_add((last - symoffset).saturating_mul(4));
        let mut i = last;
        loop {
            if at >= avail {
                return Err(Self::err("DT_GNU_HASH chain runs past the file"));
            }
            let n = (avail - at).min(1024) & !3;
            if n == 0 {
                return Err(Self::err("DT_GNU_HASH chain runs past the file"));
            }
            let chunk = self.src.get(off + at, n).ok_or(Self::err("cannot read file data"))?;
            for c in chunk.chunks_exact(4) {
                let v = rd_u32(c, 0, self.be).unwrap_or(1);
                if v & 1 != 0 {
                    return Ok((i + 1, symoffset));
                }
                i += 1;
            }
            at += n;
        }
    }

    fn symbols(
        &self,
        symtab: u64,
        count: usize,
        strings: &Strings<'_>,
        budget: &mut u64,
    ) -> Result<Vec<Symbol>, ParseError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let entsize: usize = if self.is64 { 24 } else { 16 };
        let (off, avail) = self.map(symtab, "DT_SYMTAB outside every PT_LOAD segment")?;
        let len = (count as u64) * entsize as u64;
        if len > avail {
            return Err(Self::err("dynamic symbol table runs past its segment or the file"));
        }
        let table = self.src.get(off, len).ok_or(Self::err("cannot read file data"))?;
        let be = self.be;
        let mut out = Vec::with_capacity(count);
        for e in table.chunks_exact(entsize) {
            let (name, info, other, shndx, value, size) = if self.is64 {
                (
                    rd_u32(e, 0, be).unwrap_or(0),
                    e[4],
                    e[5],
                    rd_u16(e, 6, be).unwrap_or(0),
                    rd_u64(e, 8, be).unwrap_or(0),
                    rd_u64(e, 16, be).unwrap_or(0),
                )
            } else {
                (
                    rd_u32(e, 0, be).unwrap_or(0),
                    e[12],
                    e[13],
                    rd_u16(e, 14, be).unwrap_or(0),
                    u64::from(rd_u32(e, 4, be).unwrap_or(0)),
                    u64::from(rd_u32(e, 8, be).unwrap_or(0)),
                )
            };
            out.push(Symbol {
                name: strings.get(u64::from(name), budget)?,
                value,
                size,
                bind: info >> 4,
                kind: info & 0xf,
                visibility: other & 3,
                shndx,
                version: None,
            });
        }
        Ok(out)
    }

    fn versyms(&self, versym: u64, syms: &mut [Symbol]) -> Result<(), ParseError> {
        if syms.is_empty() {
            return Ok(());
        }
        let (off, avail) = self.map(versym, "DT_VERSYM outside every PT_LOAD segment")?;
        let len = syms.len() as u64 * 2;
        if len > avail {
            return Err(Self::err("DT_VERSYM table runs past its segment or the file"));
        }
        let table = self.src.get(off, len).ok_or(Self::err("cannot read file data"))?;
        for (s, v) in syms.iter_mut().zip(table.chunks_exact(2)) {
            s.version = rd_u16(v, 0, self.be);
        }
        Ok(())
    }

    /// The ranges `_ELF_DYNAMIC_DO_RELOC` (glibc `elf/dynamic-link.h`) processes with
    /// `LD_BIND_NOW`: the `DT_RELA` (or `DT_REL`) table without its relative prefix, less a
    /// `DT_JMPREL` table that ends it, then `DT_JMPREL`.
    fn relocations(&self, d: &Dyn, machine: u16) -> Result<Vec<RelocRef>, ParseError> {
        let rel = uses_rel(machine);
        let (start, size, nrelative) = if rel { (d.rel, d.relsz, d.relcount) } else { (d.rela, d.relasz, d.relacount) };
        let entsize: u64 = match (rel, self.is64) {
            (false, true) => 24,
            (false, false) => 12,
            (true, true) => 16,
            (true, false) => 8,
        };
        let mut first = (start.filter(|&s| s != 0).unwrap_or(0), size);
        let mut second = (0u64, 0u64);
        if let Some(j) = d.jmprel {
            if first.0 == 0 {
                first.0 = j;
            }
            if first.0.checked_add(first.1) == j.checked_add(d.pltrelsz) {
                first.1 = first.1.saturating_sub(d.pltrelsz);
            }
            second = (j, d.pltrelsz);
        }
        let mut out = Vec::new();
        for (k, (at, len)) in [first, second].into_iter().enumerate() {
            if at == 0 || len < entsize {
                continue;
            }
            let (off, avail) = self.map(at, "relocation table outside every PT_LOAD segment")?;
            if len > avail {
                return Err(Self::err("relocation table runs past its segment or the file"));
            }
            // The relative prefix is never looked at (the loader applies it without reading
            // the types): it is not read either.
            let skip = if k == 0 { nrelative.min(len / entsize) } else { 0 };
            let (off, len) = (off + skip * entsize, len - skip * entsize);
            let table = self.src.get(off, len).ok_or(Self::err("cannot read file data"))?;
            let info_at = if self.is64 { 8 } else { 4 };
            for e in table.chunks_exact(entsize as usize) {
                let (sym, kind) = if self.is64 {
                    let info = rd_u64(e, info_at, self.be).unwrap_or(0);
                    ((info >> 32) as u32, (info & 0xffff_ffff) as u32)
                } else {
                    let info = rd_u32(e, info_at, self.be).unwrap_or(0);
                    (info >> 8, info & 0xff)
                };
                if sym != 0 {
                    out.push(RelocRef { sym, kind });
                }
            }
        }
        Ok(out)
    }

    /// The window over version records at `vaddr`: `count` (`DT_VERNEEDNUM` or
    /// `DT_VERDEFNUM`, a hint only) records of about 64 bytes each, at least
    /// [`VERSION_WINDOW`], at most the segment.
    fn window(&self, vaddr: u64, count: u64, what: &'static str) -> Result<Window<'a>, ParseError> {
        let (off, avail) = self.map(vaddr, what)?;
        let want = count.saturating_mul(64).clamp(VERSION_WINDOW, 1 << 20);
        let data = self.src.get(off, avail.min(want)).ok_or(Self::err("cannot read file data"))?;
        Ok(Window { start: vaddr, data })
    }

    /// `N` bytes at `vaddr`: from the window when inside it, else one read.
    fn record<const N: usize>(&self, w: &Window<'_>, vaddr: u64, what: &'static str) -> Result<[u8; N], ParseError> {
        if let Some(rel) = vaddr.checked_sub(w.start).and_then(|r| usize::try_from(r).ok()) {
            if let Some(b) = rel.checked_add(N).and_then(|end| w.data.get(rel..end)) {
                return Ok(b.try_into().expect("N bytes"));
            }
        }
        let (off, avail) = self.map(vaddr, what)?;
        if avail < N as u64 {
            return Err(Self::err(what));
        }
        let b = self.src.get(off, N as u64).ok_or(Self::err("cannot read file data"))?;
        b.as_ref().try_into().map_err(|_| Self::err(what))
    }

    /// How many version records a file of this size can hold: more visits means records
    /// overlap (an honest file's do not), so the walk stops with an error.
    fn record_budget(&self, record_size: u64) -> u64 {
        self.size / record_size + 1
    }

    /// `DT_VERNEED`, walked as `_dl_check_map_versions` walks it: `vn_next` and `vna_next`
    /// until 0 (the counts `DT_VERNEEDNUM` and `vn_cnt` are not consulted by the loader).
    fn verneed(
        &self,
        start: u64,
        num: u64,
        strings: &Strings<'_>,
        budget: &mut u64,
    ) -> Result<Vec<VerNeed>, ParseError> {
        const WHAT: &str = "DT_VERNEED record outside the file";
        let w = self.window(start, num, WHAT)?;
        let mut visits = self.record_budget(16);
        let mut tick = || {
            visits = visits.checked_sub(1).ok_or(Self::err("DT_VERNEED records overlap or loop"))?;
            Ok::<(), ParseError>(())
        };
        let mut out = Vec::new();
        let mut at = start;
        loop {
            tick()?;
            let r: [u8; 16] = self.record(&w, at, WHAT)?;
            let be = self.be;
            let version = rd_u16(&r, 0, be).unwrap_or(0);
            let file = strings.get(u64::from(rd_u32(&r, 4, be).unwrap_or(0)), budget)?;
            let aux = u64::from(rd_u32(&r, 8, be).unwrap_or(0));
            let next = u64::from(rd_u32(&r, 12, be).unwrap_or(0));
            let mut entries = Vec::new();
            let mut a = at.checked_add(aux).ok_or(Self::err(WHAT))?;
            loop {
                tick()?;
                let x: [u8; 16] = self.record(&w, a, WHAT)?;
                entries.push(VerNeedAux {
                    hash: rd_u32(&x, 0, be).unwrap_or(0),
                    flags: rd_u16(&x, 4, be).unwrap_or(0),
                    other: rd_u16(&x, 6, be).unwrap_or(0),
                    name: strings.get(u64::from(rd_u32(&x, 8, be).unwrap_or(0)), budget)?,
                });
                let n = u64::from(rd_u32(&x, 12, be).unwrap_or(0));
                if n == 0 {
                    break;
                }
                a = a.checked_add(n).ok_or(Self::err(WHAT))?;
            }
            out.push(VerNeed { file, version, entries });
            if next == 0 {
                return Ok(out);
            }
            at = at.checked_add(next).ok_or(Self::err(WHAT))?;
        }
    }

    /// `DT_VERDEF`, walked by `vd_next` until 0; each definition's `vd_cnt` names by
    /// `vda_next` (stopping early at a `vda_next` of 0).
    fn verdef(&self, start: u64, num: u64, strings: &Strings<'_>, budget: &mut u64) -> Result<Vec<VerDef>, ParseError> {
        const WHAT: &str = "DT_VERDEF record outside the file";
        let w = self.window(start, num, WHAT)?;
        let mut visits = self.record_budget(8);
        let mut tick = || {
            visits = visits.checked_sub(1).ok_or(Self::err("DT_VERDEF records overlap or loop"))?;
            Ok::<(), ParseError>(())
        };
        let mut out = Vec::new();
        let mut at = start;
        let be = self.be;
        loop {
            tick()?;
            let r: [u8; 20] = self.record(&w, at, WHAT)?;
            let cnt = rd_u16(&r, 6, be).unwrap_or(0);
            let aux = u64::from(rd_u32(&r, 12, be).unwrap_or(0));
            let next = u64::from(rd_u32(&r, 16, be).unwrap_or(0));
            let mut names = Vec::new();
            let mut a = at.checked_add(aux).ok_or(Self::err(WHAT))?;
            for k in 0..cnt {
                tick()?;
                let x: [u8; 8] = self.record(&w, a, WHAT)?;
                names.push(strings.get(u64::from(rd_u32(&x, 0, be).unwrap_or(0)), budget)?);
                let n = u64::from(rd_u32(&x, 4, be).unwrap_or(0));
                if n == 0 || k + 1 == cnt {
                    break;
                }
                a = a.checked_add(n).ok_or(Self::err(WHAT))?;
            }
            out.push(VerDef {
                version: rd_u16(&r, 0, be).unwrap_or(0),
                flags: rd_u16(&r, 2, be).unwrap_or(0),
                index: rd_u16(&r, 4, be).unwrap_or(0),
                hash: rd_u32(&r, 8, be).unwrap_or(0),
                names,
            });
            if next == 0 {
                return Ok(out);
            }
            at = at.checked_add(next).ok_or(Self::err(WHAT))?;
        }
    }
}

/// The bytes of one table of a file, kept for lookups: a copy, or a window on the file's
/// mapping (shared by all the file's tables, so that reading them copies nothing and only the
/// pages a lookup touches are ever read).
pub(crate) enum Table {
    /// A copy.
    Owned(Box<[u8]>),
    /// `len` bytes at `off` of a mapped file (checked to lie inside it when made).
    Mapped(Arc<memmap2::Mmap>, usize, usize),
}

impl Default for Table {
    fn default() -> Self {
        Table::Owned(Box::default())
    }
}

impl std::ops::Deref for Table {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Table::Owned(b) => b,
            Table::Mapped(m, off, len) => m.get(*off..off.saturating_add(*len)).unwrap_or_default(),
        }
    }
}

/// A whole file mapped read-only, as a parser [`elf::Source`] whose tables are windows on
/// the mapping.
pub(crate) struct MappedFile(pub Arc<memmap2::Mmap>);

impl elf::Source for MappedFile {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        elf::file_slice(&self.0, off, len).map(Cow::Borrowed)
    }

    fn table(&self, off: u64, len: u64) -> Option<Table> {
        elf::file_slice(&self.0, off, len)?;
        Some(Table::Mapped(self.0.clone(), usize::try_from(off).ok()?, usize::try_from(len).ok()?))
    }
}

/// A file's dynamic tables kept as they are in the file, for lookups the way the loader does
/// them (its own hash table, names compared in place): reading thousands of libraries this
/// way costs no allocation per symbol, and no copy at all for a mapped file.
pub(crate) struct RawTables {
    pub be: bool,
    pub is64: bool,
    pub strtab: Table,
    pub symtab: Table,
    pub count: usize,
    /// `DT_VERSYM` entries (2 bytes each), when there is one.
    pub versym: Option<Table>,
    pub hash: RawHash,
    pub verneed: Vec<VerNeed>,
    pub verdef: Vec<VerDef>,
    pub relocs: Relocations,
}

/// The hash table a lookup walks, as the file's bytes.
pub(crate) enum RawHash {
    None,
    /// `DT_HASH`: buckets and chains of `width`-byte words (8 on 64-bit s390 and Alpha).
    Sysv {
        buckets: Table,
        chains: Table,
        width: usize,
    },
    /// `DT_GNU_HASH`: the bloom filter (words of the class's size, a power of two of them),
    /// the buckets and the chains (from `symoffset` on), 4-byte words.
    Gnu {
        symoffset: u32,
        shift: u32,
        bloom: Table,
        buckets: Table,
        chains: Table,
    },
}

/// The hashes of a symbol name for one lookup: the GNU hash at once, the System V hash only
/// when a `DT_HASH`-only object is searched.
pub(crate) struct NameHashes<'a> {
    name: &'a [u8],
    pub gnu: u32,
    sysv: std::cell::OnceCell<u32>,
}

impl<'a> NameHashes<'a> {
    pub fn of(name: &'a [u8]) -> NameHashes<'a> {
        NameHashes {
            name,
            gnu: name.iter().fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(u32::from(c))),
            sysv: std::cell::OnceCell::new(),
        }
    }

    /// `elf_hash` of the name.
    pub fn sysv(&self) -> u32 {
        *self.sysv.get_or_init(|| elf_hash(self.name))
    }
}

/// One symbol decoded from [`RawTables`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawSym {
    pub name: u32,
    pub bind: u8,
    pub kind: u8,
    pub visibility: u8,
    pub shndx: u16,
    pub value: u64,
}

/// Word `i` of a table of `width`-byte words (the low 32 bits of an 8-byte word).
fn word(t: &[u8], i: usize, width: usize, be: bool) -> Option<u32> {
    let at = i.checked_mul(width)?;
    if width == 8 {
        rd_u64(t, at, be).map(|w| w as u32)
    } else {
        rd_u32(t, at, be)
    }
}

impl RawTables {
    /// Symbol `i` (`None` past the table).
    pub fn sym(&self, i: usize) -> Option<RawSym> {
        let (size, be) = (if self.is64 { 24 } else { 16 }, self.be);
        if i >= self.count {
            return None;
        }
        let e = self.symtab.get(i * size..i * size + size)?;
        let (name, info, other, shndx, value) = if self.is64 {
            (rd_u32(e, 0, be)?, e[4], e[5], rd_u16(e, 6, be)?, rd_u64(e, 8, be)?)
        } else {
            (rd_u32(e, 0, be)?, e[12], e[13], rd_u16(e, 14, be)?, u64::from(rd_u32(e, 4, be)?))
        };
        Some(RawSym { name, bind: info >> 4, kind: info & 0xf, visibility: other & 3, shndx, value })
    }

    /// The `DT_VERSYM` entry of symbol `i`.
    pub fn versym(&self, i: usize) -> Option<u16> {
        let v = self.versym.as_ref()?;
        rd_u16(v, i.checked_mul(2)?, self.be)
    }

    /// The NUL-terminated string at `off` of the string table (empty when out of range).
    pub fn str_at(&self, off: u32) -> &[u8] {
        let tail = self.strtab.get(off as usize..).unwrap_or_default();
        &tail[..find_byte(tail, 0).unwrap_or(tail.len())]
    }

    /// True when the string at `off` is exactly `name`.
    pub fn name_is(&self, off: u32, name: &[u8]) -> bool {
        let off = off as usize;
        let strtab: &[u8] = &self.strtab;
        strtab.get(off..off.saturating_add(name.len())) == Some(name) && strtab.get(off + name.len()) == Some(&0)
    }

    /// The first candidate for a name with hashes `hashes` ([`NameHashes`]) for which `f`
    /// holds, in the order the loader's hash table yields them, bounded by the table (a chain
    /// that loops or runs past the symbols ends).
    pub fn candidates(&self, hashes: &NameHashes<'_>, mut f: impl FnMut(u32) -> bool) -> Option<u32> {
        let be = self.be;
        match &self.hash {
            RawHash::None => None,
            RawHash::Gnu { symoffset, shift, bloom, buckets, chains } => {
                let (bloom, buckets, chains): (&[u8], &[u8], &[u8]) = (bloom, buckets, chains);
                let ww: usize = if self.is64 { 8 } else { 4 };
                let (nbloom, nbuckets) = (bloom.len() / ww, buckets.len() / 4);
                if nbuckets == 0 || nbloom == 0 {
                    return None;
                }
                let h = hashes.gnu;
                let bits: u32 = if self.is64 { 64 } else { 32 };
                let at = ((h / bits) as usize) & (nbloom - 1);
                let word = if self.is64 { rd_u64(bloom, at * 8, be)? } else { u64::from(rd_u32(bloom, at * 4, be)?) };
                let (b1, b2) = (h & (bits - 1), (h >> (shift & 31)) & (bits - 1));
                if (word >> b1) & (word >> b2) & 1 == 0 {
                    return None;
                }
                let mut idx = rd_u32(buckets, (h as usize % nbuckets) * 4, be)?;
                if idx < *symoffset {
                    return None;
                }
                loop {
                    let c = rd_u32(chains, ((idx - symoffset) as usize).checked_mul(4)?, be)?;
                    if (c ^ h) >> 1 == 0 && (idx as usize) < self.count && f(idx) {
                        return Some(idx);
                    }
                    if c & 1 != 0 {
                        return None;
                    }
                    idx = idx.checked_add(1)?;
                }
            }
            RawHash::Sysv { buckets, chains, width } => {
                let (buckets, chains, width): (&[u8], &[u8], usize) = (buckets, chains, *width);
                let (nbucket, nchain) = (buckets.len() / width, chains.len() / width);
                if nbucket == 0 {
                    return None;
                }
                let mut idx = word(buckets, hashes.sysv() as usize % nbucket, width, be)?;
                // At most one visit per chain entry: a looping chain ends.
                for _ in 0..=nchain {
                    if idx == 0 {
                        return None;
                    }
                    if (idx as usize) < self.count && f(idx) {
                        return Some(idx);
                    }
                    if idx as usize >= nchain {
                        return None;
                    }
                    idx = word(chains, idx as usize, width, be)?;
                }
                None
            }
        }
    }
}

/// Look names up the way the loader's `do_lookup_x` walks one object: through the file's own
/// `DT_GNU_HASH` (bloom filter, bucket, chain) or `DT_HASH` table, the first definition with
/// that name (not undefined, a value unless TLS or `SHN_ABS`, a code or data type), versions
/// not considered. For each name, the symbol index, or `None`. A file without a hash table
/// defines nothing the loader can find.
///
/// # Errors
/// See [`read`].
pub fn lookup_names(data: &[u8], names: &[&[u8]]) -> Result<Vec<Option<u32>>, ParseError> {
    let raw = read_raw(data, &SymbolLimits::default())?;
    const ALLOWED: u32 = (1 << STT_NOTYPE)
        | (1 << STT_OBJECT)
        | (1 << STT_FUNC)
        | (1 << STT_COMMON)
        | (1 << STT_TLS)
        | (1 << STT_GNU_IFUNC);
    Ok(names
        .iter()
        .map(|name| {
            raw.candidates(&NameHashes::of(name), |i| {
                raw.sym(i as usize).is_some_and(|s| {
                    s.shndx != SHN_UNDEF
                        && (s.value != 0 || s.shndx == SHN_ABS || s.kind == STT_TLS)
                        && (1u32 << (s.kind & 0xf)) & ALLOWED != 0
                        && raw.name_is(s.name, name)
                })
            })
        })
        .collect())
}

pub(crate) fn read_raw<S: elf::Source + ?Sized>(src: &S, limits: &SymbolLimits) -> Result<RawTables, ParseError> {
    let size = src.size();
    let head = src.get(0, size.min(64)).ok_or(ParseError::new("cannot read file data"))?;
    if !elf::is_elf(&head) {
        return Err(ParseError::new("not an ELF file (bad magic)"));
    }
    let raw = RawHeader::read(&head).ok_or(ParseError::new("ELF header truncated or of unknown class/byte order"))?;
    let phdrs = program_headers(src).ok_or(ParseError::new("program headers past end of file"))?;
    let is64 = raw.class() == Class::Elf64;
    let be = raw.big_endian();
    let mut out = RawTables {
        be,
        is64,
        strtab: Table::default(),
        symtab: Table::default(),
        count: 0,
        versym: None,
        hash: RawHash::None,
        verneed: Vec::new(),
        verdef: Vec::new(),
        relocs: Relocations { machine: raw.machine, class64: is64, ..Relocations::default() },
    };
    let Some(dynph) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC && p.p_filesz > 0) else {
        return Ok(out);
    };
    let hash_word = if is64 && matches!(raw.machine, elf::EM_S390 | EM_ALPHA) { 8 } else { 4 };
    let r = Reader { src, phdrs: &phdrs, be, is64, hash_word, size };
    let d = r.dynamic(dynph)?;
    out.relocs.symbolic = d.symbolic;
    out.relocs.refs = r.relocations(&d, raw.machine)?;
    let Some(symtab) = d.symtab else {
        return Ok(out);
    };
    let strings = r.strings(&d, limits)?;
    let (count, table) = r.symbol_count(&d, symtab)?;
    if count > limits.max_symbols {
        return Err(ParseError::new("more dynamic symbols than the limit allows"));
    }
    let entsize = if is64 { 24u64 } else { 16 };
    if count > 0 {
        let (off, avail) = r.map(symtab, "DT_SYMTAB outside every PT_LOAD segment")?;
        let len = count as u64 * entsize;
        if len > avail {
            return Err(ParseError::new("dynamic symbol table runs past its segment or the file"));
        }
        out.symtab = src.table(off, len).ok_or(ParseError::new("cannot read file data"))?;
    }
    out.count = count;
    if let (Some(v), true) = (d.versym, count > 0) {
        let (off, avail) = r.map(v, "DT_VERSYM outside every PT_LOAD segment")?;
        let len = count as u64 * 2;
        if len > avail {
            return Err(ParseError::new("DT_VERSYM table runs past its segment or the file"));
        }
        out.versym = Some(src.table(off, len).ok_or(ParseError::new("cannot read file data"))?);
    }
    let mut budget = strings.budget();
    if let Some(v) = d.verneed {
        out.verneed = r.verneed(v, d.verneednum, &strings, &mut budget)?;
    }
    if let Some(v) = d.verdef {
        out.verdef = r.verdef(v, d.verdefnum, &strings, &mut budget)?;
    }
    out.hash = match table {
        HashTable::None => RawHash::None,
        HashTable::Gnu { symoffset } => r.raw_gnu(d.gnu_hash.unwrap_or(0), symoffset, count)?,
        HashTable::Sysv => r.raw_sysv(d.hash.unwrap_or(0))?,
    };
    out.strtab = match strings.table {
        Cow::Owned(v) => Table::Owned(v.into_boxed_slice()),
        Cow::Borrowed(_) => src.table(strings.off, strings.len).ok_or(ParseError::new("cannot read file data"))?,
    };
    Ok(out)
}

impl<S: elf::Source + ?Sized> Reader<'_, S> {
    /// `n` words of `width` bytes at `at`, kept.
    fn words(&self, at: u64, n: u64, width: u64, what: &'static str) -> Result<Table, ParseError> {
        let (off, avail) = self.map(at, what)?;
        let len = n.checked_mul(width).filter(|&l| l <= avail).ok_or(ParseError::new(what))?;
        self.src.table(off, len).ok_or(ParseError::new("cannot read file data"))
    }

    fn raw_gnu(&self, g: u64, symoffset: u32, count: usize) -> Result<RawHash, ParseError> {
        const WHAT: &str = "DT_GNU_HASH outside the file";
        let h = self.words(g, 4, 4, WHAT)?;
        let hw = |i: usize| u64::from(word(&h, i, 4, self.be).unwrap_or(0));
        let (nbuckets, nbloom, shift) = (hw(0), hw(2), hw(3) as u32);
        let ww = if self.is64 { 8 } else { 4 };
        // The loader masks the bloom index with nbloom - 1: a size that is not a power of
        // two would read words an honest table does not have, so such a table is refused.
        if nbloom == 0 || !nbloom.is_power_of_two() {
            return Err(ParseError::new("DT_GNU_HASH bloom filter size is not a power of two"));
        }
        let bloom_at = g.saturating_add(16);
        let bloom = self.words(bloom_at, nbloom, ww, WHAT)?;
        let buckets_at = bloom_at.saturating_add(nbloom * ww);
        let buckets = self.words(buckets_at, nbuckets, 4, WHAT)?;
        let nchains = (count as u64).saturating_sub(u64::from(symoffset));
        let chains = self.words(buckets_at.saturating_add(nbuckets * 4), nchains, 4, WHAT)?;
        Ok(RawHash::Gnu { symoffset, shift, bloom, buckets, chains })
    }

    fn raw_sysv(&self, h: u64) -> Result<RawHash, ParseError> {
        const WHAT: &str = "DT_HASH outside the file";
        let w = self.hash_word;
        let head = self.words(h, 2, w, WHAT)?;
        let hw = |i: usize| u64::from(word(&head, i, w as usize, self.be).unwrap_or(0));
        let (nbucket, nchain) = (hw(0), hw(1));
        let buckets = self.words(h.saturating_add(2 * w), nbucket, w, WHAT)?;
        let chains = self.words(h.saturating_add((2 + nbucket) * w), nchain, w, WHAT)?;
        Ok(RawHash::Sysv { buckets, chains, width: w as usize })
    }
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
