//! Per-architecture tables: multiarch triplets, standard interpreters, upstream library
//! directories, `$PLATFORM` defaults, vDSO names (glibc's `sysdeps/*/dl-machine.h` and
//! `ldconfig.h`, Debian's multiarch list).

use crate::elf;
use crate::model::Class;

/// Debian's multiarch triplet for a target.
pub(crate) fn multiarch(machine: u16, class: Class, flags: u32) -> Option<&'static str> {
    Some(match (machine, class) {
        (elf::EM_X86_64, Class::Elf64) => "x86_64-linux-gnu",
        (elf::EM_X86_64, Class::Elf32) => "x86_64-linux-gnux32",
        (elf::EM_386, _) => "i386-linux-gnu",
        (elf::EM_AARCH64, _) => "aarch64-linux-gnu",
        (elf::EM_ARM, _) if flags & 0x400 != 0 => "arm-linux-gnueabihf",
        (elf::EM_ARM, _) => "arm-linux-gnueabi",
        (elf::EM_PPC64, _) if flags & 3 == 2 => "powerpc64le-linux-gnu",
        (elf::EM_PPC64, _) => "powerpc64-linux-gnu",
        (elf::EM_PPC, _) => "powerpc-linux-gnu",
        (elf::EM_S390, _) => "s390x-linux-gnu",
        (elf::EM_RISCV, Class::Elf64) => "riscv64-linux-gnu",
        (elf::EM_LOONGARCH, _) => "loongarch64-linux-gnu",
        (elf::EM_SPARCV9, _) => "sparc64-linux-gnu",
        _ => return None,
    })
}

/// The standard glibc interpreter for a target (`shlib-versions`), used for inputs that
/// have none (shared objects given as the main program).
pub(crate) fn default_interp(machine: u16, class: Class, flags: u32) -> Option<&'static str> {
    Some(match (machine, class) {
        (elf::EM_X86_64, Class::Elf64) => "/lib64/ld-linux-x86-64.so.2",
        (elf::EM_X86_64, Class::Elf32) => "/libx32/ld-linux-x32.so.2",
        (elf::EM_386, _) => "/lib/ld-linux.so.2",
        (elf::EM_AARCH64, _) => "/lib/ld-linux-aarch64.so.1",
        (elf::EM_ARM, _) if flags & 0x400 != 0 => "/lib/ld-linux-armhf.so.3",
        (elf::EM_ARM, _) => "/lib/ld-linux.so.3",
        (elf::EM_PPC64, _) if flags & 3 == 2 => "/lib64/ld64.so.2",
        (elf::EM_PPC64, _) => "/lib64/ld64.so.1",
        (elf::EM_S390, Class::Elf64) => "/lib/ld64.so.1",
        (elf::EM_RISCV, Class::Elf64) => "/lib/ld-linux-riscv64-lp64d.so.1",
        (elf::EM_LOONGARCH, _) => "/lib64/ld-linux-loongarch-lp64d.so.1",
        _ => return None,
    })
}

/// Upstream glibc's slibdir for a target (`sysdeps/unix/sysv/linux/*/configure`).
pub(super) fn upstream_libdir(machine: u16, class: Class) -> &'static str {
    match (machine, class) {
        (elf::EM_X86_64 | elf::EM_AARCH64 | elf::EM_PPC64 | elf::EM_S390 | elf::EM_SPARCV9, Class::Elf64) => "lib64",
        (elf::EM_X86_64, Class::Elf32) => "libx32",
        (elf::EM_RISCV, Class::Elf64) => "lib64/lp64d",
        (elf::EM_LOONGARCH, _) => "lib64",
        _ => "lib",
    }
}

/// The default `$PLATFORM` (`AT_PLATFORM`) for a machine.
pub(super) fn default_platform(machine: u16, class: Class) -> Option<&'static str> {
    Some(match (machine, class) {
        (elf::EM_X86_64, _) => "x86_64",
        (elf::EM_386, _) => "i686",
        (elf::EM_AARCH64, _) => "aarch64",
        (elf::EM_ARM, _) => "v7l",
        (elf::EM_PPC64, _) => "power8",
        (elf::EM_S390, _) => "z900",
        (elf::EM_RISCV, _) => "riscv64",
        _ => return None,
    })
}

/// The vDSO's name for a machine, as the kernel sets its `DT_SONAME`.
pub(super) fn vdso_name(machine: u16) -> &'static [u8] {
    match machine {
        elf::EM_386 => b"linux-gate.so.1",
        elf::EM_PPC64 | elf::EM_S390 => b"linux-vdso64.so.1",
        elf::EM_PPC => b"linux-vdso32.so.1",
        _ => b"linux-vdso.so.1",
    }
}
