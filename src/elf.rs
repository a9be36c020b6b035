//! The ELF reader: bytes in, facts out. No filesystem, no environment, no allocation that
//! the input's length does not bound.
//!
//! Only what dynamic linking needs is read: the file header, the program headers,
//! `PT_INTERP`, and the `PT_DYNAMIC` entries with their strings (`DT_STRTAB` is mapped to
//! a file offset through the `PT_LOAD` segments, as the loader sees it in memory). Section
//! headers are never consulted: they are strippable and the loader ignores them.
//!
//! ```
//! let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
//! let info = depclose::elf::parse(&data).unwrap();
//! assert!(info.dynamic.is_some() || info.interp.is_none());
//! ```

use std::borrow::Cow;
use std::fmt;

use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};

use crate::bytes::Bytes;
use crate::model::Class;

/// `DT_NEEDED`.
pub const DT_NEEDED: u64 = 1;
/// `DT_STRTAB`.
pub const DT_STRTAB: u64 = 5;
/// `DT_STRSZ`.
pub const DT_STRSZ: u64 = 10;
/// `DT_SONAME`.
pub const DT_SONAME: u64 = 14;
/// `DT_RPATH`.
pub const DT_RPATH: u64 = 15;
/// `DT_FLAGS`.
pub const DT_FLAGS: u64 = 30;
/// `DT_RUNPATH`.
pub const DT_RUNPATH: u64 = 29;
/// `DT_FLAGS_1`.
pub const DT_FLAGS_1: u64 = 0x6fff_fffb;
/// `DT_AUXILIARY`.
pub const DT_AUXILIARY: u64 = 0x7fff_fffd;
/// `DT_FILTER`.
pub const DT_FILTER: u64 = 0x7fff_ffff;
/// `DF_1_NODEFLIB`: do not search the default directories for this object's dependencies.
pub const DF_1_NODEFLIB: u64 = 0x800;
/// `DF_1_PIE`: a position-independent executable.
pub const DF_1_PIE: u64 = 0x0800_0000;

/// Why bytes are not a usable ELF file. Cheap and allocation-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError(&'static str);

impl ParseError {
    pub(crate) const fn new(reason: &'static str) -> Self {
        ParseError(reason)
    }

    /// The reason, in words.
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ParseError {}

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

/// What dynamic linking needs to know about one ELF file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElfInfo {
    /// `e_ident`.
    pub ident: [u8; 16],
    /// Class.
    pub class: Class,
    /// True for big-endian (`ELFDATA2MSB`).
    pub big_endian: bool,
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub machine: u16,
    /// `e_version`.
    pub version: u32,
    /// `e_flags` (ABI bits on ARM, RISC-V, MIPS, PowerPC).
    pub flags: u32,
    /// `e_phentsize`.
    pub phentsize: u16,
    /// `PT_INTERP`, without its terminating NUL.
    pub interp: Option<Bytes>,
    /// `PT_DYNAMIC` facts; `None` when there is no `PT_DYNAMIC`.
    pub dynamic: Option<DynamicInfo>,
}

impl ElfInfo {
    /// `DT_FLAGS_1`, 0 when there is no dynamic section.
    pub fn flags_1(&self) -> u64 {
        self.dynamic.as_ref().map_or(0, |d| d.flags_1)
    }

    /// True for a position-independent executable (`DF_1_PIE`).
    pub fn is_pie(&self) -> bool {
        self.flags_1() & DF_1_PIE != 0
    }
}

pub(crate) fn rd_u16(b: &[u8], off: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
}

pub(crate) fn rd_u32(b: &[u8], off: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

pub(crate) fn rd_u64(b: &[u8], off: usize, be: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(if be { u64::from_be_bytes(s) } else { u64::from_le_bytes(s) })
}

/// True when `data` starts with the ELF magic.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// The header fields every check needs, read without goblin so that a header too damaged
/// for a full parse can still be classified the way the loader classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    /// `e_ident`.
    pub ident: [u8; 16],
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub machine: u16,
    /// `e_version`.
    pub version: u32,
    /// `e_flags`.
    pub flags: u32,
    /// `e_phentsize`.
    pub phentsize: u16,
    /// `e_phnum`.
    pub phnum: u16,
    /// `e_phoff`.
    pub phoff: u64,
}

