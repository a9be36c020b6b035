//! The error type: an input that cannot be used at all.

use std::io;
use std::path::{Path, PathBuf};

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be opened or read (see [`Error::io_error`]).
    Io,
    /// The file is not an ELF file.
    NotElf,
    /// The file is ELF but malformed in a way that stops the analysis.
    Malformed,
    /// A configured limit (objects, symlink hops, bytes) was exceeded.
    LimitExceeded,
    /// A builder option is invalid (for example, a root that is not a directory).
    Config,
}

/// Returned by [`Resolver::closure`](crate::Resolver::closure) and friends when an input
/// cannot be analysed at all. Missing libraries are not errors: see
/// [`Closure::missing`](crate::Closure::missing).
///
/// The message always names the file and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct Error {
    kind: ErrorKind,
    path: PathBuf,
    message: String,
    #[source]
    io: Option<io::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error { kind, path: path.into(), message: message.into(), io: None }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, err: io::Error) -> Self {
        Error { kind: ErrorKind::Io, path: path.into(), message: err.to_string(), io: Some(err) }
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying I/O error, when there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.io.as_ref()
    }

    /// The problem without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e.io {
            Some(io) => io.kind(),
            None => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e.to_string())
    }
}
