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

mod options;
mod output;
mod scan;

use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::anyhow;
use clap::Parser;

use depclose::emit::{self, AssembleOptions, TextOptions};

use options::{Config, Format, Opts};
use output::{check_symbols, dry_run, report, summary, with_dpkg_records, write_outputs};

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
/// per file; see docs/performance.md). std itself works as usual (I/O,
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