impl RawHeader {
    /// Read the header. `None` when the data is shorter than the header of its class or the
    /// class or byte order byte is not 1 or 2.
    pub fn read(data: &[u8]) -> Option<RawHeader> {
        let ident: [u8; 16] = data.get(..16)?.try_into().ok()?;
        let be = match ident[header::EI_DATA] {
            header::ELFDATA2LSB => false,
            header::ELFDATA2MSB => true,
            _ => return None,
        };
        let (phoff, flags_off, rest) = match ident[header::EI_CLASS] {
            header::ELFCLASS64 => (rd_u64(data, 32, be)?, 48, 54),
            header::ELFCLASS32 => (u64::from(rd_u32(data, 28, be)?), 36, 42),
            _ => return None,
        };
        Some(RawHeader {
            ident,
            e_type: rd_u16(data, 16, be)?,
            machine: rd_u16(data, 18, be)?,
            version: rd_u32(data, 20, be)?,
            flags: rd_u32(data, flags_off, be)?,
            phentsize: rd_u16(data, rest, be)?,
            phnum: rd_u16(data, rest + 2, be)?,
            phoff,
        })
    }

    /// The class.
    pub fn class(&self) -> Class {
        if self.ident[header::EI_CLASS] == header::ELFCLASS64 {
            Class::Elf64
        } else {
            Class::Elf32
        }
    }

    /// True for big-endian.
    pub fn big_endian(&self) -> bool {
        self.ident[header::EI_DATA] == header::ELFDATA2MSB
    }
}

/// Random access to a file's bytes, so that the parser reads only what it needs: the header,
/// the program headers, `PT_INTERP`, `PT_DYNAMIC` and the strings it names. A byte slice
/// is one; so is an open file read with `pread` (see the resolver).
pub(crate) trait Source {
    /// The file's length in bytes.
    fn size(&self) -> u64;
    /// Bytes `[off, off + len)`, or `None` when the range is not inside the file or cannot be
    /// read.
    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>>;
    /// Bytes `[off, off + len)` to keep after the source is gone: a copy, unless the source
    /// can share them (a mapped file, see [`crate::symbols`]).
    fn table(&self, off: u64, len: u64) -> Option<crate::symbols::Table> {
        self.get(off, len).map(|c| crate::symbols::Table::Owned(c.into_owned().into_boxed_slice()))
    }
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn get(&self, off: u64, len: u64) -> Option<Cow<'_, [u8]>> {
        file_slice(self, off, len).map(Cow::Borrowed)
    }
}

/// True when `[off, off + len)` lies inside a file of `size` bytes.
pub(crate) fn in_file(size: u64, off: u64, len: u64) -> bool {
    off.checked_add(len).is_some_and(|end| end <= size)
}

/// Parse the dynamic-linking facts of an ELF file.
///
/// # Errors
/// Not ELF, a header or program headers that do not fit in the data, a `PT_INTERP` or
/// `PT_DYNAMIC` outside the file, a `DT_STRTAB` outside every `PT_LOAD`, string offsets past
/// the table. `max_dynamic_entries` bounds how many dynamic entries are read.
pub fn parse_with_limit(data: &[u8], max_dynamic_entries: usize) -> Result<ElfInfo, ParseError> {
    parse_source(data, max_dynamic_entries)
}

