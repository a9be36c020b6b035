//! Command-line options: clap's [`Opts`] as parsed, validated into a [`Config`].

use std::ffi::{OsStr, OsString};
use std::io::{self, IsTerminal};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};

use depclose::emit::{self, Compression, TextOptions};
use depclose::runtime::{DlopenLevel, Pack, RuntimeOptions, User};
use depclose::symcheck::VersionPolicy;
use depclose::{Closure, Hwcaps, Resolver};

use crate::scan::{in_root_file, on_path, scan, shebang};
use crate::{say, Report};

/// Output format on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
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
pub(crate) struct Opts {
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
    pub(crate) threads: Option<usize>,

    /// Write the rootfs as a tarball (.tar, .tar.gz or .tgz), reproducibly.
    #[arg(long, value_name = "FILE")]
    tar: Option<PathBuf>,

    /// Write the rootfs as a directory (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Write the rootfs manifest (JSON: path, kind, mode, size, sha256, target, reasons).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,

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
    pub(crate) verify: Option<PathBuf>,

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

/// Validated settings.
pub(crate) struct Config {
    pub(crate) resolver: Resolver,
    pub(crate) root_is_host: bool,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) report: Report,
    pub(crate) text: TextOptions,
    pub(crate) tar: Option<(PathBuf, Compression)>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) max_file_size: u64,
    pub(crate) manifest: Option<PathBuf>,
    pub(crate) dockerfile: Option<PathBuf>,
    pub(crate) add: Vec<PathBuf>,
    pub(crate) variants: bool,
    pub(crate) mtime: u64,
    pub(crate) check_symbols: bool,
    pub(crate) require: Vec<VersionPolicy>,
    pub(crate) runtime: RuntimeOptions,
    pub(crate) allow_missing: bool,
    pub(crate) dry_run: bool,
    pub(crate) quiet: bool,
    /// The first FILE's path in the image (a script's own path, not its interpreter's).
    pub(crate) entry: Option<PathBuf>,
    pub(crate) user: Option<User>,
    pub(crate) image: Option<ImageArgs>,
    pub(crate) sbom: Option<PathBuf>,
    pub(crate) dpkg_records: bool,
    /// Dockerfile instructions for the image config flags, after ENTRYPOINT.
    pub(crate) docker_config: Vec<String>,
    /// `--cwd` was given: relative FILEs are in the root.
    pub(crate) cwd_given: bool,
}

/// The image outputs and config flags.
pub(crate) struct ImageArgs {
    /// The first FILE's path in the image, when known before the closures.
    pub(crate) entry: Option<PathBuf>,
    pub(crate) layout: Option<PathBuf>,
    pub(crate) archive: Option<PathBuf>,
    pub(crate) tag: Option<String>,
    pub(crate) cmd: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) workdir: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) expose: Vec<String>,
    pub(crate) layer_compression: Option<Compression>,
}

impl ImageArgs {
    pub(crate) fn new(o: &Opts) -> anyhow::Result<Option<ImageArgs>> {
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
    pub(crate) fn options(&self, closures: &[Closure], mtime: u64) -> anyhow::Result<emit::ImageOptions> {
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
        let mut o = emit::ImageOptions::new(platform);
        o.tag(tag).entrypoint([entry]).cmd(self.cmd.iter().cloned()).created(mtime);
        for e in &self.env {
            o.env(e.clone());
        }
        for (k, v) in &self.labels {
            o.label(k.clone(), v.clone());
        }
        for p in &self.expose {
            o.expose(p.clone());
        }
        if let Some(w) = &self.workdir {
            o.workdir(w.clone());
        }
        if let Some(u) = &self.user {
            o.user(u.clone());
        }
        if let Some(c) = self.layer_compression {
            o.layer_compression(c);
        }
        o.reference()?;
        Ok(o)
    }
}

/// The entry point's file name, lower-cased, characters a reference cannot hold replaced.
pub(crate) fn default_tag(entry: &Path) -> String {
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
    pub(crate) fn new(o: Opts) -> anyhow::Result<Config> {
        let root = o.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        let root_is_host = std::fs::canonicalize(&root).map(|r| r == Path::new("/")).unwrap_or(false);
        let mut b = Resolver::builder();
        b.root(&root);
        let llp = match &o.ld_library_path {
            Some(v) => Some(v.clone()),
            None if root_is_host => std::env::var_os("LD_LIBRARY_PATH"),
            None => None,
        };
        b.ld_library_path(llp.as_deref().filter(|v| !v.is_empty()));
        let cwd = match &o.cwd {
            Some(c) => Some(c.clone()),
            None if root_is_host => std::env::current_dir().ok(),
            None => None,
        };
        b.cwd(cwd.as_deref());
        b.platform(o.platform.as_deref());
        if let Some(h) = &o.hwcaps {
            b.hwcaps(parse_hwcaps(h)?);
        }
        if let Some(n) = o.threads {
            b.threads(n);
            // Hashing, the --scan sniff and the runtime report use rayon's global pool; only the first call
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
    pub(crate) fn writes_rootfs(&self) -> bool {
        self.tar.is_some() || self.dir.is_some() || self.image.is_some()
    }

    pub(crate) fn needs_plan(&self) -> bool {
        self.dry_run
            || self.tar.is_some()
            || self.image.is_some()
            || self.sbom.is_some()
            || self.dir.is_some()
            || self.manifest.is_some()
            || matches!(self.report, Report::Format(Format::Json))
    }
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

/// The image config flags as Dockerfile instructions (the same config as `--oci-*` writes;
/// strings JSON-quoted, which the Dockerfile syntax reads as its double-quoted strings).
pub(crate) fn docker_config(o: &Opts) -> Vec<String> {
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
