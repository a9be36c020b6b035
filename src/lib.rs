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
//! Data flows one way: each layer uses only those below it (`tests/layers.rs` checks every
//! `crate::` reference, and that no source file is over 900 lines). Bottom to top:
//!
//! 1. `error.rs`, `bytes.rs`: the error type, shared byte strings and byte search.
//! 2. `elf/` ([`elf`]): bytes in, facts out. `header`, `source` (the `Source` a
//!    parser reads through), `dynamic` (`DT_NEEDED`, `DT_RPATH`, `DT_RUNPATH`, `DT_SONAME`,
//!    `DT_FLAGS_1`, filters), `verify` (the loader's candidate checks), [`elf::symbols`]
//!    (`DT_SYMTAB`, `DT_VERSYM`, `DT_VERNEED`, `DT_VERDEF`), [`elf::notes`] (`.note.dlopen`),
//!    [`elf::strings`] (string literals of read-only data); `script.rs` ([`script`]): `#!`
//!    lines.
//! 3. `ld_cache.rs`, `ld_so_conf.rs` ([`ld_cache`], [`ld_so_conf`]): the loader's
//!    configuration files, parsed from bytes; `root.rs` ([`root`]): a directory tree seen
//!    as `/`, with chroot-style symlink resolution; `model.rs`: the closure data
//!    ([`Closure`], [`Object`], …), plain serde data.
//! 4. `settings.rs`: what a [`ResolverBuilder`] gathers ([`Hwcaps`], [`CacheSource`],
//!    [`OriginMode`], [`Limits`]), data only.
//! 5. `files.rs`: the file store, each file of the root opened, read and parsed once per
//!    `(dev, inode)`; it knows no loader.
//! 6. `loader/`: `target/` (architecture tables, host CPU, facts read out of `ld.so`, the
//!    derived target profile), `mod.rs` (the `Context` a loader gets: file store, settings,
//!    target), `glibc/` (split along `ld.so`'s own steps: `namespace`, `paths` (search
//!    paths and DSTs), `open` (`open_path`), `search` (one `_dl_map_object` search and its
//!    sharing), `template`, `shared` (the glibc-only caches), the breadth-first driver in
//!    `mod.rs`) and `musl.rs`.
//! 7. `resolver/` ([`Resolver`], [`ResolverBuilder`]): what every closure shares, one thread
//!    pool, [`closure`](Resolver::closure), [`closure_in_root`](Resolver::closure_in_root),
//!    [`closures`](Resolver::closures), [`closures_in_root`](Resolver::closures_in_root).
//! 8. `symcheck/` ([`symcheck`]): the symbol-version checks and symbol binding of `ldd -r`;
//!    `runtime/` ([`runtime`]): the runtime files no `DT_NEEDED` names, found from evidence.
//! 9. `emit/` (feature `emit`, on by default): the rootfs plan, manifest, directory, tarball,
//!    OCI image, SBOM and `--verify`.
//! 10. `bin/depclose-cli/` (feature `cli`): the command line (`main`, `options`, `scan`,
//!     `output`).
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
