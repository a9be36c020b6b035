//! Runtime files: what a program needs at run time that no `DT_NEEDED` entry names, found
//! from evidence in the files of its closure, never by running them.
//!
//! The evidence is of four kinds, each read once per file:
//! - imported dynamic symbols (`getpwuid` means the program looks up users: `/etc/passwd`,
//!   `/etc/group`, `/etc/nsswitch.conf`; `localtime` means time zones; `iconv_open` means
//!   gconv modules; `pthread_cancel` means the unwinder libc dlopens);
//! - libraries in the closure (a TLS library means CA certificates);
//! - string literals in read-only data, which say *where* things are in the root given: the
//!   C library names its gconv, locale and zoneinfo directories and the unwinder's soname,
//!   a TLS library its CA bundle, a program its plugin and data directories. Nothing is
//!   taken from a table of one distribution's paths;
//! - `.note.dlopen` notes (the freedesktop ELF dlopen metadata), and soname literals in
//!   objects that load plugins.
//!
//! A [`Runtime`] turns closures into a [`RuntimeFiles`] plan: each [`Item`] carries its
//! [`Evidence`], which the rootfs manifest records. Libraries a program would `dlopen`
//! are added to its closure with [`Resolver::with_dlopen`] by [`Runtime::expand`], so
//! they are found exactly as the loader would find them.

mod facts;
mod packs;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bytes::Bytes;
use crate::error::Error;
use crate::model::Closure;
use crate::resolver::Resolver;

pub use self::packs::{Hint, Item, ItemKind, RequiredMiss, RuntimeFiles};

/// A group of runtime files with one purpose, switched on by evidence or by a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Pack {
    /// `/etc/passwd`, `/etc/group`, home directories: user and group lookups.
    Users,
    /// `/etc/nsswitch.conf` (and NSS modules a libc older than 2.34 dlopens).
    Nss,
    /// `/etc/hosts`: host name lookups.
    Hosts,
    /// `/etc/services`, `/etc/protocols`: service and protocol lookups.
    Services,
    /// CA certificates where the closure's TLS libraries look for them.
    Ca,
    /// Time zone data and `/etc/localtime`.
    Tzdata,
    /// gconv modules and their configuration (`iconv`).
    Gconv,
    /// `libgcc_s.so.1`, which glibc dlopens for thread cancellation and unwinding.
    LibgccS,
    /// Locale data (`C.utf8`, more with [`RuntimeOptions::locales`]).
    Locale,
    /// Plugin directories named in a library that loads plugins, with their closures.
    Plugins,
    /// Data files and directories named in a closure member's strings.
    Data,
    /// `/tmp`, `/var/tmp`, `/run` and the mount points `/dev`, `/proc`, `/sys`.
    Dirs,
    /// `/bin/sh`, for programs that run commands through the shell.
    Shell,
    /// Other programs named by absolute path in a closure member (off by default).
    Helpers,
    /// Libraries named in `.note.dlopen` notes or in soname literals (see [`DlopenLevel`]).
    Dlopen,
}

impl Pack {
    /// Every pack, in the order they are reported.
    pub const ALL: [Pack; 15] = [
        Pack::Users,
        Pack::Nss,
        Pack::Hosts,
        Pack::Services,
        Pack::Ca,
        Pack::Tzdata,
        Pack::Gconv,
        Pack::LibgccS,
        Pack::Locale,
        Pack::Plugins,
        Pack::Data,
        Pack::Dirs,
        Pack::Shell,
        Pack::Helpers,
        Pack::Dlopen,
    ];

    /// The name used on the command line and in manifests (`users`, `libgcc_s`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Pack::Users => "users",
            Pack::Nss => "nss",
            Pack::Hosts => "hosts",
            Pack::Services => "services",
            Pack::Ca => "ca",
            Pack::Tzdata => "tzdata",
            Pack::Gconv => "gconv",
            Pack::LibgccS => "libgcc_s",
            Pack::Locale => "locale",
            Pack::Plugins => "plugins",
            Pack::Data => "data",
            Pack::Dirs => "dirs",
            Pack::Shell => "shell",
            Pack::Helpers => "helpers",
            Pack::Dlopen => "dlopen",
        }
    }

    /// True when the pack's files are data by construction, never ELF files that need a
    /// closure: generated files and directories, time zones, locales, certificates, and
    /// data trees (which hold no shared object or program, else they are only reported).
    pub fn ships_only_data(self) -> bool {
        matches!(
            self,
            Pack::Users
                | Pack::Hosts
                | Pack::Services
                | Pack::Ca
                | Pack::Tzdata
                | Pack::Locale
                | Pack::Data
                | Pack::Dirs
        )
    }

    /// The pack with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Pack> {
        Pack::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which dlopen evidence adds libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DlopenLevel {
    /// `.note.dlopen` entries of priority `required` and `recommended` only.
    Notes,
    /// Those, and soname literals (`"libz.so.1"`) in objects that load plugins. The default.
    Strings,
    /// Also the notes' `suggested` entries.
    All,
}

