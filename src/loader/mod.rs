//! The loaders: glibc's `ld.so` ([`glibc`]) and musl's ([`musl`]), each computing one
//! closure from a [`Context`] (the file store, the settings, the input's [`Target`]) and
//! an [`Input`]. They know nothing of the resolver above them.

pub(crate) mod glibc;
pub(crate) mod musl;
pub(crate) mod target;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::files::{FileFacts, FileStore};
use crate::model::{Attempt, DlopenRequest, FoundVia, Location, Rejection};
use crate::root::Errno;
use crate::settings::Settings;

use target::Target;

/// What a loader sees of the resolver for one closure.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// Every file of the root, read once.
    pub files: &'a FileStore,
    /// The builder's settings.
    pub settings: &'a Settings,
    /// The input's target profile.
    pub target: &'a Target,
}

/// The input of one closure.
#[derive(Clone)]
pub(crate) struct Input {
    pub host_path: PathBuf,
    pub location: Location,
    pub origin: Option<Vec<u8>>,
    pub facts: Arc<FileFacts>,
    pub diagnostics: Vec<String>,
    /// `dlopen` calls made after start-up, in order.
    pub dlopen: Vec<DlopenRequest>,
}

/// An [`Attempt`] record for a path string.
pub(crate) fn attempt(path: &[u8], via: FoundVia, rejection: Rejection) -> Attempt {
    Attempt { path: PathBuf::from(OsStr::from_bytes(path)), via, rejection }
}

/// The [`Rejection`] for an `open` errno.
pub(crate) fn rejection_of(e: Errno) -> Rejection {
    match e {
        libc::ENOENT => Rejection::NotFound,
        libc::ENOTDIR => Rejection::NotDirectory,
        libc::ELOOP => Rejection::SymlinkLoop,
        libc::EACCES => Rejection::PermissionDenied,
        e => Rejection::OpenError(e),
    }
}
