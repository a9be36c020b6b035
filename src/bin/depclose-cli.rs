//! `depclose-cli`: print the shared-library closure of ELF programs, without running them, and
//! build a deterministic rootfs from it.
//!
//! A thin shell over the library: clap [`Opts`] are validated into a [`Config`], which builds
//! the [`depclose::Resolver`] and drives [`depclose::emit`]. Everything the library must not
//! do itself (read `LD_LIBRARY_PATH`, `SOURCE_DATE_EPOCH` and the working directory, look at
//! terminals, print) happens here.
//!
//! Exit status: 0 when every closure is complete; 1 when some library is not found or the
//! loader would abort (what was found is still printed and written), or, with
//! `--check-symbols`, a required version is missing or above a `--require` policy; 2 on a usage error, an
//! unreadable or invalid input, or an output that cannot be written (no output file is then
//! left behind). A closed stdout (`| head`) ends the program quietly with 0.

// The C `main` below replaces std's runtime start-up (see there).
#![no_main]

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use rayon::prelude::*;

use depclose::emit::{self, AtomicFile, Compression, DirOptions, Rootfs, TarOptions, TextOptions};
use depclose::symcheck::{SymbolCache, SymbolReport, VersionPolicy};
use depclose::{Closure, Hwcaps, Resolver};

/// Output format on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// glibc `ldd` layout (`\tNAME => PATH (0x0000000000000000)`), scripts keep working.
    Ldd,
    /// Dependency tree with how each library was found (libtree style).
    Tree,
    /// Closures (nodes, edges with reasons, misses with the paths tried) and the manifest.
    Json,
    /// One canonical path per line for every file the loader maps.
    Paths,
}

/// Command-line options, as parsed.
#[derive(Debug, Parser)]
#[command(
    name = "depclose-cli",
    version,
    about = "Print the exact shared-library closure of ELF programs without running them, \
             and build a reproducible rootfs from it.",
    after_help = "Exit status: 0 all resolved; 1 a library is missing or the loader would abort \
                  (with -r: a version is missing or above --require); \
                  2 usage error, unreadable or invalid input, unwritable output.\n\
                  Environment: LD_LIBRARY_PATH (as ldd; root / only), SOURCE_DATE_EPOCH (archive mtimes)."
)]
struct Opts {
    /// ELF programs or libraries (paths inside the root when --root is given; a path the
    /// root lacks is taken from the host, as a program from outside the root).
    #[arg(required_unless_present = "scan", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Also take every ELF file under DIR (recognised by its magic, not its name; symlinks
    /// not followed; hard links to one file counted once). Repeatable.
    #[arg(long, value_name = "DIR")]
    scan: Vec<PathBuf>,

    /// Output on stdout. Default: ldd, or nothing when --tar, --dir, --manifest or
    /// --dockerfile is given.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,

    /// Print the chains of requests that bring NAME (a name, soname, path or file name) in.
    #[arg(long, value_name = "NAME", conflicts_with = "format")]
    why: Option<OsString>,

    /// Directory that plays / (a sysroot, unpacked image layers). Default: /.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// LD_LIBRARY_PATH to model. Default: the environment's LD_LIBRARY_PATH when the root is
    /// /, as ldd; none otherwise. '' for none.
    #[arg(long, value_name = "PATH")]
    ld_library_path: Option<OsString>,

    /// Value of $PLATFORM. Default: derived from the target's machine.
    #[arg(long, value_name = "NAME")]
    platform: Option<OsString>,

    /// glibc-hwcaps level to resolve for: host, none, x86-64-v2, x86-64-v3, x86-64-v4, or a
    /// comma-separated list of subdirectories. Given, the rootfs keeps only the copies that
    /// level loads; by default the host level is resolved and every variant is shipped.
    #[arg(long, value_name = "LEVEL")]
    hwcaps: Option<String>,

    /// Working directory of the modelled process (in the root), for relative names.
    /// Default: the current directory when the root is /.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Worker threads; 0 = two per CPU (the default: the work is mostly file-system
    /// calls). Output does not depend on it.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Write the rootfs as a tarball (.tar, .tar.gz or .tgz), reproducibly.
    #[arg(long, value_name = "FILE")]
    tar: Option<PathBuf>,

