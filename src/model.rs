//! The result of a closure computation: objects, edges with reasons, missing names.
//!
//! Everything here is plain data: it is produced by [`Resolver`](crate::Resolver), it
//! serializes with serde, and the emitters in [`emit`](crate::emit) read it. Paths inside a
//! [`Closure`] are *in-root* absolute paths (`/usr/lib/...`), whatever the root directory on
//! the host is; [`Closure::root`] tells where that root lives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bytes::Bytes;
use crate::serde_path;

/// Which C library's loader rules were applied to an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Libc {
    /// GNU libc `ld.so` (the default for any interpreter not recognised as musl).
    Glibc,
    /// musl's `ld-musl-<arch>.so.1`.
    Musl,
    /// No loader is involved: a static executable.
    None,
}

/// How the input is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Linkage {
    /// No `PT_DYNAMIC`: nothing is loaded, the closure is the file alone.
    Static,
    /// `PT_DYNAMIC` but no `PT_INTERP` and no `DT_NEEDED` (static-pie, or a self-contained
    /// shared object): the kernel maps it alone.
    StaticPie,
    /// A dynamically linked object: it has an interpreter or needs libraries.
    Dynamic,
}

pub use crate::elf::Class;

/// Why an object is part of a closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// The file the closure was asked for (the "main program").
    Input,
    /// The ELF interpreter named by the input's `PT_INTERP`.
    Interpreter,
    /// A library loaded through `LD_PRELOAD` or the root's `/etc/ld.so.preload`.
    Preload,
    /// A library loaded to satisfy a `DT_NEEDED` (or `DT_FILTER`/`DT_AUXILIARY`) entry.
    Library,
}

/// One symbolic link passed on the way from a requested path to the file.
///
/// A rootfs must contain every hop or the loader's open fails inside the image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hop {
    /// Canonical in-root path of the link itself (its parent directories fully resolved).
    #[serde(with = "serde_path")]
    pub link: PathBuf,
    /// The link's target exactly as `readlink` returns it (relative or absolute).
    #[serde(with = "serde_path")]
    pub target: PathBuf,
}

/// A file reached through a path: the path as asked, the symlinks crossed, the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Location {
    /// The path as the loader opened it (glibc's `l_name`): in-root, not normalised.
    #[serde(with = "serde_path")]
    pub path: PathBuf,
    /// The canonical in-root path of the file, every symlink resolved inside the root.
    #[serde(with = "serde_path")]
    pub realpath: PathBuf,
    /// Symbolic links crossed from `path` to `realpath`, in the order they were followed.
    pub hops: Vec<Hop>,
}

/// File identity: device and inode, how the loader recognises an already loaded object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

/// Another copy of a library that a CPU of a different level would load instead
/// (a `glibc-hwcaps/<level>/` or baseline sibling of the chosen file).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Variant {
    /// The hwcaps subdirectory (`glibc-hwcaps/x86-64-v3`), or empty for the baseline copy.
    pub subdir: Bytes,
    /// Where the copy is.
    pub location: Location,
}

/// What one loaded file is: where it was found and what its dynamic section says.
///
/// It depends only on the file and the path it was opened under, so one `ObjectFile` is
/// shared (behind an [`Arc`]) by every closure that loads the file that way: thousands of
/// closures of one resolver hold one copy of libc's facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectFile {
    /// Where it was found.
    pub location: Location,
    /// `DT_SONAME`.
    pub soname: Option<Bytes>,
    /// `DT_NEEDED` entries in dynamic-section order, before any token expansion.
    pub needed: Vec<Bytes>,
    /// `DT_RPATH` (the last one, as glibc keeps it).
    pub rpath: Option<Bytes>,
    /// `DT_RUNPATH` (the last one).
    pub runpath: Option<Bytes>,
    /// `DT_FLAGS_1`. In JSON: `{"names": ["DF_1_NOW", "DF_1_PIE"], "value": 134217729}`
    /// (the names of the bits `elf.h` defines, in bit order; `value` the raw number).
    #[serde(with = "json_fields::flags_1")]
    pub flags_1: u64,
    /// ELF class.
    pub class: Class,
    /// `e_machine`. In JSON: `{"name": "EM_X86_64", "value": 62}` (`name` null for a machine
    /// `elf.h` does not name).
    #[serde(with = "json_fields::machine")]
    pub machine: u16,
    /// File mode bits (`st_mode & 0o7777`). In JSON an octal string, `"0755"`, as in the
    /// manifest.
    #[serde(with = "json_fields::mode")]
    pub mode: u32,
    /// File size in bytes.
    pub size: u64,
    /// Other copies of this library for other CPU levels, found beside the chosen one.
    pub variants: Vec<Variant>,
}

