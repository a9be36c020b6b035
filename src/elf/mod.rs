//! The ELF reader: bytes in, facts out. No filesystem, no environment, no allocation that
//! the input's length does not bound.
//!
//! Only what dynamic linking needs is read: the file header, the program headers,
//! `PT_INTERP`, and the `PT_DYNAMIC` entries with their strings (`DT_STRTAB` is mapped to
//! a file offset through the `PT_LOAD` segments, as the loader sees it in memory). Section
//! headers are never consulted: they are strippable and the loader ignores them.
//!
//! The readers of the rest of what dynamic linking looks at live below: [`symbols`] (the
//! dynamic symbol table and symbol versions), [`notes`] (`.note.dlopen`) and [`strings`]
//! (string literals in read-only data). Nothing here depends on the rest of the crate but
//! [`Bytes`].
//!
//! ```
//! let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
//! let info = depclose::elf::parse(&data).unwrap();
//! assert!(info.dynamic.is_some() || info.interp.is_none());
//! ```

mod dynamic;
mod header;
mod source;
mod verify;

pub mod notes;
pub mod strings;
pub mod symbols;

use std::fmt;

use goblin::elf::header::Header;
use goblin::elf::program_header;

use crate::bytes::Bytes;

use self::dynamic::parse_dynamic;
pub use self::dynamic::{defines_all, DependencyKind, DynamicInfo};
use self::header::read_phdrs;
pub use self::header::{is_elf, is_loadable, sniff, Class, RawHeader, SNIFF_LEN};
pub(crate) use self::header::{program_headers, rd_u16, rd_u32, rd_u64, vaddr_to_offset};
pub(crate) use self::source::{file_slice, in_file, Source};
pub use self::verify::{
    machine_matches, verify_candidate, LoaderAbi, SkipReason, Verdict, EM_386, EM_AARCH64, EM_ARM, EM_LOONGARCH,
    EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_SPARCV9, EM_X86_64,
};

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
