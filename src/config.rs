//! Resolver settings: the builder and the values it holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bytes::Bytes;
use crate::error::{Error, ErrorKind};
use crate::resolver::{Resolver, Shared};
use crate::root::Root;

/// Which glibc-hwcaps subdirectories the loader of the target CPU searches.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Hwcaps {
    /// The CPU running depclose, when the target has the same architecture (x86-64 levels
    /// via CPUID); no subdirectories otherwise. This is what `ld.so` on this machine uses.
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

/// Builds a [`Resolver`]. Every host input is an explicit option: nothing is read from the
/// environment, the current directory or the host's `/etc` unless passed here.
///
/// ```
/// let resolver = depclose::Resolver::builder()
///     .root("/")
///     .ld_library_path(Some("/opt/app/lib"))
///     .build()
///     .unwrap();
/// # let _ = resolver;
/// ```
#[derive(Clone, Debug)]
pub struct ResolverBuilder {
    s: Settings,
}

impl Default for ResolverBuilder {
    fn default() -> Self {
        ResolverBuilder {
            s: Settings {
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
            },
        }
    }
}

fn bytes_of(s: impl AsRef<std::ffi::OsStr>) -> Bytes {
    use std::os::unix::ffi::OsStrExt;
    Bytes::from(s.as_ref().as_bytes().to_vec())
}

impl ResolverBuilder {
    /// A builder with every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The directory that plays `/` (a sysroot, an image's unpacked layers).
    /// Default: `/`. Everything (cache, default directories, interpreter, symlink targets)
    /// is looked up inside it.
    pub fn root(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.s.root = dir.as_ref().to_path_buf();
        self
    }

    /// The `LD_LIBRARY_PATH` value to model (split on `:` and `;`, searched after
    /// `DT_RPATH` and before `DT_RUNPATH`; `$ORIGIN` in it refers to the input).
    /// Default: none. The library never reads the environment itself.
    pub fn ld_library_path(&mut self, value: Option<impl AsRef<std::ffi::OsStr>>) -> &mut Self {
        self.s.ld_library_path = value.map(bytes_of);
        self
    }

    /// The in-root working directory of the modelled process, against which the loader
    /// resolves relative names, relative `DT_RPATH` elements and empty path elements.
    /// Default: none, and such elements are reported as unresolvable.
    pub fn cwd(&mut self, dir: Option<impl AsRef<Path>>) -> &mut Self {
        self.s.cwd = dir.map(|d| d.as_ref().to_path_buf());
        self
    }

    /// The glibc-hwcaps subdirectories searched. Default: [`Hwcaps::Host`].
    pub fn hwcaps(&mut self, hwcaps: Hwcaps) -> &mut Self {
        self.s.hwcaps = hwcaps;
        self
    }

    /// The value of `$PLATFORM` (`AT_PLATFORM`, possibly overridden by glibc, e.g.
    /// `haswell` on recent Intel CPUs). Default: derived from the target machine
    /// (`x86_64`, `aarch64`, `i686`, …).
    pub fn platform(&mut self, platform: Option<impl AsRef<std::ffi::OsStr>>) -> &mut Self {
        self.s.platform = platform.map(bytes_of);
        self
    }

    /// The value of `$LIB`. Default: read from the target's `ld.so`, else derived from the
    /// root's layout (`lib/x86_64-linux-gnu` on Debian, `lib64` upstream).
    pub fn lib_token(&mut self, lib: Option<impl AsRef<std::ffi::OsStr>>) -> &mut Self {
        self.s.lib = lib.map(bytes_of);
        self
    }

    /// Replace the loader's default (trusted) directories. Default: read from the target's
    /// `ld.so`, else derived from its architecture and the root's layout.
    pub fn default_dirs<I, P>(&mut self, dirs: Option<I>) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<std::ffi::OsStr>,
    {
        self.s.default_dirs = dirs.map(|d| d.into_iter().map(bytes_of).collect());
        self
    }

    /// Directories searched after the default ones. Default: none.
    pub fn extra_default_dirs<I, P>(&mut self, dirs: I) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<std::ffi::OsStr>,
    {
        self.s.extra_default_dirs = dirs.into_iter().map(bytes_of).collect();
        self
    }

    /// Where the `ld.so.cache` is. Default: [`CacheSource::Root`].
    pub fn cache(&mut self, cache: CacheSource) -> &mut Self {
        self.s.cache = cache;
        self
    }

    /// When the root has no usable `ld.so.cache`, resolve as if `ldconfig` had been run on
    /// its `/etc/ld.so.conf`. The real loader never reads `ld.so.conf`, so this is off by
    /// default; turn it on for a staging tree that will get its cache later.
    pub fn assume_ldconfig(&mut self, yes: bool) -> &mut Self {
        self.s.assume_ldconfig = yes;
        self
    }

    /// How the input's `$ORIGIN` is computed. Default: [`OriginMode::Canonical`].
    pub fn origin(&mut self, mode: OriginMode) -> &mut Self {
        self.s.origin = mode;
        self
    }

    /// Libraries to preload (`LD_PRELOAD`), loaded right after the input. The root's
    /// `/etc/ld.so.preload` is always read (inside the root). Default: none.
    pub fn preload<I, P>(&mut self, names: I) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<std::ffi::OsStr>,
    {
        self.s.preload = names.into_iter().map(bytes_of).collect();
        self
    }

    /// Whether the legacy hwcap subdirectories (`tls/`, `x86_64/`, …) are searched, as glibc
    /// up to 2.36 does. Default: decided from the target loader's version.
    pub fn legacy_hwcaps(&mut self, yes: Option<bool>) -> &mut Self {
        self.s.legacy_hwcaps = yes;
        self
    }

    /// Model a set-user-ID program (`AT_SECURE`): `LD_LIBRARY_PATH` ignored, `$ORIGIN`
    /// limited to trusted directories. Default: false.
    pub fn secure(&mut self, yes: bool) -> &mut Self {
        self.s.secure = yes;
        self
    }

    /// Work limits. Default: [`Limits::default`].
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.s.limits = limits;
        self
    }

    /// Threads for batch work ([`Resolver::closures`]); 0 means two per CPU (the work is
    /// mostly file-system calls, and a second thread per CPU keeps it busy while the other
    /// waits). Default: 0.
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.s.threads = n;
        self
    }

    /// Build the resolver. Can be called any number of times.
    ///
    /// # Errors
    /// The root does not exist or is not a directory.
    pub fn build(&self) -> Result<Resolver, Error> {
        let root = Root::new(&self.s.root)
            .map_err(|e| Error::new(ErrorKind::Config, &self.s.root, format!("invalid root: {e}")))?
            .with_max_hops(self.s.limits.max_symlink_hops);
        Ok(Resolver::from_parts(self.s.clone(), Arc::new(Shared::new(root))))
    }
}
