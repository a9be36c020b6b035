//! `PT_DYNAMIC`: its entries, the strings they name, and the dynamic symbol table test musl
//! uses to recognise a C library.

use std::borrow::Cow;

use goblin::elf::program_header::{self, ProgramHeader};

use super::{
    file_slice, in_file, program_headers, rd_u16, rd_u32, rd_u64, vaddr_to_offset, Class, ParseError, RawHeader,
    Source, DT_AUXILIARY, DT_FILTER, DT_FLAGS, DT_FLAGS_1, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ,
    DT_STRTAB,
};
use crate::bytes::Bytes;

/// Facts from `PT_DYNAMIC`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DynamicInfo {
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<Bytes>,
    /// `DT_FILTER` entries (required like `DT_NEEDED`).
    pub filter: Vec<Bytes>,
    /// `DT_AUXILIARY` entries (optional).
    pub auxiliary: Vec<Bytes>,
    /// `DT_SONAME`.
    pub soname: Option<Bytes>,
    /// The last `DT_RPATH`.
    pub rpath: Option<Bytes>,
    /// The last `DT_RUNPATH`.
    pub runpath: Option<Bytes>,
    /// `DT_FLAGS`.
    pub flags: u64,
    /// `DT_FLAGS_1`.
    pub flags_1: u64,
    /// The kinds of the `DT_NEEDED`, `DT_FILTER` and `DT_AUXILIARY` entries in the order of
    /// the dynamic section (the loader processes them in one loop, in that order): the
    /// `k`-th [`DependencyKind::Needed`] is `needed[k]`, and so on.
    pub order: Vec<DependencyKind>,
}

/// Which list a dependency entry of [`DynamicInfo::order`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DependencyKind {
    /// `DT_NEEDED`.
    Needed,
    /// `DT_FILTER`.
    Filter,
    /// `DT_AUXILIARY`.
    Auxiliary,
}

impl DynamicInfo {
    /// The dependency entries in dynamic-section order, each with its kind.
    pub fn dependencies(&self) -> impl Iterator<Item = (DependencyKind, &Bytes)> + '_ {
        let (mut n, mut f, mut a) = (self.needed.iter(), self.filter.iter(), self.auxiliary.iter());
        self.order.iter().filter_map(move |&k| {
            let s = match k {
                DependencyKind::Needed => n.next(),
                DependencyKind::Filter => f.next(),
                DependencyKind::Auxiliary => a.next(),
            };
            s.map(|s| (k, s))
        })
    }
}

/// The strings of a string table that lives at `[base, base + size)` of the file, read with
/// as few reads as the offsets allow: one window over all of them when they lie close
/// together (the usual case), otherwise a growing read per string.
struct StringReader<'a, S: Source + ?Sized> {
    src: &'a S,
    base: u64,
    size: u64,
    window_start: u64,
    window: Cow<'a, [u8]>,
}

/// Strings lying within this many bytes of each other are read in one go.
const STRING_WINDOW: u64 = 32 << 10;

impl<'a, S: Source + ?Sized> StringReader<'a, S> {
    fn new(src: &'a S, base: u64, size: u64, offsets: impl Iterator<Item = u64>) -> Self {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for o in offsets.filter(|&o| o < size) {
            lo = lo.min(o);
            hi = hi.max(o);
        }
        let mut r = StringReader { src, base, size, window_start: 0, window: Cow::Borrowed(&[]) };
        if lo <= hi && hi - lo <= STRING_WINDOW {
            // Room for the last string too; a longer one is completed by `string`.
            let len = (hi - lo + 512).min(size - lo);
            if let Some(w) = src.get(base + lo, len) {
                r.window_start = lo;
                r.window = w;
            }
        }
        r
    }

    /// The NUL-terminated string at table offset `off`, without its NUL.
    fn string(&self, off: u64) -> Result<Vec<u8>, ParseError> {
        if off > self.size {
            return Err(ParseError("dynamic string offset past the string table"));
        }
        if off == self.size {
            return Err(ParseError("unterminated dynamic string"));
        }
        let wlen = self.window.len() as u64;
        if off >= self.window_start && off < self.window_start + wlen {
            let from = (off - self.window_start) as usize;
            let tail = &self.window[from..];
            if let Some(n) = tail.iter().position(|&b| b == 0) {
                return Ok(tail[..n].to_vec());
            }
        }
        // Read on, doubling, up to the end of the table.
        let mut want = 256u64;
        loop {
            let len = want.min(self.size - off);
            let chunk = self.src.get(self.base + off, len).ok_or(ParseError("cannot read file data"))?;
            if let Some(n) = chunk.iter().position(|&b| b == 0) {
                return Ok(chunk[..n].to_vec());
            }
            if len == self.size - off {
                return Err(ParseError("unterminated dynamic string"));
            }
            want = want.saturating_mul(2);
        }
    }
}

