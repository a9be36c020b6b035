//! The symbol reader's file access: the dynamic section, the string table, the symbol
//! table and the version records, each read once and bounded by the file.

use super::*;

/// True when the machine's loader processes `Elf_Rel` (rather than `Elf_Rela`) tables.
pub(super) fn uses_rel(machine: u16) -> bool {
    matches!(machine, elf::EM_386 | elf::EM_ARM | elf::EM_MIPS)
}

/// The `PT_DYNAMIC` entries the symbol reader needs.
#[derive(Default)]
pub(super) struct Dyn {
    pub(super) symtab: Option<u64>,
    pub(super) strtab: Option<u64>,
    pub(super) strsz: Option<u64>,
    pub(super) hash: Option<u64>,
    pub(super) gnu_hash: Option<u64>,
    pub(super) versym: Option<u64>,
    pub(super) verneed: Option<u64>,
    pub(super) verdef: Option<u64>,
    pub(super) verneednum: u64,
    pub(super) verdefnum: u64,
    pub(super) rela: Option<u64>,
    pub(super) relasz: u64,
    pub(super) relacount: u64,
    pub(super) rel: Option<u64>,
    pub(super) relsz: u64,
    pub(super) relcount: u64,
    pub(super) jmprel: Option<u64>,
    pub(super) pltrelsz: u64,
    pub(super) symbolic: bool,
}

pub(super) struct Reader<'a, S: elf::Source + ?Sized> {
    pub(super) src: &'a S,
    pub(super) phdrs: &'a [ProgramHeader],
    pub(super) be: bool,
    pub(super) is64: bool,
    /// Width of a `DT_HASH` word.
    pub(super) hash_word: u64,
    pub(super) size: u64,
}

/// The string table, read once.
pub(super) struct Strings<'a> {
    pub(super) table: Cow<'a, [u8]>,
    /// Where the table is in the file.
    pub(super) off: u64,
    pub(super) len: u64,
}

impl Strings<'_> {
    /// How many string bytes an honest file may make us copy: each distinct string once
    /// (names shared by several symbols or versions are counted again), with slack.
    pub(super) fn budget(&self) -> u64 {
        (self.table.len() as u64).saturating_mul(4).saturating_add(1 << 20)
    }

    pub(super) fn get(&self, off: u64, budget: &mut u64) -> Result<Bytes, ParseError> {
        let off = usize::try_from(off).map_err(|_| ParseError::new("symbol string offset past the string table"))?;
        let tail = self.table.get(off..).ok_or(ParseError::new("symbol string offset past the string table"))?;
        let n = find_byte(tail, 0).ok_or(ParseError::new("unterminated symbol string"))?;
        *budget =
            budget.checked_sub(n as u64).ok_or(ParseError::new("symbol strings repeat far beyond the string table"))?;
        Ok(Bytes::from(&tail[..n]))
    }
}

/// Records of a version table: one read of a window at its start, single reads beyond.
pub(super) struct Window<'a> {
    pub(super) start: u64,
    pub(super) data: Cow<'a, [u8]>,
}

/// Version records are read in one window of this size (they take a few hundred bytes in an
/// honest file); records past it are read one by one.
pub(super) const VERSION_WINDOW: u64 = 4 << 10;

impl<'a, S: elf::Source + ?Sized> Reader<'a, S> {
    pub(super) fn err(msg: &'static str) -> ParseError {
        ParseError::new(msg)
    }

    /// File offset and the file bytes from there to the end of its `PT_LOAD` segment (and of
    /// the file).
    pub(super) fn map(&self, vaddr: u64, what: &'static str) -> Result<(u64, u64), ParseError> {
        let (off, avail) = vaddr_to_offset(self.phdrs, vaddr).ok_or(Self::err(what))?;
        if off >= self.size {
            return Err(Self::err(what));
        }
        Ok((off, avail.min(self.size - off)))
    }

    pub(super) fn dynamic(&self, ph: &ProgramHeader) -> Result<Dyn, ParseError> {
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

    pub(super) fn strings(&self, d: &Dyn, limits: &SymbolLimits) -> Result<Strings<'a>, ParseError> {
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
    pub(super) fn word_at(&self, vaddr: u64, width: u64, what: &'static str) -> Result<u64, ParseError> {
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
    pub(super) fn symbol_count(&self, d: &Dyn, symtab: u64) -> Result<(usize, HashTable), ParseError> {
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
    pub(super) fn gnu_hash_count(&self, g: u64) -> Result<(u64, u64), ParseError> {
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

    pub(super) fn symbols(
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

    pub(super) fn versyms(&self, versym: u64, syms: &mut [Symbol]) -> Result<(), ParseError> {
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
    pub(super) fn relocations(&self, d: &Dyn, machine: u16) -> Result<Vec<RelocRef>, ParseError> {
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
    pub(super) fn window(&self, vaddr: u64, count: u64, what: &'static str) -> Result<Window<'a>, ParseError> {
        let (off, avail) = self.map(vaddr, what)?;
        let want = count.saturating_mul(64).clamp(VERSION_WINDOW, 1 << 20);
        let data = self.src.get(off, avail.min(want)).ok_or(Self::err("cannot read file data"))?;
        Ok(Window { start: vaddr, data })
    }

    /// `N` bytes at `vaddr`: from the window when inside it, else one read.
    pub(super) fn record<const N: usize>(
        &self,
        w: &Window<'_>,
        vaddr: u64,
        what: &'static str,
    ) -> Result<[u8; N], ParseError> {
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
    pub(super) fn record_budget(&self, record_size: u64) -> u64 {
        self.size / record_size + 1
    }

    /// `DT_VERNEED`, walked as `_dl_check_map_versions` walks it: `vn_next` and `vna_next`
    /// until 0 (the counts `DT_VERNEEDNUM` and `vn_cnt` are not consulted by the loader).
    pub(super) fn verneed(
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
    pub(super) fn verdef(
        &self,
        start: u64,
        num: u64,
        strings: &Strings<'_>,
        budget: &mut u64,
    ) -> Result<Vec<VerDef>, ParseError> {
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