    /// Write the rootfs as a directory (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Write the rootfs manifest (JSON: path, kind, mode, size, sha256, target, reasons).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,

    /// Also put this path (in the root) in the rootfs: a file, or a directory and everything
    /// under it; the libraries its ELF files need come too. Repeatable.
    #[arg(long = "add", value_name = "PATH")]
    add: Vec<PathBuf>,

    /// Write a Dockerfile (FROM scratch, ADD the tarball, ENTRYPOINT the first FILE). Needs --tar.
    #[arg(long, value_name = "FILE", requires = "tar")]
    dockerfile: Option<PathBuf>,

    /// Check symbol versions and bind every symbol reference as ld.so would (ldd -r): with
    /// --format ldd (and paths, or no output) the problems go to stderr exactly as ldd -r
    /// prints them; json and tree carry them. A missing non-weak version exits 1.
    #[arg(short = 'r', long)]
    check_symbols: bool,

    /// Fail (exit 1) when the closure requires a newer version than allowed, naming the
    /// symbols that need it: PREFIX<=VERSION, the prefix being what precedes the first `_`
    /// of a version (glibc<=2.28, GLIBCXX<=3.4.25, CXXABI<=1.3.11, GCC<=7.0.0). Repeatable;
    /// implies --check-symbols.
    #[arg(long, value_name = "POLICY")]
    require: Vec<String>,
}

/// Exit status, most severe wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Exit {
    Complete = 0,
    Missing = 1,
    Error = 2,
}

/// What stdout shows.
#[derive(Clone, Debug)]
enum Report {
    None,
    Format(Format),
    Why(Vec<u8>),
}

/// Validated settings.
struct Config {
    resolver: Resolver,
    root_is_host: bool,
    files: Vec<PathBuf>,
    report: Report,
    text: TextOptions,
    tar: Option<(PathBuf, Compression)>,
    dir: Option<PathBuf>,
    manifest: Option<PathBuf>,
    dockerfile: Option<PathBuf>,
    add: Vec<PathBuf>,
    variants: bool,
    mtime: u64,
    check_symbols: bool,
    require: Vec<VersionPolicy>,
    /// `--cwd` was given: relative FILEs are in the root.
    cwd_given: bool,
}

