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

use depclose::emit::{self, AssembleOptions, AtomicFile, Compression, DirOptions, Rootfs, TarOptions, TextOptions};
use depclose::runtime::{DlopenLevel, Pack, RuntimeOptions, User};
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
    /// For each FILE, the runtime files it needs (what no DT_NEEDED names), each with its
    /// evidence, and what it would dlopen; nothing is written.
    Runtime,
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
                  Environment: LD_LIBRARY_PATH (as ldd; root / only), SOURCE_DATE_EPOCH (archive mtimes, \
                  image creation time)."
)]
struct Opts {
    /// ELF programs or libraries (paths inside the root when --root is given; a path the
    /// root lacks is taken from the host, as a program from outside the root).
    #[arg(required_unless_present_any = ["scan", "verify"], value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Also take every ELF file under DIR (recognised by its magic, not its name; symlinks
    /// not followed; hard links to one file counted once). Repeatable.
    #[arg(long, value_name = "DIR")]
    scan: Vec<PathBuf>,

    /// Output on stdout. Default: ldd, or nothing when --tar, --dir, --manifest,
    /// --dockerfile, --oci-layout, --oci-archive or --sbom is given.
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

    /// Value of $PLATFORM. Default: what glibc sets on this CPU for a host-architecture
    /// target (haswell or xeon_phi on Intel CPUs with those features), else the machine's
    /// name (x86_64, aarch64, ...).
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

    /// Write the rootfs as an OCI image layout directory (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    oci_layout: Option<PathBuf>,

    /// Write the rootfs as an OCI image archive (.tar) that `docker load`, `podman load` and
    /// `skopeo copy oci-archive:FILE` take.
    #[arg(long, value_name = "FILE")]
    oci_archive: Option<PathBuf>,

    /// Image reference `NAME[:TAG]` (`:latest` added). Default: the first FILE's name, lower-cased.
    #[arg(long, value_name = "NAME[:TAG]")]
    tag: Option<String>,

    /// Image config Cmd: one argument per --cmd, in order. Default: none.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,

    /// Image environment entry (repeatable; replaces a default with the same key).
    /// Default: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin.
    #[arg(long, value_name = "K=V")]
    env: Vec<String>,

    /// Image working directory. Default: none (/).
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,

    /// Image label (repeatable).
    #[arg(long, value_name = "K=V")]
    label: Vec<String>,

    /// Image exposed port (repeatable; /tcp when no protocol is given).
    #[arg(long, value_name = "PORT[/PROTO]")]
    expose: Vec<String>,

    /// Compression of the image layer: `gzip` (level 6), `gzip:N` (N from 0 to 9) or `none`
    /// (an uncompressed layer: quicker to write, larger). Default: gzip.
    #[arg(long, value_name = "gzip[:N]|none")]
    layer_compression: Option<String>,

    /// Write an SPDX 2.3 JSON SBOM of the rootfs: its files with SHA1 and SHA256, the
    /// Debian packages (from the root's dpkg database, nothing executed) that own them.
    #[arg(long, value_name = "FILE")]
    sbom: Option<PathBuf>,

    /// Do not add `/var/lib/dpkg/status.d/<package>` and `<package>.md5sums` records (for the
    /// packages whose files the rootfs ships) to the rootfs. Default: added when the root has
    /// a dpkg database.
    #[arg(long)]
    no_dpkg_records: bool,

    /// Refuse a rootfs holding a file larger than this (bytes, or with a K, M, G or T
    /// suffix): it would be read in full for every output. Sparse files are named as such.
    /// Default: 2G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "2G")]
    max_file_size: u64,

    /// Check that IMAGE (a rootfs directory, .tar, .tar.gz, OCI layout or archive, docker
    /// archive) is self-contained: every ELF file resolved inside it, no truncated file or dangling link,
    /// and, when there is one (--manifest FILE, IMAGE.manifest.json or NAME.manifest.json
    /// beside it, /.depclose/manifest.json inside), the manifest's hashes, modes and links.
    /// Exit 0 sound, 1 with each problem printed, 2 when the image cannot be read.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["files", "scan", "tar", "dir", "oci_layout", "oci_archive", "dockerfile", "sbom"])]
    verify: Option<PathBuf>,

    /// Runtime files in the rootfs: auto (the packs the evidence asks for) or none (the
    /// bare ELF closure, as earlier versions wrote it).
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    runtime: RuntimeMode,

    /// Add a runtime pack whatever the evidence: users, nss, hosts, services, ca, tzdata,
    /// gconv, libgcc_s, locale, plugins, data, dirs, shell, helpers, dlopen. Repeatable.
    #[arg(long = "with", value_name = "PACK")]
    with: Vec<String>,

    /// Never add this runtime pack. Repeatable.
    #[arg(long = "without", value_name = "PACK")]
    without: Vec<String>,

    /// The user the image runs as: NAME, UID or UID:GID. Written to /etc/passwd beside
    /// root, nobody and nonroot (65532), and used as the Dockerfile's USER.
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// Time zones to ship (comma-separated, e.g. Europe/Paris,UTC). Default: all of them.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    tz: Option<Vec<String>>,

    /// gconv modules to ship (comma-separated, e.g. UTF-16,ISO8859-1). Default: all.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    gconv: Option<Vec<String>>,

    /// Locales to ship besides C.utf8 (comma-separated, e.g. en_US.UTF-8).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    locale: Vec<String>,

