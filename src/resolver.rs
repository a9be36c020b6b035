//! The resolver: settings plus shared caches.

use std::path::Path;
use std::sync::Arc;

use crate::config::{ResolverBuilder, Settings};
use crate::error::{Error, ErrorKind};
use crate::model::Closure;
use crate::root::Root;

/// State shared by every closure a resolver computes (and by its threads).
pub(crate) struct Shared {
    pub root: Root,
}

impl Shared {
    pub fn new(root: Root) -> Self {
        Shared { root }
    }
}

/// Computes closures. Cheap to clone; `Send + Sync`; caches are shared between clones.
#[derive(Clone)]
pub struct Resolver {
    pub(crate) settings: Settings,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("root", &self.shared.root).finish()
    }
}

impl Resolver {
    pub(crate) fn from_parts(settings: Settings, shared: Arc<Shared>) -> Self {
        Resolver { settings, shared }
    }

    /// A builder with every default.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::new()
    }

    /// The root this resolver works in.
    pub fn root(&self) -> &Root {
        &self.shared.root
    }

    /// The closure of a file given by its host path.
    ///
    /// # Errors
    /// The file cannot be read or is not a usable ELF file.
    pub fn closure(&self, path: impl AsRef<Path>) -> Result<Closure, Error> {
        Err(Error::new(ErrorKind::Io, path.as_ref(), "not yet implemented"))
    }

    /// The closure of a file given by its path inside the root.
    ///
    /// # Errors
    /// The file cannot be read or is not a usable ELF file.
    pub fn closure_in_root(&self, path: impl AsRef<Path>) -> Result<Closure, Error> {
        Err(Error::new(ErrorKind::Io, path.as_ref(), "not yet implemented"))
    }

    /// Closures of many files (host paths) in parallel, sharing every cache. The results are
    /// in input order and identical to computing each alone.
    pub fn closures<P: AsRef<Path> + Sync>(&self, paths: &[P]) -> Vec<Result<Closure, Error>> {
        paths.iter().map(|p| self.closure(p)).collect()
    }
}
