//! What is printed and written: the reports on stdout, the symbol checks, the rootfs, image,
//! manifest, SBOM and Dockerfile outputs, and the summary line.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use depclose::emit::{self, AtomicFile, DirOptions, Rootfs, TarOptions};
use depclose::runtime::User;
use depclose::symcheck::{SymbolCache, SymbolReport};
use depclose::Closure;

use crate::options::{default_tag, Config, Format};
use crate::{say, Exit, Report};

/// The root's dpkg database (when an output wants it) and the plan with the `status.d`
/// records of the packages it ships.
pub(crate) fn with_dpkg_records(cfg: &Config, plan: Rootfs) -> anyhow::Result<(Rootfs, Option<emit::DpkgDatabase>)> {
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
    let per_input = rt.report_each(closures);
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
    // The process ends next: freeing every file's facts and closure one by one would take a
    // tenth of a corpus run, on one thread.
    std::mem::forget(per_input);
    std::mem::forget(rt);
    Ok(())
}

/// `--dry-run`: every entry with its reasons, one per line.
pub(crate) fn dry_run(a: &emit::Assembled) -> anyhow::Result<()> {
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
pub(crate) fn summary(cfg: &Config, plan: &Rootfs, runtime_items: usize) {
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
pub(crate) fn check_symbols(cfg: &Config, closures: &[Closure]) -> (Vec<SymbolReport>, Exit) {
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

pub(crate) fn report(
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

pub(crate) fn write_outputs(
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
pub(crate) fn dockerfile(
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