/// [`parse_with_limit`] over any [`Source`]. Reads are bounded by the file's size and by
/// `max_dynamic_entries`, never by a length field alone.
pub(crate) fn parse_source<S: Source + ?Sized>(src: &S, max_dynamic_entries: usize) -> Result<ElfInfo, ParseError> {
    let size = src.size();
    let head = src.get(0, size.min(64)).ok_or(ParseError("cannot read file data"))?;
    let data: &[u8] = &head;
    if !is_elf(data) {
        return Err(ParseError("not an ELF file (bad magic)"));
    }
    let raw = RawHeader::read(data).ok_or(ParseError("ELF header truncated or of unknown class/byte order"))?;
    let hdr: Header = goblin::elf::Elf::parse_header(data).map_err(|_| ParseError("malformed ELF header"))?;
    let phsize = if raw.class() == Class::Elf64 { 56usize } else { 32 };
    if hdr.e_phnum > 0 && usize::from(hdr.e_phentsize) != phsize {
        return Err(ParseError("unexpected program header entry size"));
    }
    let phoff = usize::try_from(hdr.e_phoff).map_err(|_| ParseError("program headers past end of file"))?;
    let phnum = usize::from(hdr.e_phnum);
    let end = phnum
        .checked_mul(phsize)
        .and_then(|n| n.checked_add(phoff))
        .ok_or(ParseError("program header table overflows"))?;
    if phnum > 0 && end as u64 > size {
        return Err(ParseError("program headers past end of file"));
    }
    let phdrs = if phnum == 0 {
        Vec::new()
    } else {
        let table = src.get(phoff as u64, (phnum * phsize) as u64).ok_or(ParseError("cannot read file data"))?;
        read_phdrs(&table, phnum, raw.class() == Class::Elf64, raw.big_endian())
            .ok_or(ParseError("malformed program headers"))?
    };

    let mut interp = None;
    let mut dyn_ph = None;
    for ph in &phdrs {
        match ph.p_type {
            // The kernel refuses a PT_INTERP shorter than 2 bytes; debuginfo files carry one
            // with p_filesz 0. Such a file has no interpreter.
            program_header::PT_INTERP if interp.is_none() && ph.p_filesz >= 2 => {
                if !in_file(size, ph.p_offset, ph.p_filesz) {
                    return Err(ParseError("PT_INTERP outside the file"));
                }
                // The string ends at the first NUL; the kernel refuses anything longer than
                // PATH_MAX, so reading more than 64 KiB of it would only cost memory.
                let s = src.get(ph.p_offset, ph.p_filesz.min(64 << 10)).ok_or(ParseError("cannot read file data"))?;
                let s = match s.iter().position(|&b| b == 0) {
                    Some(n) => &s[..n],
                    None => &s[..],
                };
                interp = Some(Bytes::from(s));
            }
            // elf/dl-load.c skips a PT_DYNAMIC with p_filesz 0 (objcopy --only-keep-debug
            // output), so such a file has "no dynamic section".
            program_header::PT_DYNAMIC if dyn_ph.is_none() && ph.p_filesz > 0 => dyn_ph = Some(ph),
            _ => {}
        }
    }

    let dynamic = match dyn_ph {
        None => None,
        Some(ph) => Some(parse_dynamic(src, ph, &phdrs, raw.class(), raw.big_endian(), max_dynamic_entries)?),
    };

    Ok(ElfInfo {
        ident: raw.ident,
        class: raw.class(),
        big_endian: raw.big_endian(),
        e_type: raw.e_type,
        machine: raw.machine,
        version: raw.version,
        flags: raw.flags,
        phentsize: raw.phentsize,
        interp,
        dynamic,
    })
}

/// [`parse_with_limit`] with a limit of 65,536 dynamic entries.
///
/// # Errors
/// See [`parse_with_limit`].
pub fn parse(data: &[u8]) -> Result<ElfInfo, ParseError> {
    parse_with_limit(data, 65_536)
}

/// The program header table of a file, `None` when the header or the table is not inside it.
pub(crate) fn program_headers<S: Source + ?Sized>(src: &S) -> Option<Vec<ProgramHeader>> {
    let raw = RawHeader::read(&src.get(0, src.size().min(64))?)?;
    let is64 = raw.class() == Class::Elf64;
    let size = if is64 { 56u64 } else { 32 };
    let n = usize::from(raw.phnum);
    let table = src.get(raw.phoff, (n as u64).checked_mul(size)?)?;
    read_phdrs(&table, n, is64, raw.big_endian())
}

