//! A file's dynamic tables kept as they are in the file, for lookups the way the loader does
//! them.

use super::*;

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

/// A file's `DT_GNU_HASH` bloom filter decoded once (native words), for rejecting names the
/// file cannot define without walking its tables: what [`RawTables::candidates`] checks
/// first, so a rejected name has no candidate there.
pub(crate) enum Bloom {
    /// Every name passes (a `DT_HASH` table: the chains decide).
    All,
    /// No name passes (no hash table, or an empty GNU one).
    Nothing,
    /// The filter's words (zero-extended on 32-bit), `shift`, and the bits per word.
    Gnu { words: Box<[u64]>, shift: u32, bits: u32 },
}

impl Bloom {
    /// False when a name of GNU hash `h` certainly has no candidate in the file.
    #[inline]
    pub fn may_hold(&self, h: u32) -> bool {
        match self {
            Bloom::All => true,
            Bloom::Nothing => false,
            Bloom::Gnu { words, shift, bits } => {
                // A power of two of words (checked when the table was read).
                let word = words[((h / bits) as usize) & (words.len() - 1)];
                let (b1, b2) = (h & (bits - 1), (h >> (shift & 31)) & (bits - 1));
                (word >> b1) & (word >> b2) & 1 != 0
            }
        }
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
pub(super) fn word(t: &[u8], i: usize, width: usize, be: bool) -> Option<u32> {
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

    /// The bloom filter of the file's hash table, decoded ([`Bloom`]).
    pub fn bloom(&self) -> Bloom {
        match &self.hash {
            RawHash::None => Bloom::Nothing,
            RawHash::Sysv { .. } => Bloom::All,
            RawHash::Gnu { shift, bloom, buckets, .. } => {
                let bloom: &[u8] = bloom;
                let ww: usize = if self.is64 { 8 } else { 4 };
                let n = bloom.len() / ww;
                if buckets.len() / 4 == 0 || n == 0 || !n.is_power_of_two() {
                    return if n == 0 || buckets.len() / 4 == 0 { Bloom::Nothing } else { Bloom::All };
                }
                let words = (0..n)
                    .map(|i| {
                        if self.is64 {
                            rd_u64(bloom, i * 8, self.be).unwrap_or(u64::MAX)
                        } else {
                            rd_u32(bloom, i * 4, self.be).map_or(u64::MAX, u64::from)
                        }
                    })
                    .collect();
                Bloom::Gnu { words, shift: *shift, bits: if self.is64 { 64 } else { 32 } }
            }
        }
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
    pub(super) fn words(&self, at: u64, n: u64, width: u64, what: &'static str) -> Result<Table, ParseError> {
        let (off, avail) = self.map(at, what)?;
        let len = n.checked_mul(width).filter(|&l| l <= avail).ok_or(ParseError::new(what))?;
        self.src.table(off, len).ok_or(ParseError::new("cannot read file data"))
    }

    pub(super) fn raw_gnu(&self, g: u64, symoffset: u32, count: usize) -> Result<RawHash, ParseError> {
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

    pub(super) fn raw_sysv(&self, h: u64) -> Result<RawHash, ParseError> {
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