impl Config {
    fn new(o: Opts) -> anyhow::Result<Config> {
        let root = o.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let root_is_host = std::fs::canonicalize(&root).map(|r| r == Path::new("/")).unwrap_or(false);
        let mut b = Resolver::builder();
        b.root(&root);
        let llp = match &o.ld_library_path {
            Some(v) => Some(v.clone()),
            None if root_is_host => std::env::var_os("LD_LIBRARY_PATH"),
            None => None,
        };
        b.ld_library_path(llp.filter(|v| !v.is_empty()));
        let cwd = match &o.cwd {
            Some(c) => Some(c.clone()),
            None if root_is_host => std::env::current_dir().ok(),
            None => None,
        };
        b.cwd(cwd);
        b.platform(o.platform.clone());
        if let Some(h) = &o.hwcaps {
            b.hwcaps(parse_hwcaps(h)?);
        }
        if let Some(n) = o.threads {
            b.threads(n);
            // Hashing and in-root batch work use rayon's global pool; only the first call
            // can set it (building it starts its threads, so a one-file run without
            // --threads never does).
            if n > 0 {
                let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
            }
        }
        let resolver = b.build().map_err(|e| anyhow!("{e}"))?;
        let tar = match &o.tar {
            Some(p) => Some((p.clone(), compression_for(p)?)),
            None => None,
        };
        let writes = o.tar.is_some() || o.dir.is_some() || o.manifest.is_some() || o.dockerfile.is_some();
        let report = match (&o.why, o.format) {
            (Some(q), _) => Report::Why(q.as_bytes().to_vec()),
            (None, Some(f)) => Report::Format(f),
            (None, None) if writes => Report::None,
            (None, None) => Report::Format(Format::Ldd),
        };
        let mtime = match std::env::var_os("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
            None => 0,
            Some(v) => v
                .to_str()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| anyhow!("SOURCE_DATE_EPOCH: not a number of seconds: {v:?}"))?,
        };
        let add = o
            .add
            .iter()
            .map(|p| {
                if p.is_absolute() {
                    Ok(p.clone())
                } else if root_is_host {
                    Ok(std::env::current_dir().context("current directory")?.join(p))
                } else {
                    bail!("{}: --add needs an absolute path inside the root", p.display())
                }
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let require = o
            .require
            .iter()
            .map(|p| p.parse::<VersionPolicy>().map_err(|e| anyhow!("--require {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut files = o.files.clone();
        for dir in &o.scan {
            files.extend(scan(&root, root_is_host, dir)?);
        }
        Ok(Config {
            resolver,
            root_is_host,
            files,
            report,
            text: TextOptions::new().terminal(io::stdout().is_terminal()),
            tar,
            dir: o.dir,
            manifest: o.manifest,
            dockerfile: o.dockerfile,
            add,
            variants: o.hwcaps.is_none(),
            mtime,
            check_symbols: o.check_symbols || !require.is_empty(),
            require,
            cwd_given: o.cwd.is_some(),
        })
    }

    fn needs_plan(&self) -> bool {
        self.tar.is_some()
            || self.dir.is_some()
            || self.manifest.is_some()
            || matches!(self.report, Report::Format(Format::Json))
    }

    /// Closures of host paths (root /) or in-root paths, in input order.
    fn closures(&self, files: &[PathBuf]) -> Vec<Result<Closure, depclose::Error>> {
        if self.root_is_host {
            self.resolver.closures(files)
        } else {
            files.par_iter().map(|f| self.closure_in_root_or_outside(f)).collect()
        }
    }

    /// A path inside the root; or, when the root has no such file but the host has it, that
    /// host file read as an input from outside the root ("built here, run there": the
    /// program from the host, its libraries from the root).
    fn closure_in_root_or_outside(&self, f: &Path) -> Result<Closure, depclose::Error> {
        let root = self.resolver.root();
        let in_root = f.is_absolute() || self.cwd_given;
        if in_root && std::fs::symlink_metadata(root.host_path(f)).is_ok() {
            return self.resolver.closure_in_root(f);
        }
        if std::fs::metadata(f).is_ok_and(|m| m.is_file()) {
            // A relative host path is taken from the current directory.
            let abs = if f.is_absolute() {
                f.to_path_buf()
            } else {
                std::env::current_dir().map(|d| d.join(f.strip_prefix(".").unwrap_or(f))).unwrap_or_default()
            };
            return self.resolver.closure(abs);
        }
        self.resolver.closure_in_root(f)
    }
}

/// Every ELF file under `dir` (in the root), sorted, one path per (device, inode).
fn scan(root: &Path, root_is_host: bool, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let host_dir = if root_is_host { dir.to_path_buf() } else { root.join(dir.strip_prefix("/").unwrap_or(dir)) };
    let mut candidates = Vec::new();
    for e in walkdir::WalkDir::new(&host_dir).follow_links(false).sort_by_file_name() {
        let e = e.with_context(|| format!("--scan {}", dir.display()))?;
        if e.file_type().is_file() {
            candidates.push(e.into_path());
        }
    }
    let elf: Vec<Option<(u64, u64, PathBuf)>> = candidates
        .into_par_iter()
        .map(|p| {
            let mut f = std::fs::File::open(&p).ok()?;
            // Magic, then e_type (ET_EXEC or ET_DYN, either byte order): object files and
            // core dumps are ELF but not loadable, so a scan passes over them.
            let mut head = [0u8; 18];
            f.read_exact(&mut head).ok()?;
            let e_type = if head[5] == 2 {
                u16::from_be_bytes([head[16], head[17]])
            } else {
                u16::from_le_bytes([head[16], head[17]])
            };
            let m = f.metadata().ok()?;
            (head.starts_with(b"\x7fELF") && (e_type == 2 || e_type == 3)).then_some((m.dev(), m.ino(), p))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (dev, ino, p) in elf.into_iter().flatten() {
        if seen.insert((dev, ino)) {
            out.push(if root_is_host {
                p
            } else {
                Path::new("/").join(p.strip_prefix(&host_dir).map(|r| dir.join(r)).unwrap_or(p))
            });
        }
    }
    Ok(out)
}

fn parse_hwcaps(s: &str) -> anyhow::Result<Hwcaps> {
    Ok(match s {
        "host" => Hwcaps::Host,
        "none" | "baseline" | "x86-64" | "x86-64-v1" => Hwcaps::None,
        "x86-64-v2" => Hwcaps::X86_64Level(2),
        "x86-64-v3" => Hwcaps::X86_64Level(3),
        "x86-64-v4" => Hwcaps::X86_64Level(4),
        other if other.starts_with("x86-64-v") => bail!("--hwcaps: unknown x86-64 level {other:?} (v2 to v4)"),
        other if !other.is_empty() => Hwcaps::Subdirs(other.split(',').map(str::to_string).collect()),
        _ => bail!("--hwcaps: empty value"),
    })
}

fn compression_for(p: &Path) -> anyhow::Result<Compression> {
    let name = p.file_name().map(OsStr::as_bytes).unwrap_or_default();
    if name.ends_with(b".tar.gz") || name.ends_with(b".tgz") {
        Ok(Compression::Gzip(9))
    } else if name.ends_with(b".tar") {
        Ok(Compression::None)
    } else {
        bail!("{}: cannot tell the format from the name (use .tar, .tar.gz or .tgz)", p.display())
    }
}

/// One line on stderr, `depclose-cli: ...`, control characters escaped.
fn say(msg: impl Display) {
    let text = msg.to_string();
    let esc = emit::escape(text.as_bytes(), &TextOptions::new().terminal(true));
    let mut err = io::stderr().lock();
    let _ = err.write_all(b"depclose-cli: ");
    let _ = err.write_all(&esc);
    let _ = err.write_all(b"\n");
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().map(|io| io.kind() == io::ErrorKind::BrokenPipe).unwrap_or(false)
            || c.downcast_ref::<depclose::Error>()
                .and_then(|d| d.io_error())
                .map(|io| io.kind() == io::ErrorKind::BrokenPipe)
                .unwrap_or(false)
    })
}

/// The C entry point.
///
/// std's runtime start-up is skipped on purpose: it reads `/proc/self/maps` to find the
/// main thread's stack and installs stack-overflow handlers, a sizeable part of what a
/// one-file run would otherwise spend before doing any work (depclose-cli is often run once
/// per file; see the README's performance section). std itself works as usual (I/O,
/// threads); the arguments are taken from `argv` here, since only glibc hands them to std
/// without std's start-up. SIGPIPE is ignored as std would ignore it, so that a closed stdout is an
/// `EPIPE` error handled below rather than a signal.
///
/// # Safety
/// Called by the C runtime only, with its `argc` and `argv`.
#[no_mangle]
pub unsafe extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: changes a signal disposition before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let args: Vec<OsString> = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        .map(|i| unsafe { *argv.add(i) })
        .take_while(|p| !p.is_null())
        // SAFETY: `p` is one of those strings, alive for the whole process.
        .map(|p| OsStr::from_bytes(unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()).to_os_string())
        .collect();
    // A panic must not unwind into C: report it (the hook has printed it) with status 101.
    // (Release builds abort on panic instead; see Cargo.toml.)
    std::panic::catch_unwind(|| cli_main(args)).unwrap_or(101)
}

fn cli_main(args: Vec<OsString>) -> libc::c_int {
    let opts = Opts::parse_from(args);
    let code = match Config::new(opts) {
        Err(e) => {
            say(format!("{e:#}"));
            Exit::Error
        }
        Ok(cfg) => {
            let code = match run(&cfg) {
                Ok(code) => code,
                Err(e) if is_broken_pipe(&e) => Exit::Complete,
                Err(e) => {
                    say(format!("{e:#}"));
                    Exit::Error
                }
            };
            // Likewise the resolver's caches: the exit below reclaims them at once.
            std::mem::forget(cfg);
            code
        }
    };
    // Flushes nothing more (stdout is written through explicit buffers) and skips freeing.
    std::process::exit(code as i32)
}

fn run(cfg: &Config) -> anyhow::Result<Exit> {
    let mut exit = Exit::Complete;
    let mut closures = Vec::new();
    for (file, res) in cfg.files.iter().zip(cfg.closures(&cfg.files)) {
        match res {
            Ok(c) => closures.push(c),
            Err(e) => {
                say(if e.path() == file { e.to_string() } else { format!("{}: {e}", file.display()) });
                exit = exit.max(Exit::Error);
            }
        }
    }
    for c in &closures {
        if !c.is_complete() {
            exit = exit.max(Exit::Missing);
        }
        if let Some(f) = &c.fatal {
            say(format!(
                "{}: error while loading shared libraries: {}: {}: {}",
                c.input.display(),
                f.name,
                f.path.display(),
                f.message
            ));
        }
        if matches!(cfg.report, Report::None) {
            for m in &c.missing {
                say(format!("{}: {}: not found", c.input.display(), m.name));
            }
        }
    }
    // Outputs are all or nothing: with an unusable input, no rootfs is written.
    let plan_ok = exit < Exit::Error;
    let plan = if cfg.needs_plan() && plan_ok {
        let (plan, code) = build_plan(cfg, &closures)?;
        exit = exit.max(code);
        Some(plan)
    } else {
        None
    };
    if let Some(p) = &plan {
        for w in p.warnings() {
            say(format!("warning: {w}"));
        }
        for e in p.setid_entries() {
            let what = match (e.is_setuid(), e.is_setgid()) {
                (true, true) => "set-user-ID and set-group-ID",
                (true, false) => "set-user-ID",
                _ => "set-group-ID",
            };
            say(format!("note: {} is {what} (mode {:04o}, kept)", e.path.display(), e.mode));
        }
    }

    let symbols = if cfg.check_symbols {
        let (reports, code) = check_symbols(cfg, &closures);
        exit = exit.max(code);
        Some(reports)
    } else {
        None
    };

    report(cfg, &closures, plan.as_ref(), symbols.as_deref())?;
    if let Some(reports) = &symbols {
        if !matches!(cfg.report, Report::Format(Format::Json | Format::Tree)) {
            // As ldd -r prints them (on stderr, unprefixed).
            let mut err = io::stderr().lock();
            for (c, r) in closures.iter().zip(reports) {
                for line in r.ldd_lines(c) {
                    let _ = writeln!(err, "{line}");
                }
            }
        }
    }

    if let Some(plan) = &plan {
        write_outputs(cfg, plan, &closures)?;
    }
    // The process ends next: freeing thousands of closures one by one would only cost time.
    std::mem::forget(closures);
    Ok(exit)
}

/// The plan, with the closures of the ELF files among the added paths folded in.
fn build_plan(cfg: &Config, closures: &[Closure]) -> anyhow::Result<(Rootfs, Exit)> {
    let mut exit = Exit::Complete;
    let mut b = Rootfs::builder();
    b.root(cfg.resolver.root().host_dir()).variants(cfg.variants);
    for c in closures {
        b.closure(c);
    }
    for a in &cfg.add {
        b.add(a);
    }
    let first = b.build()?;
    let elves = first.added_elf_files().to_vec();
    if elves.is_empty() {
        return Ok((first, exit));
    }
    let hosts: Vec<PathBuf> =
        if cfg.root_is_host { elves.clone() } else { elves.iter().map(|p| cfg.resolver.root().host_path(p)).collect() };
    let results: Vec<_> = if cfg.root_is_host {
        cfg.resolver.closures(&hosts)
    } else {
        elves.par_iter().map(|p| cfg.resolver.closure_in_root(p)).collect()
    };
    let mut added = Vec::new();
    for (p, r) in elves.iter().zip(results) {
        match r {
            Ok(c) => {
                for m in &c.missing {
                    say(format!("{} (added): {}: not found", p.display(), m.name));
                    exit = exit.max(Exit::Missing);
                }
                added.push(c);
            }
            // Object files, foreign or broken ELF files among added data: shipped as data.
            Err(e) => say(format!("warning: {} (added): not closed over: {}", p.display(), e.message())),
        }
    }
    let mut b2 = Rootfs::builder();
    b2.root(cfg.resolver.root().host_dir()).variants(cfg.variants);
    for c in closures {
        b2.closure(c);
    }
    for c in &added {
        b2.added_closure(c);
    }
    for a in &cfg.add {
        b2.add(a);
    }
    Ok((b2.build()?, exit))
}

/// The symbol checks of every closure (each library's tables read once), the notes they
/// call for on stderr, and the exit status they imply: 1 for a missing non-weak version or
/// a requirement above a `--require` policy.
fn check_symbols(cfg: &Config, closures: &[Closure]) -> (Vec<SymbolReport>, Exit) {
    let cache = SymbolCache::new();
    let root = cfg.resolver.root();
    let reports: Vec<SymbolReport> = closures.par_iter().map(|c| cache.check(c, root)).collect();
    let mut exit = Exit::Complete;
    for (c, r) in closures.iter().zip(&reports) {
        for (i, why) in &r.unreadable {
            say(format!("warning: {}: symbols not checked in {}: {why}", c.input.display(), object_name(c, *i)));
        }
        if r.is_fatal() {
            exit = exit.max(Exit::Missing);
        }
        for req in r.exceeding(&cfg.require) {
            exit = exit.max(Exit::Missing);
            let policy: Vec<String> = cfg.require.iter().map(|p| p.to_string()).collect();
            let syms: Vec<String> = req.symbols.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            say(format!(
                "{}: {} needs {} of {}, above {}{}{}",
                c.input.display(),
                object_name(c, req.required_by),
                req.version,
                req.file,
                policy.join(", "),
                if syms.is_empty() { "" } else { ": " },
                syms.join(", ")
            ));
        }
    }
    (reports, exit)
}

fn object_name(c: &Closure, i: usize) -> String {
    depclose::symcheck::object_name(c, i)
}

fn report(
    cfg: &Config,
    closures: &[Closure],
    plan: Option<&Rootfs>,
    symbols: Option<&[SymbolReport]>,
) -> anyhow::Result<()> {
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    match &cfg.report {
        Report::None => return Ok(()),
        Report::Why(q) => emit::write_why(closures, q, &mut out, &cfg.text)?,
        Report::Format(Format::Ldd) => emit::write_ldd(closures, &mut out, &cfg.text)?,
        Report::Format(Format::Tree) => emit::write_tree_with_symbols(closures, symbols, &mut out, &cfg.text)?,
        Report::Format(Format::Paths) => emit::write_paths(closures, &mut out, &cfg.text)?,
        Report::Format(Format::Json) => emit::write_json_with_symbols(closures, plan, symbols, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

fn write_outputs(cfg: &Config, plan: &Rootfs, closures: &[Closure]) -> anyhow::Result<()> {
    if std::io::stderr().is_terminal() && plan.content_bytes() > 64 << 20 {
        say(format!("writing {} entries ({} MiB)...", plan.entries().len(), plan.content_bytes() >> 20));
    }
    let ctx = |p: &Path| p.display().to_string();
    // Files are written under temporary names first and renamed only once everything,
    // the directory included, has been written: an error leaves no output behind.
    let mut pending: Vec<AtomicFile> = Vec::new();
    if let Some((path, compression)) = &cfg.tar {
        let mut f = AtomicFile::create(path)?;
        let opts = TarOptions::new().mtime(cfg.mtime).compression(*compression);
        emit::write_tar(plan, &mut f, &opts).with_context(|| ctx(path))?;
        pending.push(f);
    }
    if let Some(path) = &cfg.manifest {
        let mut f = AtomicFile::create(path)?;
        emit::write_manifest(plan, &mut f).with_context(|| ctx(path))?;
        pending.push(f);
    }
    if let Some(path) = &cfg.dockerfile {
        let (tar, _) = cfg.tar.as_ref().ok_or_else(|| anyhow!("--dockerfile needs --tar"))?;
        let entry = closures.first().map(|c| c.input_object().file.location.path.clone()).unwrap_or_default();
        let mut f = AtomicFile::create(path)?;
        f.write_all(dockerfile(tar, &entry).as_bytes()).with_context(|| ctx(path))?;
        pending.push(f);
    }
    if let Some(dir) = &cfg.dir {
        emit::write_dir(plan, dir, &DirOptions::new().mtime(cfg.mtime))?;
    }
    for f in pending {
        f.commit()?;
    }
    Ok(())
}

/// `FROM scratch`, the tarball added at `/`, the first input as entry point.
fn dockerfile(tar: &Path, entry: &Path) -> String {
    let base = tar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let plain = !base.is_empty() && base.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    let add = if plain { format!("ADD {base} /") } else { format!("ADD [{}, \"/\"]", serde_json::Value::String(base)) };
    let entry = serde_json::Value::String(entry.to_string_lossy().into_owned());
    format!("FROM scratch\n{add}\nENTRYPOINT [{entry}]\n")
}