pub(super) fn parse_dynamic<S: Source + ?Sized>(
    src: &S,
    ph: &ProgramHeader,
    phdrs: &[ProgramHeader],
    class: Class,
    be: bool,
    max_entries: usize,
) -> Result<DynamicInfo, ParseError> {
    if !in_file(src.size(), ph.p_offset, ph.p_filesz) {
        return Err(ParseError("PT_DYNAMIC outside the file"));
    }
    let entsize = if class == Class::Elf64 { 16 } else { 8 };
    // Never read more entries than the limit allows (one more, to tell that it was passed).
    let want = ph.p_filesz.min((max_entries as u64).saturating_add(1).saturating_mul(entsize as u64));
    let table = src.get(ph.p_offset, want).ok_or(ParseError("cannot read file data"))?;
    let mut strtab = None;
    let mut strsz = None;
    // (tag, value) pairs for string-valued tags, resolved once the table is known.
    let mut strings: Vec<(u64, u64)> = Vec::new();
    let mut info = DynamicInfo::default();
    for (n, ent) in table.chunks_exact(entsize).enumerate() {
        if n >= max_entries {
            return Err(ParseError("too many dynamic entries"));
        }
        let (tag, val) = if class == Class::Elf64 {
            (rd_u64(ent, 0, be).unwrap_or(0), rd_u64(ent, 8, be).unwrap_or(0))
        } else {
            // d_tag is signed: sign-extend so that DT_FILTER etc. compare equal.
            let t = rd_u32(ent, 0, be).unwrap_or(0) as i32 as i64 as u64;
            (t & 0xffff_ffff, u64::from(rd_u32(ent, 4, be).unwrap_or(0)))
        };
        match tag {
            0 => break,
            DT_STRTAB => strtab = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_FLAGS => info.flags = val,
            DT_FLAGS_1 => info.flags_1 = val,
            DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH | DT_FILTER | DT_AUXILIARY => strings.push((tag, val)),
            _ => {}
        }
    }
    if strings.is_empty() {
        return Ok(info);
    }
    let strtab = strtab.ok_or(ParseError("dynamic strings without DT_STRTAB"))?;
    let (off, avail) = vaddr_to_offset(phdrs, strtab).ok_or(ParseError("DT_STRTAB outside every PT_LOAD segment"))?;
    let size = strsz.map_or(avail, |s| s.min(avail));
    if !in_file(src.size(), off, size) {
        return Err(ParseError("string table outside the file"));
    }
    // Entries may share one string; copying it per entry must not turn a small file into an
    // enormous allocation. Distinct strings fit in the table, so its size (plus slack for
    // a few shared suffixes) bounds an honest file's total.
    let mut budget = size.saturating_mul(2).saturating_add(64 << 10);
    let reader = StringReader::new(src, off, size, strings.iter().map(|&(_, v)| v));
    for (tag, val) in strings {
        let s = reader.string(val)?;
        budget = budget
            .checked_sub(s.len() as u64)
            .ok_or(ParseError("dynamic strings repeat far beyond the string table"))?;
        let s = Bytes::from(s);
        match tag {
            DT_NEEDED => {
                info.needed.push(s);
                info.order.push(DependencyKind::Needed);
            }
            DT_SONAME => info.soname = Some(s),
            DT_RPATH => info.rpath = Some(s),
            DT_RUNPATH => info.runpath = Some(s),
            DT_FILTER => {
                info.filter.push(s);
                info.order.push(DependencyKind::Filter);
            }
            _ => {
                info.auxiliary.push(s);
                info.order.push(DependencyKind::Auxiliary);
            }
        }
    }
    Ok(info)
}

