//! From closures to a rootfs that works: runtime files from evidence, the closures of every
//! ELF file that comes with them, until nothing new comes.

use std::path::PathBuf;

use rayon::prelude::*;
use rustc_hash::FxHashSet as HashSet;

use crate::error::Error;
use crate::model::Closure;
use crate::resolver::Resolver;
use crate::runtime::{ItemKind, Runtime, RuntimeFiles, RuntimeOptions};

use super::plan::Rootfs;

/// How [`assemble`] builds a rootfs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AssembleOptions {
    /// Runtime packs ([`RuntimeOptions::none`] for the bare ELF closure).
    pub runtime: RuntimeOptions,
    /// In-root paths to add ([`RootfsBuilder::add`](super::RootfsBuilder::add)).
    pub adds: Vec<PathBuf>,
    /// Ship the glibc-hwcaps variants of each library.
    pub variants: bool,
}

impl Default for AssembleOptions {
    fn default() -> Self {
        AssembleOptions { runtime: RuntimeOptions::new(), adds: Vec::new(), variants: true }
    }
}

impl AssembleOptions {
    /// The given runtime options, no added path, variants shipped.
    pub fn new(runtime: RuntimeOptions) -> AssembleOptions {
        AssembleOptions { runtime, ..AssembleOptions::default() }
    }

    /// In-root paths to add.
    pub fn adds(&mut self, adds: Vec<PathBuf>) -> &mut Self {
        self.adds = adds;
        self
    }

    /// Whether the glibc-hwcaps variants of each library are shipped.
    pub fn variants(&mut self, yes: bool) -> &mut Self {
        self.variants = yes;
        self
    }
}

/// An ELF file that came with the rootfs (added, or a runtime file) and could not be closed
/// over: it is shipped as data.
#[derive(Debug)]
#[non_exhaustive]
pub struct NotClosed {
    /// Its in-root path.
    pub path: PathBuf,
    /// Why.
    pub error: Error,
}

/// What [`assemble`] made.
#[derive(Debug)]
#[non_exhaustive]
pub struct Assembled {
    /// The inputs' closures, with what they would `dlopen` ([`Runtime::expand`]).
    pub closures: Vec<Closure>,
    /// Closures of the ELF files of added paths and runtime files, each expanded.
    pub added: Vec<Closure>,
    /// For each of [`added`](Self::added): true when it is an ELF file of the user's added
    /// paths ([`AssembleOptions::adds`]), false when runtime evidence brought it.
    pub user_added: Vec<bool>,
    /// The runtime files, with their evidence.
    pub runtime: RuntimeFiles,
    /// ELF files that came with the rootfs and have no closure (shipped as data).
    pub not_closed: Vec<NotClosed>,
    /// The rootfs plan.
    pub rootfs: Rootfs,
}