    /// Which dlopen evidence adds libraries: notes (.note.dlopen required and recommended
    /// entries), strings (also soname literals in objects that load plugins), all (also
    /// the notes' suggested entries).
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "strings")]
    dlopen: DlopenArg,

    /// Write the rootfs even when a library is missing (every miss is listed on stderr and
    /// in the manifest); exit 0.
    #[arg(long)]
    allow_missing: bool,

    /// Print what the rootfs would hold and why, and write nothing.
    #[arg(long)]
    dry_run: bool,

    /// No summary line on stderr after writing.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// `--runtime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RuntimeMode {
    /// The packs the evidence asks for.
    Auto,
    /// No runtime file.
    None,
}

/// `--dlopen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DlopenArg {
    /// `.note.dlopen` required and recommended entries.
    Notes,
    /// Also soname literals in objects that load plugins.
    Strings,
    /// Also the notes' suggested entries.
    All,
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
    max_file_size: u64,
    manifest: Option<PathBuf>,
    dockerfile: Option<PathBuf>,
    add: Vec<PathBuf>,
    variants: bool,
    mtime: u64,
    check_symbols: bool,
    require: Vec<VersionPolicy>,
    runtime: RuntimeOptions,
    allow_missing: bool,
    dry_run: bool,
    quiet: bool,
    /// The first FILE's path in the image (a script's own path, not its interpreter's).
    entry: Option<PathBuf>,
    user: Option<User>,
    image: Option<ImageArgs>,
    sbom: Option<PathBuf>,
    dpkg_records: bool,
    /// Dockerfile instructions for the image config flags, after ENTRYPOINT.
    docker_config: Vec<String>,
    /// `--cwd` was given: relative FILEs are in the root.
    cwd_given: bool,
}

/// The image outputs and config flags.
struct ImageArgs {
    /// The first FILE's path in the image, when known before the closures.
    entry: Option<PathBuf>,
    layout: Option<PathBuf>,
    archive: Option<PathBuf>,
    tag: Option<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    labels: Vec<(String, String)>,
    expose: Vec<String>,
    layer_compression: Option<Compression>,
}

impl ImageArgs {
    fn new(o: &Opts) -> anyhow::Result<Option<ImageArgs>> {
        if o.oci_layout.is_none() && o.oci_archive.is_none() {
            return Ok(None);
        }
        let labels = o
            .label
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => bail!("--label {l:?}: not K=V"),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for e in &o.env {
            if !e.contains('=') || e.starts_with('=') {
                bail!("--env {e:?}: not K=V");
            }
        }
        Ok(Some(ImageArgs {
            entry: None,
            layout: o.oci_layout.clone(),
            archive: o.oci_archive.clone(),
            tag: o.tag.clone(),
            cmd: o.cmd.clone(),
            env: o.env.clone(),
            workdir: o.workdir.clone(),
            user: o.user.clone(),
            labels,
            expose: o.expose.clone(),
            layer_compression: match o.layer_compression.as_deref() {
                None => None,
                Some("none") => Some(Compression::None),
                Some("gzip") => Some(Compression::Gzip(6)),
                Some(other) => match other.strip_prefix("gzip:").and_then(|n| n.parse::<u32>().ok()) {
                    Some(n) if n <= 9 => Some(Compression::Gzip(n)),
                    _ => bail!("--layer-compression {other:?}: gzip, gzip:0 to gzip:9, or none"),
                },
            },
        }))
    }

    /// The library's options: the platform of the closures, the first input as entry point.
    fn options(&self, closures: &[Closure], mtime: u64) -> anyhow::Result<emit::ImageOptions> {
        let platform = emit::platform_of(closures)?;
        let entry = match &self.entry {
            Some(e) if e.is_absolute() => e.clone(),
            _ => closures.first().map(|c| c.input_object().file.location.path.clone()).unwrap_or_default(),
        };
        let entry = entry.to_str().ok_or_else(|| anyhow!("{}: entry point is not UTF-8", entry.display()))?;
        let tag = match &self.tag {
            Some(t) => t.clone(),
            None => default_tag(Path::new(entry)),
        };
        let mut o =
            emit::ImageOptions::new(platform).tag(tag).entrypoint([entry]).cmd(self.cmd.iter().cloned()).created(mtime);
        for e in &self.env {
            o = o.env(e.clone());
        }
        for (k, v) in &self.labels {
            o = o.label(k.clone(), v.clone());
        }
        for p in &self.expose {
            o = o.expose(p.clone());
        }
        if let Some(w) = &self.workdir {
            o = o.workdir(w.clone());
        }
        if let Some(u) = &self.user {
            o = o.user(u.clone());
        }
        if let Some(c) = self.layer_compression {
            o = o.layer_compression(c);
        }
        o.reference()?;
        Ok(o)
    }
}