/// One object of a closure: a loaded file and why and under which names it was loaded.
///
/// In JSON the fields of [`ObjectFile`] appear inline, beside `role` and `names`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Object {
    /// Why it is in the closure.
    pub role: Role,
    /// Device and inode (absent for the input and interpreter, which glibc does not register).
    /// Host-specific (they change with every copy of the root): left out of JSON.
    #[serde(skip)]
    pub file_id: Option<FileId>,
    /// Every name this object satisfied (its first request first; `DT_SONAME` matches added).
    pub names: Vec<Bytes>,
    /// The object whose request first loaded this one (glibc's `l_loader`); `None` for the
    /// input, the interpreter and preloads.
    pub loaded_by: Option<usize>,
    /// The file: location and dynamic-section facts, shared between closures.
    #[serde(flatten)]
    pub file: Arc<ObjectFile>,
}

impl Object {
    /// An object of `role` for `file`, with no names yet and no loader.
    pub(crate) fn new(role: Role, file_id: Option<FileId>, file: Arc<ObjectFile>) -> Object {
        Object { role, file_id, names: Vec::new(), loaded_by: None, file }
    }

    /// Where it was found (shorthand for `self.file.location`).
    pub fn location(&self) -> &Location {
        &self.file.location
    }
}

/// One step of the loader's search, as recorded on an edge or a miss.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FoundVia {
    /// The input's `PT_INTERP`.
    Interpreter,
    /// The name matched an object already loaded: its path, a name it was requested
    /// under, or its `DT_SONAME` (no file was opened).
    AlreadyLoaded,
    /// A candidate file turned out to be (device, inode) identical to an object already
    /// loaded under another name.
    SameFile,
    /// The name contains a `/` and was opened as a path (after token expansion).
    Path,
    /// A `DT_RPATH` directory of object `owner` (the requester or one of its first loaders).
    Rpath {
        /// Index of the object whose `DT_RPATH` it was.
        owner: usize,
    },
    /// A directory of the configured `LD_LIBRARY_PATH`.
    LdLibraryPath,
    /// A `DT_RUNPATH` directory of the requester.
    Runpath,
    /// The root's `ld.so.cache`.
    LdCache,
    /// One of the loader's built-in default directories.
    DefaultDir,
    /// musl: the loader itself answers this reserved name (`libc.so`, `libpthread.so.0`, …).
    MuslReserved,
    /// musl: a directory of the system path file `etc/ld-musl-<arch>.path` (or its default).
    MuslSystemPath,
}

/// How the loader ended up on an edge's target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Edge {
    /// Index of the requesting object.
    pub from: usize,
    /// The name as written in the requester (`DT_NEEDED`), before expansion.
    pub name: Bytes,
    /// Index of the object that satisfies it.
    pub to: usize,
    /// How it was found.
    pub via: FoundVia,
}

/// Why one candidate path was not used.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// No such file (ENOENT), or its directory does not exist.
    NotFound,
    /// A path component is not a directory (ENOTDIR).
    NotDirectory,
    /// Too many levels of symbolic links (ELOOP).
    SymlinkLoop,
    /// Permission denied (EACCES).
    PermissionDenied,
    /// Any other `open` error, by errno; glibc abandons the rest of this directory list.
    OpenError(i32),
    /// ELF class differs from the requester's (skipped by glibc, taken by musl).
    WrongClass,
    /// `e_machine` (or its ABI flags) differ (skipped).
    WrongMachine,
    /// A cache entry that the loader discards (`DF_1_NODEFLIB` and a system directory).
    NoDefaultLib,
    /// The `ld.so.cache` lookup found no entry for the name (the attempt's path is the cache).
    NotInCache,
}

