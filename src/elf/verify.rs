//! Machine facts and glibc's `open_verify`: which candidate files a loader accepts.

use goblin::elf::header;

use super::{is_elf, Class, RawHeader};

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
#[non_exhaustive]
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
#[non_exhaustive]
pub enum SkipReason {
    /// Other ELF class.
    Class,
    /// Other machine or ABI.
    Machine,
}

/// The loader a candidate is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

impl LoaderAbi {
    /// A loader built for `class`, byte order `big_endian`, `machine` with `e_flags` `flags`,
    /// accepting `EI_ABIVERSION` below `abi_max` with OSABI GNU.
    pub fn new(class: Class, big_endian: bool, machine: u16, flags: u32, abi_max: u8) -> Self {
        LoaderAbi { class, big_endian, machine, flags, abi_max }
    }
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