/// The program header table (`n` entries of the class's size at the start of `table`).
fn read_phdrs(table: &[u8], n: usize, is64: bool, be: bool) -> Option<Vec<ProgramHeader>> {
    let size = if is64 { 56 } else { 32 };
    let mut out = Vec::with_capacity(n);
    for e in table.chunks_exact(size).take(n) {
        let w = |off: usize| rd_u32(e, off, be).map(u64::from);
        let ph = if is64 {
            ProgramHeader {
                p_type: rd_u32(e, 0, be)?,
                p_flags: rd_u32(e, 4, be)?,
                p_offset: rd_u64(e, 8, be)?,
                p_vaddr: rd_u64(e, 16, be)?,
                p_paddr: rd_u64(e, 24, be)?,
                p_filesz: rd_u64(e, 32, be)?,
                p_memsz: rd_u64(e, 40, be)?,
                p_align: rd_u64(e, 48, be)?,
            }
        } else {
            ProgramHeader {
                p_type: rd_u32(e, 0, be)?,
                p_offset: w(4)?,
                p_vaddr: w(8)?,
                p_paddr: w(12)?,
                p_filesz: w(16)?,
                p_memsz: w(20)?,
                p_flags: rd_u32(e, 24, be)?,
                p_align: w(28)?,
            }
        };
        out.push(ph);
    }
    (out.len() == n).then_some(out)
}

pub(crate) fn file_slice(data: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    data.get(off..off.checked_add(len)?)
}