/// The user an image runs as, written into `/etc/passwd` beside root, nobody and nonroot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct User {
    /// Login name.
    pub name: String,
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Home directory (created, owned by the user, mode 0700).
    pub home: String,
}

impl User {
    /// The users every image gets, as distroless has them: root (0), nobody (65534) and
    /// nonroot (65532, home `/home/nonroot`).
    pub fn defaults() -> Vec<User> {
        vec![
            User { name: "root".into(), uid: 0, gid: 0, home: "/root".into() },
            User { name: "nobody".into(), uid: 65534, gid: 65534, home: "/nonexistent".into() },
            User { name: "nonroot".into(), uid: 65532, gid: 65532, home: "/home/nonroot".into() },
        ]
    }

    /// Parse `NAME`, `UID` or `UID:GID` (or `NAME:GID`). A known name or ID ([`defaults`](Self::defaults)) is that user;
    /// another name gets UID 1000 (and that GID unless one is given); another number is a
    /// user named `user<UID>`.
    ///
    /// # Errors
    /// An empty part, or a name with characters other than letters, digits, `_`, `-`, `.`.
    pub fn parse(spec: &str) -> Result<User, String> {
        let (who, gid) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g.parse::<u32>().map_err(|_| format!("{spec}: the group must be a number"))?)),
            None => (spec, None),
        };
        if who.is_empty() {
            return Err(format!("{spec}: empty user"));
        }
        let known = User::defaults();
        let mut user = if let Ok(uid) = who.parse::<u32>() {
            known.into_iter().find(|u| u.uid == uid).unwrap_or_else(|| User {
                name: format!("user{uid}"),
                uid,
                gid: uid,
                home: format!("/home/user{uid}"),
            })
        } else {
            if !who.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) || who.starts_with('-') {
                return Err(format!("{spec}: not a valid user name"));
            }
            known.into_iter().find(|u| u.name == who).unwrap_or_else(|| User {
                name: who.to_string(),
                uid: 1000,
                gid: 1000,
                home: format!("/home/{who}"),
            })
        };
        if let Some(g) = gid {
            user.gid = g;
        }
        Ok(user)
    }
}

/// Which packs apply and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeOptions {
    /// Packs that may be added when there is evidence.
    pub enabled: BTreeSet<Pack>,
    /// Packs added whatever the evidence says (`--with`).
    pub forced: BTreeSet<Pack>,
    /// The user the image runs as, if not root.
    pub user: Option<User>,
    /// Time zones to ship (`Europe/Paris`); `None`: the whole zoneinfo directory.
    pub tz: Option<Vec<String>>,
    /// gconv modules to ship (`UTF-16`, `ISO8859-1`); `None`: all of them.
    pub gconv: Option<Vec<String>>,
    /// Locales to ship besides `C.utf8` (`en_US.UTF-8`).
    pub locales: Vec<String>,
    /// Which dlopen evidence adds libraries.
    pub dlopen: DlopenLevel,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions::new()
    }
}

impl RuntimeOptions {
    /// Every pack but [`Pack::Helpers`], on evidence; dlopen level [`DlopenLevel::Strings`].
    pub fn new() -> RuntimeOptions {
        RuntimeOptions {
            enabled: Pack::ALL.into_iter().filter(|p| *p != Pack::Helpers).collect(),
            forced: BTreeSet::new(),
            user: None,
            tz: None,
            gconv: None,
            locales: Vec::new(),
            dlopen: DlopenLevel::Strings,
        }
    }

    /// No pack at all: the bare ELF closure.
    pub fn none() -> RuntimeOptions {
        RuntimeOptions { enabled: BTreeSet::new(), ..RuntimeOptions::new() }
    }