/// One path the loader tried for a name, and what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attempt {
    /// The candidate path (in-root).
    #[serde(with = "serde_path")]
    pub path: PathBuf,
    /// The search step it belonged to.
    pub via: FoundVia,
    /// Why it was not taken.
    pub rejection: Rejection,
}

/// A name that no file satisfied. A result, not an error: the loader would fail at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Missing {
    /// Index of the requesting object.
    pub from: usize,
    /// The name as written in the requester.
    pub name: Bytes,
    /// Every candidate tried, in order (hwcaps subdirectories that do not exist are left out).
    pub tried: Vec<Attempt>,
}

/// A condition under which the real loader aborts the whole program before it starts
/// (glibc's "fatal" candidate checks: a corrupt file where a library was expected, a
/// PIE requested as a library, ...). The closure lists what was loaded up to that point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoadError {
    /// Index of the requesting object.
    pub from: usize,
    /// The name being loaded.
    pub name: Bytes,
    /// The offending file (in-root).
    #[serde(with = "serde_path")]
    pub path: PathBuf,
    /// The loader's message, e.g. `invalid ELF header`.
    pub message: String,
}

/// Something worth knowing that does not change the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Index of the object concerned, if any.
    pub object: Option<usize>,
    /// What happened.
    pub message: String,
}

/// The full closure of one input: every file the loader would map, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Closure {
    /// The input as given by the caller (a host path).
    #[serde(with = "serde_path")]
    pub input: PathBuf,
    /// The root directory on the host inside which every in-root path lives.
    #[serde(with = "serde_path")]
    pub root: PathBuf,
    /// Whose loader rules applied.
    pub libc: Libc,
    /// How the input is linked.
    pub linkage: Linkage,
    /// The interpreter named by `PT_INTERP`, as written.
    pub interpreter: Option<Bytes>,
    /// Loaded objects in load order; `objects[0]` is the input.
    pub objects: Vec<Object>,
    /// How each request was satisfied, in request order.
    pub edges: Vec<Edge>,
    /// Requests nothing satisfied, in request order.
    pub missing: Vec<Missing>,
    /// Set when the loader would abort while loading.
    pub fatal: Option<LoadError>,
    /// Notes that do not change the result.
    pub diagnostics: Vec<Diagnostic>,
    /// Files the loader reads at start on which this result depends, so that a rootfs must
    /// carry them: the root's `ld.so.cache` when a library was found only through it (in a
    /// directory the default search does not cover), `/etc/ld.so.preload` when it preloaded
    /// something, musl's `etc/ld-musl-<arch>.path` when a library came from it.
    pub loader_files: Vec<Location>,
    /// Libraries loaded after start-up with `dlopen`, one record per request, in request
    /// order (see [`Resolver::with_dlopen`](crate::Resolver::with_dlopen)). Empty (and left
    /// out of JSON) for a plain closure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dlopened: Vec<Dlopened>,
}

/// A `dlopen(name)` call that an object of a closure makes after start-up.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DlopenRequest {
    /// Index of the calling object in the closure (`objects[from]`): its `DT_RUNPATH`, or
    /// else the `DT_RPATH` of it and its loaders, steer the search, as for `dlopen`.
    pub from: usize,
    /// The name passed to `dlopen`: a soname (searched) or a path (opened as it is).
    pub name: Bytes,
    /// Why the caller thinks the program makes this call (free text, kept in the result).
    pub reason: String,
}

impl DlopenRequest {
    /// A request from object `from` for `name`.
    pub fn new(from: usize, name: impl Into<Bytes>, reason: impl Into<String>) -> DlopenRequest {
        DlopenRequest { from, name: name.into(), reason: reason.into() }
    }
}