/// True when the dynamic symbol table defines (`st_shndx != SHN_UNDEF`) every one of `names`.
///
/// musl uses this test to recognise a C library and replace it with itself
/// (`__libc_start_main` and `stdin`, ldso/dynlink.c `load_library`). The table's size comes
/// from `DT_HASH` (`nchain`) or `DT_GNU_HASH` (the highest chain end); every read is bounded
/// by the data.
pub fn defines_all(data: &[u8], names: &[&[u8]]) -> bool {
    defines_all_inner(data, names).unwrap_or(false)
}

fn defines_all_inner(data: &[u8], names: &[&[u8]]) -> Option<bool> {
    let raw = RawHeader::read(data)?;
    let be = raw.big_endian();
    let is64 = raw.class() == Class::Elf64;
    let phdrs = program_headers(data)?;
    let dynph = phdrs.iter().find(|p| p.p_type == program_header::PT_DYNAMIC && p.p_filesz > 0)?;
    let table = file_slice(data, dynph.p_offset, dynph.p_filesz)?;
    let entsize = if is64 { 16 } else { 8 };
    let (mut symtab, mut strtab, mut hash, mut gnu_hash) = (None, None, None, None);
    for ent in table.chunks_exact(entsize) {
        let (tag, val) = if is64 {
            (rd_u64(ent, 0, be)?, rd_u64(ent, 8, be)?)
        } else {
            (u64::from(rd_u32(ent, 0, be)?), u64::from(rd_u32(ent, 4, be)?))
        };
        match tag {
            0 => break,
            4 => hash = Some(val),
            5 => strtab = Some(val),
            6 => symtab = Some(val),
            0x6fff_fef5 => gnu_hash = Some(val),
            _ => {}
        }
    }
    let off = |v: u64| vaddr_to_offset(&phdrs, v).and_then(|(o, _)| usize::try_from(o).ok());
    let (symtab, strtab) = (off(symtab?)?, off(strtab?)?);
    let count: usize = if let Some(h) = hash.and_then(off) {
        rd_u32(data, h + 4, be)? as usize
    } else {
        let g = off(gnu_hash?)?;
        let nbuckets = rd_u32(data, g, be)? as usize;
        let symoffset = rd_u32(data, g + 4, be)? as usize;
        let bloom = rd_u32(data, g + 8, be)? as usize;
        let buckets = g.checked_add(16)?.checked_add(bloom.checked_mul(if is64 { 8 } else { 4 })?)?;
        let chains = buckets.checked_add(nbuckets.checked_mul(4)?)?;
        let mut last = 0usize;
        for b in 0..nbuckets {
            last = last.max(rd_u32(data, buckets + 4 * b, be)? as usize);
        }
        if last < symoffset {
            symoffset
        } else {
            let mut i = last;
            while rd_u32(data, chains.checked_add(4 * (i - symoffset))?, be)? & 1 == 0 {
                i += 1;
            }
            i + 1
        }
    };
    let symsize = if is64 { 24 } else { 16 };
    let mut found = vec![false; names.len()];
    for i in 0..count.min(data.len() / symsize) {
        let at = symtab.checked_add(i * symsize)?;
        let name = rd_u32(data, at, be)? as usize;
        let shndx = rd_u16(data, at + if is64 { 6 } else { 14 }, be)?;
        if shndx == 0 {
            continue;
        }
        let s = data.get(strtab.checked_add(name)?..)?;
        let s = &s[..s.iter().position(|&b| b == 0)?];
        for (k, n) in names.iter().enumerate() {
            found[k] |= s == *n;
        }
    }
    Some(found.iter().all(|&f| f))
}
