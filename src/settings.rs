//! Resolver settings: the values a [`ResolverBuilder`](crate::ResolverBuilder) gathers (data only).

use std::path::PathBuf;

use crate::bytes::Bytes;

/// Which glibc-hwcaps subdirectories the loader of the target CPU searches.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Hwcaps {
    /// The CPU running depclose, when the target has the same architecture: its x86-64
    /// level as this process's glibc computed it at start-up (the feature table `ld.so`
    /// chooses glibc-hwcaps subdirectories by, tunables applied; `CPUID` is not run again),
    /// or Rust's feature detection without glibc; no subdirectories for another
    /// architecture. This is what `ld.so` on this machine uses.
    #[default]
    Host,
    /// No glibc-hwcaps subdirectory (`--glibc-hwcaps-mask none`): the baseline copies.
    None,
    /// An x86-64 micro-architecture level, 1 to 4 (`x86-64-v2` … `x86-64-v4`; 1 = none).
    X86_64Level(u8),
    /// An explicit list, most preferred first (for example `["power10", "power9"]`).
    Subdirs(Vec<String>),
}

/// How the input's `$ORIGIN` is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OriginMode {
    /// The directory of the input's canonical path, as on a real `execve` (the kernel
    /// reports `/proc/self/exe`, which has every symlink resolved).
    #[default]
    Canonical,
    /// The directory of the path as given, as `ld.so FILE` (and so `ldd`) computes it in
    /// glibc 2.36 to 2.41.
    AsGiven,
}

/// Where the `ld.so.cache` comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheSource {
    /// `/etc/ld.so.cache` inside the root (the default), skipped if absent or invalid, as
    /// the loader does.
    Root,
    /// Another file inside the root.
    Path(PathBuf),
    /// No cache (`ld.so --inhibit-cache`).
    None,
}

/// Bounds that keep hostile input from making the work unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most objects one closure may hold. Default 65,536.
    pub max_objects: usize,
    /// Most symlinks followed for one path. Default 40 (Linux).
    pub max_symlink_hops: u32,
    /// Largest file that is parsed as ELF or read as a cache or configuration file.
    /// Default 4 GiB.
    pub max_file_bytes: u64,
    /// Most `DT_NEEDED` (and other dynamic) entries read from one object. Default 65,536.
    pub max_dynamic_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_objects: 65_536, max_symlink_hops: 40, max_file_bytes: 4 << 30, max_dynamic_entries: 65_536 }
    }
}

/// Settings as given to the builder; target-specific values are derived per input.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub root: PathBuf,
    pub ld_library_path: Option<Bytes>,
    pub cwd: Option<PathBuf>,
    pub hwcaps: Hwcaps,
    pub platform: Option<Bytes>,
    pub lib: Option<Bytes>,
    pub default_dirs: Option<Vec<Bytes>>,
    pub extra_default_dirs: Vec<Bytes>,
    pub cache: CacheSource,
    pub assume_ldconfig: bool,
    pub origin: OriginMode,
    pub preload: Vec<Bytes>,
    pub legacy_hwcaps: Option<bool>,
    pub secure: bool,
    pub limits: Limits,
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            root: PathBuf::from("/"),
            ld_library_path: None,
            cwd: None,
            hwcaps: Hwcaps::Host,
            platform: None,
            lib: None,
            default_dirs: None,
            extra_default_dirs: Vec::new(),
            cache: CacheSource::Root,
            assume_ldconfig: false,
            origin: OriginMode::Canonical,
            preload: Vec::new(),
            legacy_hwcaps: None,
            secure: false,
            limits: Limits::default(),
            threads: 0,
        }
    }
}
