//! What users ship: a rootfs plan, and pure, deterministic writers over it.
//!
//! Data flows one way: finished [`Closure`](crate::Closure)s go into a [`Rootfs`] plan (the
//! sorted set of files, symlinks and directories an image needs, each with the reasons it is
//! there); the writers turn a plan into bytes:
//!
//! - [`assemble`]: the plan of an image that works: closures, runtime files found from
//!   evidence ([`crate::runtime`]), added paths, and the closures of what those bring;
//! - [`write_tar`]: a `.tar` or `.tar.gz`, byte-identical for the same plan and options;
//! - [`write_dir`]: a directory tree, built beside the destination and renamed into place;
//! - [`write_manifest`]: a versioned JSON manifest (`depclose-manifest/1`);
//! - [`write_spdx`]: an SPDX 2.3 SBOM of the files and the Debian packages they belong to
//!   ([`DpkgDatabase`], [`dpkg_records`] for distroless-style `status.d` records);
//! - [`write_oci_layout`] and [`write_oci_archive`]: an OCI image (layout directory or
//!   archive, the latter also loadable by `docker load`), one gzip layer;
//!
//! and the reports a user reads or a script parses ([`write_ldd`], [`write_tree`],
//! [`write_why`], [`write_paths`], [`write_json`]). [`AtomicFile`] writes a file so that it
//! either appears whole or not at all, [`Outputs`] commits several together (all or none)
//! after [`check_outputs`] made sure that none is another or an input, and [`interrupt`]
//! stops every writer (from a signal handler) so that nothing is left behind.
//! [`verify_image`] reads an image back (a rootfs directory or tarball, an OCI layout or
//! archive) and names what is missing, truncated, dangling or different from its manifest.
//!
//! The option types ([`TarOptions`], [`DirOptions`], [`TextOptions`], [`VerifyOptions`],
//! [`SbomOptions`]) and [`RootfsBuilder`] have setters that take and return `&mut Self`,
//! like [`ResolverBuilder`](crate::ResolverBuilder).
//!
//! Nothing here prints, reads the environment or the clock: the modification time stamped on
//! archive members, for example, is an explicit option ([`TarOptions::mtime`]), which a caller
//! would take from `SOURCE_DATE_EPOCH`.
//!
//! ## Example: a reproducible rootfs
//!
//! ```no_run
//! use depclose::emit::{self, Compression, Rootfs, TarOptions};
//!
//! let closure = depclose::closure("/usr/bin/redis-server")?;
//! let plan = Rootfs::builder().closure(&closure).build()?;
//! let mut out = emit::AtomicFile::create("rootfs.tar.gz")?;
//! emit::write_tar(&plan, &mut out, TarOptions::new().mtime(0).compression(Compression::Gzip(9)))?;
//! out.commit()?;
//! # Ok::<(), depclose::Error>(())
//! ```
//!
//! ## Example: a manifest
//!
//! ```no_run
//! let closure = depclose::closure("/bin/ls")?;
//! let plan = depclose::emit::Rootfs::builder().closure(&closure).build()?;
//! let mut json = Vec::new();
//! depclose::emit::write_manifest(&plan, &mut json)?;
//! # Ok::<(), depclose::Error>(())
//! ```

mod assemble;
mod atomic;
mod commit;
mod dir;
mod manifest;
mod oci;
mod pgzip;
mod plan;
mod progress;
mod report;
mod sbom;
mod tar;
mod verify;

#[cfg(test)]
mod tests;

pub use self::assemble::{assemble, write_runtime_text, AssembleOptions, Assembled, NotClosed};
pub use self::atomic::{interrupt, interrupt_on, interrupted, AtomicFile};
pub use self::commit::{check_file_sizes, check_outputs, OutputPath, Outputs};
pub use self::dir::{write_dir, DirOptions};
pub use self::manifest::{write_manifest, MANIFEST_SCHEMA};
pub use self::oci::{
    platform_of, rfc3339, write_oci_archive, write_oci_layout, ImageOptions, Platform, ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_REF_NAME, DEFAULT_PATH, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST,
};
pub use self::plan::{Entry, EntryKind, MissingLibrary, Reason, Rootfs, RootfsBuilder};
pub use self::progress::progress_bytes;
pub use self::report::{
    escape, why_matches, write_json, write_json_with_symbols, write_ldd, write_paths, write_tree,
    write_tree_with_symbols, write_why, TextOptions, JSON_SCHEMA, LDD_ADDRESS,
};
pub use self::sbom::{deb_purl, dpkg_records, write_spdx, DpkgDatabase, DpkgPackage, SbomOptions, STATUS_D};
pub use self::tar::{write_tar, Compression, TarOptions};
pub use self::verify::{
    verify_image, write_verify_report, ImageFormat, Problem, ProblemKind, VerifyOptions, VerifyReport,
};
pub use crate::serde_path::path_from_json;