    /// Add `pack` whatever the evidence.
    pub fn with(&mut self, pack: Pack) -> &mut Self {
        self.enabled.insert(pack);
        self.forced.insert(pack);
        self
    }

    /// Never add `pack`.
    pub fn without(&mut self, pack: Pack) -> &mut Self {
        self.enabled.remove(&pack);
        self.forced.remove(&pack);
        self
    }

    /// The user the image runs as (forces [`Pack::Users`]).
    pub fn user(&mut self, user: Option<User>) -> &mut Self {
        if user.is_some() {
            self.with(Pack::Users);
        }
        self.user = user;
        self
    }

    /// Ship only these time zones.
    pub fn tz(&mut self, zones: Option<Vec<String>>) -> &mut Self {
        self.tz = zones;
        self
    }

    /// Ship only these gconv modules.
    pub fn gconv(&mut self, modules: Option<Vec<String>>) -> &mut Self {
        self.gconv = modules;
        self
    }

    /// Ship these locales besides `C.utf8`.
    pub fn locales(&mut self, locales: Vec<String>) -> &mut Self {
        self.locales = locales;
        self
    }

    /// Which dlopen evidence adds libraries.
    pub fn dlopen(&mut self, level: DlopenLevel) -> &mut Self {
        self.dlopen = level;
        self
    }

    /// True when `pack` may be added.
    pub fn is_enabled(&self, pack: Pack) -> bool {
        self.enabled.contains(&pack)
    }

    /// True when `pack` is added whatever the evidence.
    pub fn is_forced(&self, pack: Pack) -> bool {
        self.forced.contains(&pack)
    }
}

/// What was seen that makes a pack necessary.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "seen", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Seen {
    /// The object imports this dynamic symbol.
    Symbol {
        /// The symbol's name.
        symbol: Bytes,
    },
    /// The closure holds this library.
    Library {
        /// Its file name.
        library: Bytes,
    },
    /// The object's read-only data holds this string.
    String {
        /// The string.
        string: Bytes,
    },
    /// A `.note.dlopen` entry of the object.
    Note {
        /// The soname chosen among the entry's alternatives.
        soname: Bytes,
        /// `required`, `recommended` or `suggested`.
        priority: String,
        /// The entry's `feature`, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        feature: Option<String>,
    },
    /// A command-line flag or library option.
    Flag {
        /// The flag, as the user gave it.
        flag: String,
    },
    /// Added by default: a container runtime mounts or expects it.
    Default {
        /// Why.
        why: String,
    },
    /// The input is a `#!` script run by this interpreter.
    Script {
        /// The interpreter, as the script names it.
        interpreter: Bytes,
    },
    /// Another pack needs it.
    Pack {
        /// That pack.
        pack: Pack,
    },
}

/// A string that says where a runtime file is, and which object holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Located {
    /// In-root canonical path of the object.
    #[serde(with = "crate::serde_path")]
    pub object: PathBuf,
    /// The string.
    pub string: Bytes,
}

/// Why a runtime file or library is in an image: the pack, what was seen and in which
/// object, and (when that is a different thing) the string that says where it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Evidence {
    /// The pack.
    pub pack: Pack,
    /// In-root canonical path of the object the evidence was read from (none for flags and
    /// defaults).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_path")]
    pub object: Option<PathBuf>,
    /// What was seen.
    #[serde(flatten)]
    pub seen: Seen,
    /// The string that located the file, when it is not the evidence itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub located: Option<Located>,
}

fn opt_path<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => crate::serde_path::serialize(p, s),
        None => s.serialize_none(),
    }
}

impl Evidence {
    /// Evidence `seen` in `object` for `pack`.
    pub fn new(pack: Pack, object: Option<&Path>, seen: Seen) -> Evidence {
        Evidence { pack, object: object.map(Path::to_path_buf), seen, located: None }
    }

