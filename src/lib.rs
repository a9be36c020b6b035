//! # depclose
//!
//! The exact shared-library closure of an ELF program, computed the way the real dynamic
//! loader (glibc's `ld.so`, or musl's) would compute it, without executing anything; and
//! the rootfs that contains exactly those files.
//!
//! ```no_run
//! let closure = depclose::closure("/usr/bin/redis-server")?;
//! for file in closure.loaded_files() {
//!     println!("{}", file.display());
//! }
//! for miss in &closure.missing {
//!     eprintln!("{} => not found", miss.name);
//! }
//! # Ok::<(), depclose::Error>(())
//! ```
//!
//! ## Layers
//!
//! Data flows one way:
//!
//! - [`elf`]: bytes in, facts out (class, machine, `PT_INTERP`, `DT_NEEDED`, `DT_RPATH`,
//!   `DT_RUNPATH`, `DT_SONAME`, `DT_FLAGS_1`), only the slice dynamic linking needs; with
//!   [`elf::symbols`], the dynamic symbol table and symbol versions (`DT_SYMTAB`,
//!   `DT_VERSYM`, `DT_VERNEED`, `DT_VERDEF`), read through `PT_DYNAMIC`; [`elf::notes`], the
//!   `.note.dlopen` notes; [`elf::strings`], the string literals of read-only data;
//! - [`ld_cache`] and [`ld_so_conf`]: the loader's configuration files, parsed from bytes;
//! - [`root`]: a directory tree seen as `/`, with chroot-style symlink resolution;
//! - [`Resolver`]: the loader's rules over a root, and the closure graph ([`Closure`]);
//! - [`symcheck`]: the symbol-version checks and symbol binding of `ldd -r` over a closure;
//! - `emit` (feature `emit`, on by default): manifest, directory and tarball writers.
//!
//! ## Example: a sysroot
//!
//! ```no_run
//! let resolver = depclose::Resolver::builder()
//!     .root("/srv/arm64-root")
//!     .build()?;
//! let closure = resolver.closure_in_root("/usr/bin/python3")?;
//! # Ok::<(), depclose::Error>(())
//! ```
#![deny(missing_docs)]

mod bytes;
pub mod elf;
mod error;
mod files;
pub mod ld_cache;
pub mod ld_so_conf;
mod loader;
mod model;
mod resolver;
pub mod root;
pub mod runtime;
pub mod script;
mod serde_path;
mod settings;
pub mod symcheck;

#[cfg(feature = "emit")]
pub mod emit;

pub use crate::bytes::Bytes;
pub use crate::error::{Error, ErrorKind};
pub use crate::model::{
    Attempt, Class, Closure, Diagnostic, DlopenRequest, Dlopened, Edge, FileId, FoundVia, Hop, Libc, Linkage,
    LoadError, Location, Missing, Object, ObjectFile, Rejection, Role, Variant,
};
pub use crate::resolver::{Resolver, ResolverBuilder};
pub use crate::settings::{CacheSource, Hwcaps, Limits, OriginMode};

/// The closure of `path` with the defaults for this host: root `/`, its
/// `/etc/ld.so.cache`, no `LD_LIBRARY_PATH`, the CPU's glibc-hwcaps level.
///
/// # Errors
/// The file cannot be read or is not a usable ELF file. Missing libraries are not errors.
pub fn closure(path: impl AsRef<std::path::Path>) -> Result<Closure, Error> {
    Resolver::builder().build()?.closure(path)
}

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "emit"))] // the README's image example writes an archive
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