/// Map a virtual address to a file offset through the `PT_LOAD` segments; also returns how
/// many file bytes the segment holds from there.
pub(crate) fn vaddr_to_offset(phdrs: &[ProgramHeader], vaddr: u64) -> Option<(u64, u64)> {
    for ph in phdrs {
        if ph.p_type != program_header::PT_LOAD {
            continue;
        }
        let start = ph.p_vaddr;
        let end = start.checked_add(ph.p_filesz)?;
        if vaddr >= start && vaddr < end {
            let delta = vaddr - start;
            return Some((ph.p_offset.checked_add(delta)?, ph.p_filesz - delta));
        }
    }
    None
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

fn parse_dynamic<S: Source + ?Sized>(
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

// ---------------------------------------------------------------------------------------
// Machine facts
// ---------------------------------------------------------------------------------------

/// `EM_386`.
pub const EM_386: u16 = 3;
/// `EM_MIPS`.
pub const EM_MIPS: u16 = 8;
/// `EM_PPC`.
pub const EM_PPC: u16 = 20;
/// `EM_PPC64`.
pub const EM_PPC64: u16 = 21;
/// `EM_S390`.
pub const EM_S390: u16 = 22;
/// `EM_ARM`.
pub const EM_ARM: u16 = 40;
/// `EM_SPARCV9`.
pub const EM_SPARCV9: u16 = 43;
/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;
/// `EM_RISCV`.
pub const EM_RISCV: u16 = 243;
/// `EM_LOONGARCH`.
pub const EM_LOONGARCH: u16 = 258;

/// glibc's `elf_machine_matches_host` for a loader built for (`machine`, `flags`) asked about
/// a candidate's (`cand_machine`, `cand_flags`). Class is checked separately.
pub fn machine_matches(machine: u16, flags: u32, cand_machine: u16, cand_flags: u32) -> bool {
    if cand_machine != machine {
        return false;
    }
    match machine {
        // sysdeps/powerpc/powerpc64/dl-machine.h: ELF ABI version bits must agree when set.
        EM_PPC64 => {
            let abi = cand_flags & 3;
            abi == 0 || (flags & 3) == 0 || abi == (flags & 3)
        }
        // sysdeps/riscv/dl-machine.h: the float ABI must match.
        EM_RISCV => (cand_flags & 0x6) == (flags & 0x6),
        _ => true,
    }
}

/// What glibc's `open_verify` decides about a candidate file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Usable.
    Accept,
    /// Not for this loader: keep searching (class or machine differ).
    Skip(SkipReason),
    /// The loader aborts the whole program with this message.
    Fatal(&'static str),
}

/// Why a candidate was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Other ELF class.
    Class,
    /// Other machine or ABI.
    Machine,
}

/// The loader a candidate is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderAbi {
    /// Class the loader was built for.
    pub class: Class,
    /// Byte order.
    pub big_endian: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_flags` of the loader's objects (for ABI-bit checks).
    pub flags: u32,
    /// `LIBC_ABI_MAX`: the highest accepted `EI_ABIVERSION` with OSABI GNU, plus one.
    pub abi_max: u8,
}

/// glibc `open_verify` (elf/dl-load.c, 2.36), checks in the loader's order, on the first
/// bytes of a candidate file (`data` may be the whole file). `len` is the file's size.
pub fn verify_candidate(data: &[u8], len: u64, abi: &LoaderAbi) -> Verdict {
    let ehdr_size = if abi.class == Class::Elf64 { 64 } else { 52 };
    if len < ehdr_size || data.len() < ehdr_size as usize {
        return Verdict::Fatal("file too short");
    }
    if !is_elf(data) {
        return Verdict::Fatal("invalid ELF header");
    }
    let class_ok = match abi.class {
        Class::Elf64 => data[header::EI_CLASS] == header::ELFCLASS64,
        Class::Elf32 => data[header::EI_CLASS] == header::ELFCLASS32,
    };
    if !class_ok {
        return Verdict::Skip(SkipReason::Class);
    }
    let want_data = if abi.big_endian { header::ELFDATA2MSB } else { header::ELFDATA2LSB };
    if data[header::EI_DATA] != want_data {
        return Verdict::Fatal(if abi.big_endian {
            "ELF file data encoding not big-endian"
        } else {
            "ELF file data encoding not little-endian"
        });
    }
    if data[header::EI_VERSION] != 1 {
        return Verdict::Fatal("ELF file version ident does not match current one");
    }
    let osabi = data[header::EI_OSABI];
    if osabi != header::ELFOSABI_NONE && osabi != header::ELFOSABI_GNU {
        return Verdict::Fatal("ELF file OS ABI invalid");
    }
    let abiv = data[header::EI_ABIVERSION];
    if !(abiv == 0 || (osabi == header::ELFOSABI_GNU && abiv < abi.abi_max)) {
        return Verdict::Fatal("ELF file ABI version invalid");
    }
    if data[9..16].iter().any(|&b| b != 0) {
        return Verdict::Fatal("nonzero padding in e_ident");
    }
    let Some(raw) = RawHeader::read(data) else {
        return Verdict::Fatal("file too short");
    };
    if raw.version != 1 {
        return Verdict::Fatal("ELF file version does not match current one");
    }
    if !machine_matches(abi.machine, abi.flags, raw.machine, raw.flags) {
        return Verdict::Skip(SkipReason::Machine);
    }
    if raw.e_type != header::ET_DYN && raw.e_type != header::ET_EXEC {
        return Verdict::Fatal("only ET_DYN and ET_EXEC can be loaded");
    }
    let phsize: u16 = if abi.class == Class::Elf64 { 56 } else { 32 };
    if raw.phentsize != phsize {
        return Verdict::Fatal("ELF file's phentsize not the expected size");
    }
    let need = u64::from(raw.phnum) * u64::from(phsize);
    if raw.phoff.checked_add(need).is_none_or(|end| end > len) {
        return Verdict::Fatal("cannot read file data");
    }
    Verdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_own_executable() {
        let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = parse(&data).unwrap();
        let d = info.dynamic.expect("test binary is dynamic");
        assert!(d.needed.iter().any(|n| n.as_bytes().starts_with(b"libc.so")));
        assert!(info.interp.is_some());
    }

    #[test]
    fn truncated_at_every_length_never_panics() {
        let data = std::fs::read("/bin/true").unwrap_or_default();
        for n in 0..data.len().min(8192) {
            let _ = parse(&data[..n]);
        }
    }
}