    /// The same, located by `string` in `object`.
    pub fn located(mut self, object: &Path, string: &Bytes) -> Evidence {
        if self.object.as_deref() != Some(object) || !matches!(&self.seen, Seen::String { string: s } if s == string) {
            self.located = Some(Located { object: object.to_path_buf(), string: string.clone() });
        }
        self
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.pack)?;
        if let Some(o) = &self.object {
            write!(f, "{} ", o.display())?;
        }
        match &self.seen {
            Seen::Symbol { symbol } => write!(f, "imports {symbol}")?,
            Seen::Library { library } => write!(f, "closure holds {library}")?,
            Seen::String { string } => write!(f, "names \"{string}\"")?,
            Seen::Note { soname, priority, .. } => write!(f, ".note.dlopen {priority} {soname}")?,
            Seen::Flag { flag } => write!(f, "asked for with {flag}")?,
            Seen::Default { why } => write!(f, "default: {why}")?,
            Seen::Script { interpreter } => write!(f, "script run by {interpreter}")?,
            Seen::Pack { pack } => write!(f, "needed by pack {pack}")?,
        }
        if let Some(l) = &self.located {
            write!(f, "; {} names \"{}\"", l.object.display(), l.string)?;
        }
        Ok(())
    }
}

/// The runtime evidence engine over one resolver: reads each file's facts once, for every
/// closure it is given.
pub struct Runtime<'r> {
    resolver: &'r Resolver,
    opts: RuntimeOptions,
    facts: facts::FactsCache,
    paths: packs::PathCache,
    /// How many objects of each closure [`expand`](Runtime::expand)ed here were loaded at
    /// start-up (by the input's path): the rest were dlopened.
    startups: std::sync::Mutex<rustc_hash::FxHashMap<PathBuf, usize>>,
}

impl<'r> Runtime<'r> {
    /// An engine for closures computed by `resolver`.
    pub fn new(resolver: &'r Resolver, opts: RuntimeOptions) -> Runtime<'r> {
        Runtime {
            resolver,
            opts,
            facts: facts::FactsCache::new(),
            paths: packs::PathCache::new(),
            startups: Default::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &RuntimeOptions {
        &self.opts
    }

    /// `closure` with the libraries its objects would `dlopen` (the unwinder, NSS modules
    /// of an old libc, `.note.dlopen` entries, soname literals), each found as `dlopen`
    /// from its caller would find it, and what those bring in turn; see
    /// [`Closure::dlopened`]. Each request's `reason` is its [`Evidence`], displayed.
    ///
    /// # Errors
    /// As for [`Resolver::closure`] (the input has become unreadable).
    pub fn expand(&self, closure: Closure) -> Result<Closure, Error> {
        packs::expand(self, closure, true)
    }

    /// [`expand`](Self::expand) for the closure of an ELF file that runtime evidence
    /// brought (a plugin, a gconv module, a shell): only the evidence that does not rest on
    /// string literals counts (the C library's own dlopens, `.note.dlopen` notes), so that
    /// a guess never leads to further guesses.
    ///
    /// # Errors
    /// As for [`expand`](Self::expand).
    pub fn expand_brought(&self, closure: Closure) -> Result<Closure, Error> {
        packs::expand(self, closure, false)
    }

    fn startup_of(&self, c: &Closure) -> usize {
        let map = self.startups.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&c.input).copied().unwrap_or(c.objects.len())
    }

    fn set_startup(&self, c: &Closure, n: usize) {
        let mut map = self.startups.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(c.input.clone()).or_insert(n);
    }

    /// The runtime files of these closures (computed by this engine's resolver, and
    /// [`expand`](Self::expand)ed): the packs' items with their evidence, hints, and
    /// `required` dlopen entries that nothing satisfies.
    pub fn files(&self, closures: &[&Closure]) -> RuntimeFiles {
        packs::files(self, closures, &[])
    }

    /// [`files`](Self::files) of `closures` and of `brought`, the closures of ELF files that
    /// runtime evidence brought ([`expand_brought`](Self::expand_brought)): in those, the
    /// packs that rest on imported symbols and libraries apply, but strings are no
    /// evidence (a plugin's own strings do not pull in more plugins, data or helpers).
    /// Only the start-up objects of `closures` give string evidence: an object that a
    /// soname literal dlopened does not.
    pub fn files_of(&self, closures: &[&Closure], brought: &[&Closure]) -> RuntimeFiles {
        packs::files(self, closures, brought)
    }

    /// Each closure of `closures` on its own, in parallel on the resolver's thread pool:
    /// [`expand`](Self::expand)ed (the closure as it is when that fails) with its
    /// [`files`](Self::files). In the order of `closures`.
    pub fn report_each(&self, closures: &[Closure]) -> Vec<(Closure, RuntimeFiles)> {
        self.resolver.batch(closures, |c| {
            let c = self.expand(c.clone()).unwrap_or_else(|_| c.clone());
            let files = self.files(&[&c]);
            (c, files)
        })
    }
}