/// Build the rootfs plan of `closures` (computed by `resolver`): their runtime files, the
/// added paths, and the closure of every ELF file these bring (gconv modules, plugins, a
/// shell), with the runtime files of those closures in turn, until nothing new comes.
///
/// # Errors
/// A file of the plan changed or vanished while it was read, or an added path is invalid
/// (see [`RootfsBuilder::build`](super::RootfsBuilder::build)).
pub fn assemble(resolver: &Resolver, closures: Vec<Closure>, opts: &AssembleOptions) -> Result<Assembled, Error> {
    let rt = Runtime::new(resolver, opts.runtime.clone());
    let closures: Vec<Closure> = closures.into_par_iter().map(|c| rt.expand(c.clone()).unwrap_or(c)).collect();
    let mut added: Vec<Closure> = Vec::new();
    let mut tried: HashSet<PathBuf> = HashSet::default();
    let mut not_closed = Vec::new();
    let mut user_added = Vec::new();
    // The ELF files among the user's added paths, then, round by round, those that the
    // runtime files of the closures so far bring (each tree is looked at once); the whole
    // plan is built at the end.
    let user_elf: HashSet<PathBuf> =
        build(resolver, &[], &[], &RuntimeFiles::default(), opts)?.added_elf_files().iter().cloned().collect();
    let mut new_elf: Vec<PathBuf> = user_elf.iter().cloned().collect();
    new_elf.sort();
    let mut looked_at: HashSet<PathBuf> = HashSet::default();
    for _round in 0..8 {
        new_elf.retain(|p| tried.insert(p.clone()));
        let results: Vec<(PathBuf, Result<Closure, Error>)> = new_elf
            .par_iter()
            .map(|p| {
                let c = resolver.closure_in_root(p);
                let c = if user_elf.contains(p) {
                    c.and_then(|c| rt.expand(c))
                } else {
                    c.and_then(|c| rt.expand_brought(c))
                };
                (p.clone(), c)
            })
            .collect();
        for (p, r) in results {
            match r {
                Ok(c) => {
                    user_added.push(user_elf.contains(&p));
                    added.push(c);
                }
                Err(error) => not_closed.push(NotClosed { path: p, error }),
            }
        }
        let runtime = files_of(&rt, &closures, &added, &user_added);
        let fresh = RuntimeFiles {
            items: runtime
                .items
                .iter()
                // Only items that may hold ELF files are looked at for closures.
                .filter(|it| {
                    matches!(it.kind, ItemKind::Path | ItemKind::Program)
                        && !it.evidence.iter().all(|e| e.pack.ships_only_data())
                        && looked_at.insert(it.path.clone())
                })
                .cloned()
                .collect(),
            ..RuntimeFiles::default()
        };
        new_elf = if fresh.items.is_empty() {
            Vec::new()
        } else {
            let mut b = Rootfs::builder();
            b.root(resolver.root().host_dir()).runtime(&fresh);
            b.build()?.added_elf_files().iter().filter(|p| !tried.contains(*p)).cloned().collect()
        };
        if new_elf.is_empty() {
            let rootfs = build(resolver, &closures, &added, &runtime, opts)?;
            return Ok(Assembled { closures, added, user_added, runtime, not_closed, rootfs });
        }
    }
    let runtime = files_of(&rt, &closures, &added, &user_added);
    let rootfs = build(resolver, &closures, &added, &runtime, opts)?;
    Ok(Assembled { closures, added, user_added, runtime, not_closed, rootfs })
}

/// The runtime files of the inputs' closures, the user's added ELF files and those that
/// runtime evidence brought ([`Runtime::files_of`]).
fn files_of(rt: &Runtime<'_>, closures: &[Closure], added: &[Closure], user_added: &[bool]) -> RuntimeFiles {
    let mut primary: Vec<&Closure> = closures.iter().collect();
    let mut brought: Vec<&Closure> = Vec::new();
    for (c, &user) in added.iter().zip(user_added) {
        if user {
            primary.push(c);
        } else {
            brought.push(c);
        }
    }
    rt.files_of(&primary, &brought)
}

/// The runtime files as text, for `--format tree`: a heading, then one line per item with
/// its kind and every piece of evidence, then the hints.
///
/// # Errors
/// Writing to `out` fails.
pub fn write_runtime_text<W: std::io::Write>(files: &RuntimeFiles, mut out: W) -> std::io::Result<()> {
    if files.items.is_empty() && files.hints.is_empty() {
        return Ok(());
    }
    writeln!(out, "runtime files (not named by any DT_NEEDED; found from evidence):")?;
    for it in &files.items {
        let kind = match &it.kind {
            ItemKind::Path => "path",
            ItemKind::Program => "program",
            ItemKind::Generated { .. } => "made",
            ItemKind::Directory { .. } => "dir",
        };
        writeln!(out, "    {} [{kind}]", it.path.display())?;
        for e in &it.evidence {
            writeln!(out, "        {e}")?;
        }
    }
    for h in &files.hints {
        writeln!(out, "    hint: {}: {}", h.pack, h.message)?;
    }
    Ok(())
}

fn build(
    resolver: &Resolver,
    closures: &[Closure],
    added: &[Closure],
    runtime: &RuntimeFiles,
    opts: &AssembleOptions,
) -> Result<Rootfs, Error> {
    let mut b = Rootfs::builder();
    b.root(resolver.root().host_dir()).variants(opts.variants);
    for c in closures {
        b.closure(c);
    }
    for c in added {
        b.added_closure(c);
    }
    for a in &opts.adds {
        b.add(a);
    }
    b.runtime(runtime);
    b.build()
}
