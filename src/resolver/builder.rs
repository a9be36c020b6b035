//! [`ResolverBuilder`]: every host input of a [`Resolver`] as an explicit option.

use std::ffi::OsStr;
use std::path::Path;

use crate::bytes::Bytes;
use crate::error::{Error, ErrorKind};
use crate::root::Root;
use crate::settings::{CacheSource, Hwcaps, Limits, OriginMode, Settings};

use super::Resolver;

/// Builds a [`Resolver`]. Every host input is an explicit option: nothing is read from the
/// environment, the current directory or the host's `/etc` unless passed here.
///
/// Setters take `&mut self` and return it, so they chain; an optional value takes a
/// plain `None` to clear it.
///
/// ```
/// let resolver = depclose::Resolver::builder()
///     .root("/")
///     .ld_library_path(Some("/opt/app/lib".as_ref()))
///     .build()
///     .unwrap();
/// # let _ = resolver;
/// ```
#[derive(Clone, Debug, Default)]
pub struct ResolverBuilder {
    s: Settings,
}

fn bytes_of(s: impl AsRef<OsStr>) -> Bytes {
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

    /// The `LD_LIBRARY_PATH` value to model; `None` for none (split on `:` and `;`, searched after
    /// `DT_RPATH` and before `DT_RUNPATH`; `$ORIGIN` in it refers to the input).
    /// Default: none. The library never reads the environment itself.
    pub fn ld_library_path(&mut self, value: Option<&OsStr>) -> &mut Self {
        self.s.ld_library_path = value.map(bytes_of);
        self
    }

    /// The in-root working directory of the modelled process, against which the loader
    /// resolves relative names, relative `DT_RPATH` elements and empty path elements.
    /// Default: none, and such elements are reported as unresolvable.
    pub fn cwd(&mut self, dir: Option<&Path>) -> &mut Self {
        self.s.cwd = dir.map(Path::to_path_buf);
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
    pub fn platform(&mut self, platform: Option<&OsStr>) -> &mut Self {
        self.s.platform = platform.map(bytes_of);
        self
    }

    /// The value of `$LIB`. Default: read from the target's `ld.so`, else derived from the
    /// root's layout (`lib/x86_64-linux-gnu` on Debian, `lib64` upstream).
    pub fn lib_token(&mut self, lib: Option<&OsStr>) -> &mut Self {
        self.s.lib = lib.map(bytes_of);
        self
    }

    /// Replace the loader's default (trusted) directories. Default: read from the target's
    /// `ld.so`, else derived from its architecture and the root's layout.
    pub fn default_dirs(&mut self, dirs: Option<&[&Path]>) -> &mut Self {
        self.s.default_dirs = dirs.map(|d| d.iter().map(bytes_of).collect());
        self
    }

    /// Directories searched after the default ones. Default: none.
    pub fn extra_default_dirs<I, P>(&mut self, dirs: I) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<OsStr>,
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
        P: AsRef<OsStr>,
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
        Ok(Resolver::from_parts(self.s.clone(), root))
    }
}
