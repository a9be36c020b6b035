//! The file header and the program header table, read by hand (no goblin), bounded by the data.

use goblin::elf::header;
use goblin::elf::program_header::{self, ProgramHeader};
use serde::{Deserialize, Serialize};

use super::Source;

/// ELF class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Class {
    /// 32-bit.
    Elf32,
    /// 64-bit.
    Elf64,
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

/// How many bytes of a file [`sniff`] looks at: the magic to `e_type`.
pub const SNIFF_LEN: usize = 18;

/// `e_type` of a file whose first bytes are `head`, read in the byte order `EI_DATA` names
/// (2 big-endian, anything else little-endian); `None` when `head` is shorter than
/// [`SNIFF_LEN`] or does not start with the ELF magic. Nothing else is checked.
pub fn sniff(head: &[u8]) -> Option<u16> {
    if head.len() < SNIFF_LEN || !is_elf(head) {
        return None;
    }
    let t = [head[16], head[17]];
    Some(if head[header::EI_DATA] == header::ELFDATA2MSB { u16::from_be_bytes(t) } else { u16::from_le_bytes(t) })
}

/// True when the first bytes of a file, `head`, are those of an ELF executable or shared
/// object (`ET_EXEC` or `ET_DYN`, by [`sniff`]): not an object file or a core dump.
pub fn is_loadable(head: &[u8]) -> bool {
    matches!(sniff(head), Some(header::ET_EXEC | header::ET_DYN))
}

/// The header fields every check needs, read without goblin so that a header too damaged
/// for a full parse can still be classified the way the loader classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
pub(super) fn read_phdrs(table: &[u8], n: usize, is64: bool, be: bool) -> Option<Vec<ProgramHeader>> {
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