/// What one [`DlopenRequest`] gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dlopened {
    /// The request.
    #[serde(flatten)]
    pub request: DlopenRequest,
    /// Index of the object that satisfies it, `None` when nothing does.
    pub to: Option<usize>,
    /// How it was found.
    pub via: Option<FoundVia>,
    /// Every candidate tried, when nothing was found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Attempt>,
    /// The loader's message when the file found cannot be loaded (`dlopen` returns NULL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Closure {
    /// The input object.
    pub fn input_object(&self) -> &Object {
        &self.objects[0]
    }

    /// True when every request was satisfied and the loader would not abort.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.fatal.is_none()
    }

    /// Canonical in-root paths of every file the loader maps besides the input (the
    /// interpreter included, the vDSO excluded), in load order, without duplicates.
    pub fn loaded_files(&self) -> Vec<&Path> {
        use std::os::unix::ffi::OsStrExt;
        let mut out: Vec<&Path> = Vec::new();
        for o in &self.objects[1..] {
            let p = o.file.location.realpath.as_path();
            // Compare bytes: `Path` equality walks components, which is slow in bulk.
            if !out.iter().any(|q| q.as_os_str().as_bytes() == p.as_os_str().as_bytes()) {
                out.push(p);
            }
        }
        out
    }

    /// The object `edge` leads to (the one that satisfied its name).
    pub fn target(&self, edge: &Edge) -> &Object {
        &self.objects[edge.to]
    }
}

/// The JSON shapes of `depclose/2`: one representation per kind of value (modes as octal
/// strings, machine and flags as names with the raw number beside).
mod json_fields {
    /// A mode as `"0755"`.
    pub mod mode {
        use serde::{de::Error, Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(m: &u32, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&format_args!("{m:04o}"))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
            let text = String::deserialize(d)?;
            u32::from_str_radix(&text, 8).map_err(|_| D::Error::custom(format!("mode {text:?}: not octal")))
        }
    }

    /// `e_machine` as `{"name": "EM_X86_64", "value": 62}`.
    pub mod machine {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize)]
        struct Out {
            name: Option<String>,
            value: u16,
        }

        #[derive(Deserialize)]
        struct In {
            value: u16,
        }

        /// The `EM_` name `elf.h` gives `m`, if any.
        pub fn name(m: u16) -> Option<String> {
            match goblin::elf::header::machine_to_str(m) {
                "EM_UNKNOWN" => None,
                n => Some(format!("EM_{n}")),
            }
        }

        pub fn serialize<S: Serializer>(m: &u16, s: S) -> Result<S::Ok, S::Error> {
            Out { name: name(*m), value: *m }.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
            Ok(In::deserialize(d)?.value)
        }
    }

    /// `DT_FLAGS_1` as `{"names": ["DF_1_NOW"], "value": 1}`.
    pub mod flags_1 {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        /// `elf.h`'s `DF_1_*` bits, from bit 0 up.
        pub const NAMES: [&str; 31] = [
            "DF_1_NOW",
            "DF_1_GLOBAL",
            "DF_1_GROUP",
            "DF_1_NODELETE",
            "DF_1_LOADFLTR",
            "DF_1_INITFIRST",
            "DF_1_NOOPEN",
            "DF_1_ORIGIN",
            "DF_1_DIRECT",
            "DF_1_TRANS",
            "DF_1_INTERPOSE",
            "DF_1_NODEFLIB",
            "DF_1_NODUMP",
            "DF_1_CONFALT",
            "DF_1_ENDFILTEE",
            "DF_1_DISPRELDNE",
            "DF_1_DISPRELPND",
            "DF_1_NODIRECT",
            "DF_1_IGNMULDEF",
            "DF_1_NOKSYMS",
            "DF_1_NOHDR",
            "DF_1_EDITED",
            "DF_1_NORELOC",
            "DF_1_SYMINTPOSE",
            "DF_1_GLOBAUDIT",
            "DF_1_SINGLETON",
            "DF_1_STUB",
            "DF_1_PIE",
            "DF_1_KMOD",
            "DF_1_WEAKFILTER",
            "DF_1_NOCOMMON",
        ];

        #[derive(Serialize)]
        struct Out {
            names: Vec<&'static str>,
            value: u64,
        }

        #[derive(Deserialize)]
        struct In {
            value: u64,
        }

        pub fn serialize<S: Serializer>(f: &u64, s: S) -> Result<S::Ok, S::Error> {
            let names = NAMES.iter().enumerate().filter(|(i, _)| f & (1u64 << i) != 0).map(|(_, n)| *n).collect();
            Out { names, value: *f }.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
            Ok(In::deserialize(d)?.value)
        }
    }
}