/// The entry point's file name, lower-cased, characters a reference cannot hold replaced.
fn default_tag(entry: &Path) -> String {
    let base = entry.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut name: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string();
    if name.is_empty() {
        name = "image".into();
    }
    format!("{name}:latest")
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
        let writes = o.dry_run
            || o.tar.is_some()
            || o.dir.is_some()
            || o.manifest.is_some()
            || o.dockerfile.is_some()
            || o.oci_layout.is_some()
            || o.oci_archive.is_some()
            || o.sbom.is_some();
        let mut image = ImageArgs::new(&o)?;
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
        let docker_config = docker_config(&o);
        let require = o
            .require
            .iter()
            .map(|p| p.parse::<VersionPolicy>().map_err(|e| anyhow!("--require {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut files = Vec::new();
        let mut add = add;
        let mut entry = None;
        let mut scripts = Vec::new();
        let canon_root = if root_is_host { None } else { std::fs::canonicalize(&root).ok() };
        for f in &o.files {
            let f = &match canon_root.as_deref() {
                Some(canon) => in_root_file(&root, canon, f, o.cwd.is_some())?,
                None => f.clone(),
            };
            let host = if root_is_host { f.clone() } else { root.join(f.strip_prefix("/").unwrap_or(f)) };
            match shebang(&host) {
                Some((interp, arg)) => {
                    let abs = if f.is_absolute() || !root_is_host {
                        f.clone()
                    } else {
                        std::env::current_dir().context("current directory")?.join(f)
                    };
                    entry.get_or_insert_with(|| abs.clone());
                    add.push(abs.clone());
                    let prog = PathBuf::from(OsStr::from_bytes(&interp));
                    // `#!/usr/bin/env NAME`: NAME as env finds it on the default PATH.
                    if prog.file_name() == Some(OsStr::new("env")) {
                        if let Some(name) = arg.as_ref().filter(|a| !a.contains(&b'/') && !a.starts_with(b"-")) {
                            if let Some(found) = on_path(&root, OsStr::from_bytes(name)) {
                                files.push(found);
                            }
                        }
                    }
                    scripts.push((abs, prog.clone()));
                    files.push(prog);
                }
                None => {
                    if entry.is_none() {
                        entry = Some(f.clone());
                    }
                    files.push(f.clone());
                }
            }
        }
        for (s, i) in &scripts {
            say(format!("note: {} is a script run by {}: its interpreter is closed over", s.display(), i.display()));
        }
        for dir in &o.scan {
            files.extend(scan(&root, root_is_host, dir)?);
        }
        let user = o.user.as_deref().map(User::parse).transpose().map_err(|e| anyhow!("--user {e}"))?;
        // The image runs as the user the users pack writes into /etc/passwd, by number, and
        // starts the first FILE (a script itself, not its interpreter).
        if let Some(img) = image.as_mut() {
            if let Some(u) = &user {
                img.user = Some(format!("{}:{}", u.uid, u.gid));
            }
            img.entry = entry.clone();
        }
        let mut runtime = match o.runtime {
            RuntimeMode::Auto => RuntimeOptions::new(),
            RuntimeMode::None => RuntimeOptions::none(),
        };
        for w in &o.with {
            runtime.with(
                Pack::from_name(w).ok_or_else(|| anyhow!("--with {w}: no such runtime pack ({})", pack_names()))?,
            );
        }
        for w in &o.without {
            runtime.without(
                Pack::from_name(w).ok_or_else(|| anyhow!("--without {w}: no such runtime pack ({})", pack_names()))?,
            );
        }
        if o.runtime == RuntimeMode::Auto {
            runtime.user(user.clone());
        }
        runtime.tz(o.tz.clone()).gconv(o.gconv.clone()).locales(o.locale.clone()).dlopen(match o.dlopen {
            DlopenArg::Notes => DlopenLevel::Notes,
            DlopenArg::Strings => DlopenLevel::Strings,
            DlopenArg::All => DlopenLevel::All,
        });
        Ok(Config {
            resolver,
            root_is_host,
            files,
            report,
            text: *TextOptions::new().terminal(io::stdout().is_terminal()),
            tar,
            dir: o.dir,
            max_file_size: o.max_file_size,
            manifest: o.manifest,
            dockerfile: o.dockerfile,
            add,
            variants: o.hwcaps.is_none(),
            mtime,
            runtime,
            allow_missing: o.allow_missing,
            dry_run: o.dry_run,
            quiet: o.quiet,
            entry,
            user,
            image,
            check_symbols: o.check_symbols || !require.is_empty(),
            require,
            sbom: o.sbom.clone(),
            // The bare ELF closure (--runtime none) is that and nothing else: no package records.
            dpkg_records: !o.no_dpkg_records && o.runtime == RuntimeMode::Auto,
            docker_config,
            cwd_given: o.cwd.is_some(),
        })
    }

    /// A rootfs (archive or directory) is written.
    fn writes_rootfs(&self) -> bool {
        self.tar.is_some() || self.dir.is_some() || self.image.is_some()
    }

    fn needs_plan(&self) -> bool {
        self.dry_run
            || self.tar.is_some()
            || self.image.is_some()
            || self.sbom.is_some()
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
        let in_root = f.is_absolute() || self.cwd_given;
        if in_root && std::fs::symlink_metadata(self.resolver.host_path(f)).is_ok() {
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

/// A FILE given with `--root`: an in-root path as it is; a host path that lies inside the
/// root (`--root R R/usr/bin/ls`, as a shell completes it) as the path inside the root it
/// names; a relative path the host does not have needs `--cwd` (the working directory in the
/// root) to mean anything.
fn in_root_file(root: &Path, canon_root: &Path, f: &Path, cwd_given: bool) -> anyhow::Result<PathBuf> {
    let exists_in_root = |p: &Path| std::fs::symlink_metadata(root.join(p.strip_prefix("/").unwrap_or(p))).is_ok();
    if f.is_absolute() {
        if exists_in_root(f) {
            return Ok(f.to_path_buf());
        }
        // The root as given (`R/...`), or canonical (`/abs/R/...`, or through a symlink).
        let canon_parent = f.parent().and_then(|d| std::fs::canonicalize(d).ok());
        let inside = f
            .strip_prefix(root)
            .ok()
            .map(Path::to_path_buf)
            .or_else(|| f.strip_prefix(canon_root).ok().map(Path::to_path_buf))
            .or_else(|| {
                let dir = canon_parent?.strip_prefix(canon_root).ok()?.to_path_buf();
                Some(dir.join(f.file_name()?))
            });
        if let Some(rel) = inside {
            let p = Path::new("/").join(rel);
            if exists_in_root(&p) {
                return Ok(p);
            }
        }
        return Ok(f.to_path_buf());
    }
    if cwd_given {
        return Ok(f.to_path_buf());
    }
    // The root as given, relative to this directory (`--root R R/usr/bin/ls`).
    if let Ok(rel) = f.strip_prefix(root) {
        let p = Path::new("/").join(rel);
        if exists_in_root(&p) {
            return Ok(p);
        }
    }
    if std::fs::metadata(f).is_ok_and(|m| m.is_file()) {
        return Ok(f.to_path_buf());
    }
    bail!(
        "{}: a relative FILE under --root is a path in the root's working directory, and none is given: \
         add --cwd DIR (a directory inside the root), or give the absolute path inside the root",
        f.display()
    )
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

/// The interpreter and optional argument of a `#!` script, as the kernel reads its first
/// line ([`depclose::script::shebang`]); `None` for a file that is not a script, or whose
/// interpreter is not an absolute path (the kernel resolves a relative one against the
/// caller's working directory, which an image does not have).
fn shebang(host: &Path) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut head = [0u8; depclose::script::BINPRM_BUF_SIZE];
    // Only a regular file can be a script; never block on a FIFO named as input.
    if !std::fs::metadata(host).ok()?.is_file() {
        return None;
    }
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(host).ok()?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let s = depclose::script::shebang(&head[..n])?;
    let interp = s.interpreter.to_vec();
    (interp.first() == Some(&b'/')).then(|| (interp, s.arg.map(|a| a.to_vec())))
}

/// `NAME` on the default `PATH` of the root, as `env` would find it.
fn on_path(root: &Path, name: &OsStr) -> Option<PathBuf> {
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if root.join(p.strip_prefix("/").unwrap_or(&p)).is_file() {
            return Some(p);
        }
    }
    None
}

fn pack_names() -> String {
    Pack::ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
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

/// A clap error in the tool's one style: `--help` and `--version` print as clap prints them
/// (status 0); anything else is clap's own message on one stderr line, `depclose-cli: ...`,
/// its hints after it, the usage block left to `--help` (status 2).
fn usage_error(e: &clap::Error) -> libc::c_int {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return Exit::Error as i32;
    }
    say(clap_one_line(&e.render().to_string()));
    Exit::Error as i32
}

/// Clap's rendered error (`error: MSG`, indented details and tips, `Usage:` and the `--help`
/// hint, each on its own lines) as one line: the message, then its details and tips.
fn clap_one_line(rendered: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    for l in lines.by_ref() {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        parts.push(l.strip_prefix("error: ").unwrap_or(l));
    }
    let mut msg = parts.join("; ");
    msg.push_str(" (see --help)");
    msg
}

/// One line on stderr, `depclose-cli: ...`, control characters escaped.
fn say(msg: impl Display) {
    let text = msg.to_string();
    let esc = emit::escape(text.as_bytes(), TextOptions::new().terminal(true));
    let mut err = io::stderr().lock();
    let _ = err.write_all(b"depclose-cli: ");
    let _ = err.write_all(&esc);
    let _ = err.write_all(b"\n");
}

/// An error and its causes on one line, each cause once: a cause whose text the message
/// already ends with (a library error quoting its I/O error) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for c in e.chain() {
        let text = c.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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
    let opts = match Opts::try_parse_from(args) {
        Ok(o) => o,
        Err(e) => std::process::exit(usage_error(&e)),
    };
    if let Some(image) = &opts.verify {
        std::process::exit(verify(image, &opts) as i32);
    }
    let code = match Config::new(opts) {
        Err(e) => {
            say(one_line(&e));
            Exit::Error
        }
        Ok(cfg) => {
            let code = match run(&cfg) {
                Ok(code) => code,
                Err(_) if emit::interrupted().is_some() => {
                    let sig = emit::interrupted().unwrap_or(0);
                    say(format!("interrupted by signal {sig}: nothing written"));
                    std::process::exit(128 + sig);
                }
                Err(e) if is_broken_pipe(&e) => Exit::Complete,
                Err(e) => {
                    say(one_line(&e));
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
    let symbols = if cfg.check_symbols {
        let (reports, code) = check_symbols(cfg, &closures);
        exit = exit.max(code);
        Some(reports)
    } else {
        None
    };
    // Outputs are all or nothing: with an unusable input, no rootfs is written.
    let plan_ok = exit < Exit::Error;
    let mut dpkg = None;
    let assembled = if cfg.needs_plan() && plan_ok {
        let mut opts = AssembleOptions::new(cfg.runtime.clone());
        opts.adds(cfg.add.clone()).variants(cfg.variants);
        let mut a = emit::assemble(&cfg.resolver, closures.clone(), &opts)?;
        let (rootfs, db) = with_dpkg_records(cfg, a.rootfs)?;
        a.rootfs = rootfs;
        dpkg = db;
        Some(a)
    } else {
        None
    };
    let mut blocked = false;
    if let Some(a) = &assembled {
        for (c, user) in a.added.iter().zip(&a.user_added) {
            for m in &c.missing {
                if *user {
                    say(format!("{} (added): {}: not found", c.input.display(), m.name));
                    exit = exit.max(Exit::Missing);
                } else {
                    say(format!("warning: {} (runtime file): {}: not found", c.input.display(), m.name));
                }
            }
        }
        for n in &a.not_closed {
            // Object files, foreign or broken ELF files among added data: shipped as data.
            say(format!("warning: {} (added): not closed over: {}", n.path.display(), n.error.message()));
        }
        for r in &a.runtime.required_missing {
            say(format!(
                "{}: required dlopen library not found: {}{}",
                r.object.display(),
                r.sonames.join(" or "),
                r.feature.as_deref().map(|f| format!(" (feature {f})")).unwrap_or_default()
            ));
            exit = exit.max(Exit::Missing);
        }
        // Hints go with what they are about: a rootfs or image being made, or its plan.
        if cfg.writes_rootfs() || cfg.dry_run {
            for h in &a.runtime.hints {
                say(format!("hint: {}: {}", h.pack, h.message));
            }
        }
        let p = &a.rootfs;
        for w in p.warnings() {
            say(format!("warning: {w}"));
        }
        // A note about what is written: not for a report (--format json) or a manifest alone.
        for e in p.setid_entries().filter(|_| cfg.writes_rootfs()) {
            let what = match (e.is_setuid(), e.is_setgid()) {
                (true, true) => "set-user-ID and set-group-ID",
                (true, false) => "set-user-ID",
                _ => "set-group-ID",
            };
            say(format!("note: {} is {what} (mode {:04o}, kept)", e.path.display(), e.mode));
        }
        if exit == Exit::Missing && cfg.writes_rootfs() {
            if cfg.allow_missing {
                exit = Exit::Complete;
            } else {
                blocked = true;
                say("no rootfs written: a library the program needs is missing (--allow-missing writes it anyway)");
            }
        }
    }
    let plan = assembled.as_ref().map(|a| &a.rootfs);
    if let (Some(p), false) = (plan, cfg.dry_run || blocked) {
        // Before anything reads the files (the outputs, the JSON's manifest hashes).
        emit::check_file_sizes(p, cfg.max_file_size).map_err(|e| anyhow!("{e} (see --max-file-size)"))?;
    }

    report(cfg, &closures, plan, symbols.as_deref())?;
    if let Report::Why(q) = &cfg.report {
        // As grep: nothing found in any closure is a failure (the report says so per input).
        if !closures.is_empty() && !closures.iter().any(|c| emit::why_matches(c, q)) {
            say(format!("--why {}: in no closure", String::from_utf8_lossy(q)));
            exit = exit.max(Exit::Missing);
        }
    }
    if let Some(reports) = &symbols {
        if !matches!(cfg.report, Report::Format(Format::Json | Format::Tree)) {
            // As ldd -r prints them (on stderr, unprefixed), in large writes.
            let mut err = BufWriter::with_capacity(64 * 1024, io::stderr().lock());
            for (c, r) in closures.iter().zip(reports) {
                for line in r.ldd_lines(c) {
                    let _ = writeln!(err, "{line}");
                }
            }
            let _ = err.flush();
        }
    }
    if let (Some(a), Report::Format(Format::Tree)) = (&assembled, &cfg.report) {
        let mut out = BufWriter::new(io::stdout().lock());
        emit::write_runtime_text(&a.runtime, &mut out)?;
        out.flush()?;
    }

    if let (Some(a), true) = (&assembled, cfg.dry_run) {
        dry_run(a)?;
    } else if let (Some(plan), false) = (plan, blocked) {
        write_outputs(cfg, plan, &closures, dpkg.as_ref())?;
        if !cfg.quiet && cfg.writes_rootfs() {
            summary(cfg, plan, assembled.as_ref().map(|a| a.runtime.items.len()).unwrap_or(0));
        }
    }
    // The process ends next: freeing thousands of closures one by one would only cost time.
    std::mem::forget(closures);
    std::mem::forget(assembled);
    Ok(exit)
}

/// The root's dpkg database (when an output wants it) and the plan with the `status.d`
/// records of the packages it ships.
fn with_dpkg_records(cfg: &Config, plan: Rootfs) -> anyhow::Result<(Rootfs, Option<emit::DpkgDatabase>)> {
    let writes = cfg.tar.is_some() || cfg.dir.is_some() || cfg.manifest.is_some() || cfg.image.is_some();
    let records = cfg.dpkg_records && writes;
    if !records && cfg.sbom.is_none() {
        return Ok((plan, None));
    }
    let root = cfg.resolver.root_dir();
    let Some(db) = emit::DpkgDatabase::read_for(&plan)? else {
        if cfg.sbom.is_some() {
            say(format!("note: {}: no dpkg database (var/lib/dpkg/status): no package records", root.display()));
        }
        return Ok((plan, None));
    };
    if !records {
        return Ok((plan, Some(db)));
    }
    let extra = emit::dpkg_records(&plan, &db);
    match plan.clone().with_entries(extra) {
        Ok(with) => Ok((with, Some(db))),
        // The root's own files are in the way (an added /var that is a symlink, ...).
        Err(e) => {
            say(format!("warning: no dpkg records in the rootfs: {e}"));
            Ok((plan, Some(db)))
        }
    }
}

/// `--format runtime`: each input's runtime files (evidence per closure, nothing written).
fn write_runtime_report(cfg: &Config, closures: &[Closure], out: &mut dyn Write) -> anyhow::Result<()> {
    let rt = depclose::runtime::Runtime::new(&cfg.resolver, cfg.runtime.clone());
    let per_input: Vec<(Closure, depclose::runtime::RuntimeFiles)> = closures
        .par_iter()
        .map(|c| {
            let c = rt.expand(c.clone()).unwrap_or_else(|_| c.clone());
            let files = rt.files(&[&c]);
            (c, files)
        })
        .collect();
    for (c, files) in &per_input {
        writeln!(out, "{}:", c.input.display())?;
        for d in &c.dlopened {
            let to = d.to.and_then(|i| c.objects.get(i)).map(|o| o.file.location.realpath.display().to_string());
            writeln!(
                out,
                "    dlopen {} => {} ({})",
                d.request.name,
                to.as_deref().unwrap_or("not found"),
                d.request.reason
            )?;
        }
        emit::write_runtime_text(files, &mut *out)?;
    }
    Ok(())
}

/// `--dry-run`: every entry with its reasons, one per line.
fn dry_run(a: &emit::Assembled) -> anyhow::Result<()> {
    let stdout = io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    for e in a.rootfs.entries() {
        let kind = match e.kind {
            emit::EntryKind::File if e.data.is_some() => "made",
            emit::EntryKind::File => "file",
            emit::EntryKind::HardLink { .. } => "hardlink",
            emit::EntryKind::Symlink { .. } => "symlink",
            emit::EntryKind::Directory => "dir",
            _ => "other",
        };
        let why: Vec<String> = e.reasons.iter().map(reason_text).collect();
        writeln!(out, "{kind}\t{:04o}\t{}\t{}", e.mode, e.path.display(), why.join("; "))?;
    }
    out.flush()?;
    Ok(())
}

fn reason_text(r: &emit::Reason) -> String {
    match r {
        emit::Reason::Runtime { evidence } => evidence.to_string(),
        emit::Reason::Dlopen { by, name, evidence } => format!("dlopen({name}) by {}: {evidence}", by.display()),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
            .unwrap_or_default(),
    }
}

/// One line on stderr after writing: what was written and where (each output with its size
/// on disk), how many entries, how many bytes of file content, how many libraries, how many
/// misses (`--allow-missing`), how many runtime items.
fn summary(cfg: &Config, plan: &Rootfs, runtime_items: usize) {
    let sized = |what: &str, p: &Path| match std::fs::metadata(p) {
        Ok(m) if m.is_file() => format!("{what} {} ({})", p.display(), human_bytes(m.len())),
        _ => format!("{what} {}", p.display()),
    };
    let mut outs: Vec<String> = Vec::new();
    if let Some((p, _)) = &cfg.tar {
        outs.push(sized("rootfs", p));
    }
    if let Some(p) = &cfg.dir {
        outs.push(format!("rootfs {}/", p.display()));
    }
    if let Some(p) = &cfg.dockerfile {
        outs.push(format!("Dockerfile {}", p.display()));
    }
    if let Some(image) = &cfg.image {
        if let Some(p) = &image.archive {
            outs.push(sized("image", p));
        }
        if let Some(p) = &image.layout {
            outs.push(format!("image layout {}/", p.display()));
        }
    }
    let libs = plan
        .entries()
        .iter()
        .filter(|e| e.reasons.iter().any(|r| matches!(r, emit::Reason::Needed { .. } | emit::Reason::Dlopen { .. })))
        .count();
    say(format!(
        "wrote {}: {} entries, {} of files, {libs} libraries, {} missing, {runtime_items} runtime items",
        outs.join(" and "),
        plan.entries().len(),
        human_bytes(plan.content_bytes()),
        plan.missing().len(),
    ));
}

/// `1234 bytes`, `5.3 MiB`: exact below a KiB, one decimal above.
fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.1} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// The symbol checks of every closure (each library's tables read once), the notes they
/// call for on stderr, and the exit status they imply: 1 for a missing non-weak version or
/// a requirement above a `--require` policy.
fn check_symbols(cfg: &Config, closures: &[Closure]) -> (Vec<SymbolReport>, Exit) {
    let cache = SymbolCache::new();
    let reports = cache.check_all(closures, &cfg.resolver);
    // The process ends soon: unmapping and freeing every file's tables one by one costs more
    // than the checks of many closures, and the kernel reclaims them at exit anyway.
    std::mem::forget(cache);
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
        Report::Format(Format::Runtime) => write_runtime_report(cfg, closures, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

fn write_outputs(
    cfg: &Config,
    plan: &Rootfs,
    closures: &[Closure],
    dpkg: Option<&emit::DpkgDatabase>,
) -> anyhow::Result<()> {
    check_outputs(cfg, plan)?;
    // The image config is validated before anything is written.
    let image_opts = cfg.image.as_ref().map(|i| i.options(closures, cfg.mtime)).transpose()?;
    let _progress = progress_line(cfg, plan);
    // SIGINT, SIGTERM and SIGHUP now stop the writers (their temporary files are removed as
    // they unwind) and the run exits with 128 + the signal (see `cli_main`).
    emit::interrupt_on(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let ctx = |p: &Path| p.display().to_string();
    // Every output is written under a temporary name, then all are renamed together at
    // the end (or none): an error or a signal leaves no output behind.
    let mut outs = emit::Outputs::new();
    if let Some((path, compression)) = &cfg.tar {
        let mut f = AtomicFile::create(path)?;
        let mut opts = TarOptions::new();
        opts.mtime(cfg.mtime).compression(*compression);
        emit::write_tar(plan, &mut f, &opts).with_context(|| ctx(path))?;
        outs.file(f);
    }
    if let Some(path) = &cfg.manifest {
        let mut f = AtomicFile::create(path)?;
        emit::write_manifest(plan, &mut f).with_context(|| ctx(path))?;
        outs.file(f);
    }
    if let Some(path) = &cfg.sbom {
        let name = match cfg.image.as_ref().and_then(|i| i.tag.clone()) {
            Some(t) => t,
            None => {
                let entry = closures.first().map(|c| c.input_object().file.location.path.clone()).unwrap_or_default();
                default_tag(&entry)
            }
        };
        let mut f = AtomicFile::create(path)?;
        let mut opts = emit::SbomOptions::new();
        opts.name(name).created(cfg.mtime);
        emit::write_spdx(plan, dpkg, &mut f, &opts).with_context(|| ctx(path))?;
        outs.file(f);
    }
    if let Some(path) = &cfg.dockerfile {
        let (tar, _) = cfg.tar.as_ref().ok_or_else(|| anyhow!("--dockerfile needs --tar"))?;
        let entry = entry_in_image(cfg, closures);
        let (mut text, ignore) = dockerfile(path, tar, &entry, cfg.user.as_ref())?;
        for line in &cfg.docker_config {
            text.push_str(line);
            text.push('\n');
        }
        let mut f = AtomicFile::create(path)?;
        f.write_all(text.as_bytes()).with_context(|| ctx(path))?;
        outs.file(f);
        if let Some((ignore_path, body)) = ignore {
            let mut f = AtomicFile::create(&ignore_path)?;
            f.write_all(body.as_bytes()).with_context(|| ctx(&ignore_path))?;
            outs.file(f);
        }
    }
    if let Some(dir) = &cfg.dir {
        outs.dir(plan, dir, DirOptions::new().mtime(cfg.mtime))?;
    }
    if let (Some(image), Some(opts)) = (&cfg.image, &image_opts) {
        if let Some(path) = &image.archive {
            let mut f = AtomicFile::create(path)?;
            emit::write_oci_archive(plan, &mut f, opts).with_context(|| ctx(path))?;
            outs.file(f);
        }
        if let Some(dir) = &image.layout {
            // The layout writer renames its own directory: it is removed again if
            // anything after it fails.
            emit::write_oci_layout(plan, dir, opts).with_context(|| ctx(dir))?;
            outs.placed_dir(dir);
        }
    }
    outs.commit()?;
    Ok(())
}

/// Outputs that are each other, lie in a directory output or would replace an input: a
/// usage error before anything is written.
fn check_outputs(cfg: &Config, plan: &Rootfs) -> anyhow::Result<()> {
    let mut outs = Vec::new();
    if let Some((p, _)) = &cfg.tar {
        outs.push(emit::OutputPath::file("--tar", p));
    }
    if let Some(p) = &cfg.dir {
        outs.push(emit::OutputPath::dir("--dir", p));
    }
    for (label, p) in [("--manifest", &cfg.manifest), ("--sbom", &cfg.sbom), ("--dockerfile", &cfg.dockerfile)] {
        if let Some(p) = p {
            outs.push(emit::OutputPath::file(label, p));
        }
    }
    if let Some(image) = &cfg.image {
        if let Some(p) = &image.archive {
            outs.push(emit::OutputPath::file("--oci-archive", p));
        }
        if let Some(p) = &image.layout {
            outs.push(emit::OutputPath::dir("--oci-layout", p));
        }
    }
    let root = cfg.resolver.root_dir();
    let added: Vec<PathBuf> = cfg.add.iter().map(|a| root.join(a.strip_prefix("/").unwrap_or(a))).collect();
    let inputs: Vec<&Path> = cfg.files.iter().chain(&added).map(PathBuf::as_path).collect();
    Ok(emit::check_outputs(&outs, &inputs, Some(plan))?)
}

/// `--max-file-size`: bytes, or with a binary K, M, G or T suffix.
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix `{c}` (K, M, G or T)")),
            };
            (&s[..i], shift)
        }
        _ => (s, 0),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a size: `{s}`"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("too large: `{s}`"))
}

/// A progress line on stderr (bytes done / total, every half second) while outputs are
/// written, when stderr is a terminal and the plan holds more than 64 MiB; stopped (and its
/// line cleared) when the returned guard drops.
fn progress_line(cfg: &Config, plan: &Rootfs) -> Option<Progress> {
    // The outputs whose writers count the bytes they read (the SBOM's hashing does not).
    let readers = usize::from(cfg.tar.is_some())
        + usize::from(cfg.dir.is_some())
        + usize::from(cfg.manifest.is_some())
        + cfg.image.as_ref().map(|i| usize::from(i.archive.is_some()) + usize::from(i.layout.is_some())).unwrap_or(0);
    let total = plan.content_bytes().saturating_mul(readers as u64);
    if !io::stderr().is_terminal() || plan.content_bytes() <= 64 << 20 || total == 0 {
        return None;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let start = emit::progress_bytes();
    let thread = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let done = (emit::progress_bytes() - start).min(total);
            let _ = write!(io::stderr(), "\rdepclose-cli: writing: {} / {} MiB", done >> 20, total >> 20);
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let _ = write!(io::stderr(), "\r\x1b[K");
    });
    Some(Progress { stop, thread: Some(thread) })
}

struct Progress {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `--verify IMAGE`: the problems on stdout, one per line, and a summary line.
fn verify(image: &Path, o: &Opts) -> Exit {
    if let Some(n) = o.threads.filter(|n| *n > 0) {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let mut opts = emit::VerifyOptions::new(std::env::temp_dir());
    if let Some(m) = &o.manifest {
        opts.manifest(m);
    }
    match emit::verify_image(image, &opts) {
        Err(e) => {
            say(format!("verify: {e}"));
            Exit::Error
        }
        Ok(r) => {
            for n in &r.notes {
                say(format!("note: {n}"));
            }
            let stdout = io::stdout().lock();
            if let Err(e) = emit::write_verify_report(image, &r, BufWriter::new(stdout)) {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    say(format!("stdout: {e}"));
                    return Exit::Error;
                }
            }
            if r.is_sound() {
                Exit::Complete
            } else {
                Exit::Missing
            }
        }
    }
}

/// The image config flags as Dockerfile instructions (the same config as `--oci-*` writes;
/// strings JSON-quoted, which the Dockerfile syntax reads as its double-quoted strings).
fn docker_config(o: &Opts) -> Vec<String> {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut out = Vec::new();
    for e in &o.env {
        if let Some((k, v)) = e.split_once('=') {
            out.push(format!("ENV {k}={}", q(v)));
        }
    }
    for l in &o.label {
        if let Some((k, v)) = l.split_once('=') {
            out.push(format!("LABEL {}={}", q(k), q(v)));
        }
    }
    for p in &o.expose {
        out.push(format!("EXPOSE {}", if p.contains('/') { p.clone() } else { format!("{p}/tcp") }));
    }
    if let Some(w) = &o.workdir {
        out.push(format!("WORKDIR {w}"));
    }
    if !o.cmd.is_empty() {
        out.push(format!("CMD {}", serde_json::Value::from(o.cmd.clone())));
    }
    out
}

/// The first input's path in the image: the path it was given as (in the root, or made
/// absolute from the current directory), lexically normalised (`/home/u/./prog` is
/// `/home/u/prog`); resolved when it has a `..` (which a symlink could send elsewhere): on the
/// host for root `/`, else the input's canonical path in the root.
fn entry_in_image(cfg: &Config, closures: &[Closure]) -> PathBuf {
    use std::path::Component;
    let input = closures.first().map(|c| &c.input_object().file.location);
    let given = match &cfg.entry {
        Some(e) if !cfg.root_is_host || e.is_absolute() => e.clone(),
        _ => input.map(|l| l.path.clone()).unwrap_or_default(),
    };
    let normal =
        Path::new("/").join(given.components().filter(|c| !matches!(c, Component::CurDir)).collect::<PathBuf>());
    if !normal.components().any(|c| c == Component::ParentDir) {
        return normal;
    }
    if cfg.root_is_host {
        return std::fs::canonicalize(&normal).unwrap_or(normal);
    }
    // Not a script (whose entry is the script, not the closure's input).
    match input {
        Some(l) if cfg.entry.as_ref() == cfg.files.first() => l.realpath.clone(),
        _ => normal,
    }
}

/// `FROM scratch`, the tarball added at `/`, the first input as entry point; and, when the
/// Dockerfile's directory has no `.dockerignore`, one that sends only the tarball as the
/// build context (`docker build DIR` would otherwise send everything under DIR).
///
/// `ADD` names the tarball relative to the Dockerfile's directory, the build context of
/// `docker build DIR`; a tarball outside it cannot be named and is refused. Names are written
/// exactly or refused, never changed: a name that is not UTF-8 (a Dockerfile is UTF-8 text),
/// or one holding what `ADD` would expand (`$` variables, `*?[` globs, `\\` escapes) or a
/// control character, is an error; one with other characters is written in the JSON form.
/// `ENTRYPOINT` is always the JSON form (no variable expansion there), escaped by JSON's rules.
fn dockerfile(
    dockerfile: &Path,
    tar: &Path,
    entry: &Path,
    user: Option<&User>,
) -> anyhow::Result<(String, Option<(PathBuf, String)>)> {
    let dir_of = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let canon = |d: &Path| std::fs::canonicalize(d).with_context(|| format!("{}: directory", d.display()));
    let context = canon(&dir_of(dockerfile))?;
    let tar_name = tar.file_name().ok_or_else(|| anyhow!("{}: not a file name", tar.display()))?;
    let tar_abs = canon(&dir_of(tar))?.join(tar_name);
    let rel = tar_abs.strip_prefix(&context).map_err(|_| {
        anyhow!(
            "--dockerfile {}: the tarball {} is outside the Dockerfile's directory {}, the build context \
             `docker build` sends, so ADD cannot name it: write the Dockerfile beside the tarball or above it",
            dockerfile.display(),
            tar.display(),
            context.display()
        )
    })?;
    let rel = rel.to_str().ok_or_else(|| {
        anyhow!(
            "--dockerfile {}: the tarball's name {} is not UTF-8, and a Dockerfile (UTF-8 text) cannot name it",
            dockerfile.display(),
            rel.display()
        )
    })?;
    if let Some(c) = rel.chars().find(|c| c.is_control() || "$*?[\\".contains(*c)) {
        bail!(
            "--dockerfile {}: the tarball's name {rel:?} holds {c:?}, which ADD would expand or cannot \
             carry (variables, globs, escapes, control characters): rename the tarball",
            dockerfile.display()
        );
    }
    let plain = rel.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+/".contains(&b)) && !rel.starts_with('-');
    let add = if plain { format!("ADD {rel} /") } else { format!("ADD [{}, \"/\"]", serde_json::Value::from(rel)) };
    let entry_text = entry.to_str().ok_or_else(|| {
        anyhow!(
            "--dockerfile {}: the entry point {} is not UTF-8, and a Dockerfile (UTF-8 text) cannot name it",
            dockerfile.display(),
            entry.display()
        )
    })?;
    let entry = serde_json::Value::from(entry_text);
    let user = user.map(|u| format!("USER {}:{}\n", u.uid, u.gid)).unwrap_or_default();
    let text = format!("FROM scratch\n{add}\n{user}ENTRYPOINT [{entry}]\n");
    let ignore_path = dir_of(dockerfile).join(".dockerignore");
    // One written by an earlier run (for another tarball) is replaced; anyone else's is kept.
    let ours = std::fs::read(&ignore_path).is_ok_and(|b| b.starts_with(IGNORE_MARK.as_bytes()));
    let ignore = match std::fs::symlink_metadata(&ignore_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some((ignore_path, ignore_body(rel))),
        Ok(m) if ours && m.is_file() => Some((ignore_path, ignore_body(rel))),
        _ => None,
    };
    Ok((text, ignore))
}

/// The first line of a `.dockerignore` depclose-cli writes.
const IGNORE_MARK: &str = "# Written by depclose-cli beside its Dockerfile";

/// A `.dockerignore` that leaves only the tarball `rel` in the build context.
fn ignore_body(rel: &str) -> String {
    format!(
        "{IGNORE_MARK}: the build context is the rootfs tarball alone\n\
         # (docker build would otherwise send the whole directory, target/ included).\n*\n!{rel}\n"
    )
}
