//! The CPU running depclose, probed the way glibc probes it (`sysdeps/x86/cpu-features.c`,
//! `get-isa-level.h`), for [`Hwcaps::Host`](crate::Hwcaps::Host) on a matching
//! architecture.

/// The x86-64 micro-architecture level of the CPU running this code (1 to 4), by the feature
/// lists of glibc's `get_isa_level` (`sysdeps/x86/get-isa-level.h`).
pub(crate) fn host_x86_64_level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        use cpu::Feature::*;
        let v2 = cpu::active(&[Cmpxchg16b, LahfSahf, Popcnt, Sse3, Ssse3, Sse41, Sse42]);
        let v3 = v2 && cpu::active(&[Avx, Avx2, Bmi1, Bmi2, F16c, Fma, Lzcnt, Movbe]);
        let v4 = v3 && cpu::active(&[Avx512f, Avx512bw, Avx512cd, Avx512dq, Avx512vl]);
        1 + u8::from(v2) + u8::from(v3) + u8::from(v4)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        1
    }
}

/// glibc's `dl_platform` on this CPU (sysdeps/x86/cpu-features.c, `init_cpu_features`): on
/// an Intel CPU, `xeon_phi` with AVX512CD, AVX512ER and AVX512PF, else `haswell` with AVX2,
/// FMA, BMI1, BMI2, LZCNT, MOVBE and POPCNT; otherwise none (the kernel's `x86_64` stays).
pub(crate) fn host_x86_64_platform() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use cpu::Feature::*;
        if !cpu::is_intel() {
            return None;
        }
        if cpu::active(&[Avx512cd, Avx512er, Avx512pf]) {
            return Some("xeon_phi");
        }
        cpu::active(&[Avx2, Fma, Bmi1, Bmi2, Lzcnt, Movbe, Popcnt]).then_some("haswell")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Whether glibc sets `HWCAP_X86_AVX512_1` on this CPU: an Intel CPU with AVX512CD, BW, DQ
/// and VL and without AVX512ER (cpu-features.c).
pub(super) fn host_x86_64_avx512_1() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use cpu::Feature::*;
        cpu::is_intel() && cpu::active(&[Avx512cd, Avx512bw, Avx512dq, Avx512vl]) && !cpu::active(&[Avx512er])
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// x86-64 CPU features, as glibc sees them.
///
/// Under glibc the answer comes from the table its start-up code filled (the same table
/// `ld.so` picks glibc-hwcaps subdirectories by, tunables applied): `CPUID` is not run again.
/// In a virtual machine each `CPUID` is a trap to the hypervisor, about 10 µs here, and
/// Rust's `is_x86_feature_detected!` runs a dozen of them, which would be a tenth of a
/// one-file run. Elsewhere (musl builds) `is_x86_feature_detected!` answers.
#[cfg(target_arch = "x86_64")]
mod cpu {
    /// The features the glibc-hwcaps levels test.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Feature {
        Cmpxchg16b,
        LahfSahf,
        Popcnt,
        Sse3,
        Ssse3,
        Sse41,
        Sse42,
        Avx,
        Avx2,
        Bmi1,
        Bmi2,
        F16c,
        Fma,
        Lzcnt,
        Movbe,
        Avx512f,
        Avx512bw,
        Avx512cd,
        Avx512dq,
        Avx512vl,
        Avx512er,
        Avx512pf,
    }

    /// True when the CPU's vendor is Intel (`CPUID` leaf 0 says "GenuineIntel"): glibc sets
    /// `dl_platform` and the AVX-512 legacy hwcap on Intel CPUs only. The one `CPUID` this
    /// takes is run once per process, and only when a platform is derived for the host.
    pub(super) fn is_intel() -> bool {
        static INTEL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *INTEL.get_or_init(|| {
            // SAFETY: CPUID leaf 0 exists on every x86-64 CPU and has no side effects.
            #[allow(unused_unsafe)]
            let r = unsafe { std::arch::x86_64::__cpuid(0) };
            (r.ebx, r.edx, r.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e)
        })
    }

    /// True when every feature in `all` is active (present and enabled by the OS).
    pub(super) fn active(all: &[Feature]) -> bool {
        all.iter().all(|&f| has(f))
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn has(f: Feature) -> bool {
        use Feature::*;
        /// `struct cpuid_feature` of `<sys/platform/x86.h>`.
        #[repr(C)]
        struct CpuidFeature {
            cpuid: [u32; 4],
            active: [u32; 4],
        }
        extern "C" {
            /// glibc ≥ 2.33: the feature words of one `CPUID` leaf group; a zeroed table
            /// for groups it does not know. Never null.
            fn __x86_get_cpuid_feature_leaf(leaf: u32) -> *const CpuidFeature;
        }
        // `x86_cpu_*` values of <bits/platform/x86.h>: leaf group * 128 + register * 32 + bit.
        let index: u32 = match f {
            Sse3 => 64,
            Ssse3 => 73,
            Fma => 76,
            Cmpxchg16b => 77,
            Sse41 => 83,
            Sse42 => 84,
            Movbe => 86,
            Popcnt => 87,
            Avx => 92,
            F16c => 93,
            Bmi1 => 163,
            Avx2 => 165,
            Bmi2 => 168,
            Avx512f => 176,
            Avx512dq => 177,
            Avx512pf => 186,
            Avx512er => 187,
            Avx512cd => 188,
            Avx512bw => 190,
            Avx512vl => 191,
            LahfSahf => 320,
            Lzcnt => 325,
        };
        // SAFETY: a pure glibc function returning a pointer to a static, initialised table.
        let words = unsafe { &*__x86_get_cpuid_feature_leaf(index / 128) };
        words.active[(index % 128 / 32) as usize] & (1 << (index % 32)) != 0
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    fn has(f: Feature) -> bool {
        use std::arch::is_x86_feature_detected as d;
        use Feature::*;
        match f {
            Cmpxchg16b => d!("cmpxchg16b"),
            // No `is_x86_feature_detected!` name; every CPU with SSE4.2 has had it in
            // 64-bit mode but the first Pentium 4s, which lack SSE4.2 anyway.
            LahfSahf => true,
            Popcnt => d!("popcnt"),
            Sse3 => d!("sse3"),
            Ssse3 => d!("ssse3"),
            Sse41 => d!("sse4.1"),
            Sse42 => d!("sse4.2"),
            Avx => d!("avx"),
            Avx2 => d!("avx2"),
            Bmi1 => d!("bmi1"),
            Bmi2 => d!("bmi2"),
            F16c => d!("f16c"),
            Fma => d!("fma"),
            Lzcnt => d!("lzcnt"),
            Movbe => d!("movbe"),
            Avx512f => d!("avx512f"),
            Avx512bw => d!("avx512bw"),
            Avx512cd => d!("avx512cd"),
            Avx512dq => d!("avx512dq"),
            Avx512vl => d!("avx512vl"),
            // Xeon Phi only; not detected without glibc's table.
            Avx512er | Avx512pf => false,
        }
    }
}
