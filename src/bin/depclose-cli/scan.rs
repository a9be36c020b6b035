//! The inputs: FILEs given under `--root`, `--scan` directories, `#!` scripts, and their
//! closures.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rayon::prelude::*;

use depclose::Closure;

use crate::options::Config;

impl Config {
    /// Closures of host paths (root /) or in-root paths, in input order: the library's batch
    /// calls, one for the inputs read in the root and one for those read from the host.
    pub(crate) fn closures(&self, files: &[PathBuf]) -> Vec<Result<Closure, depclose::Error>> {
        if self.root_is_host {
            return self.resolver.closures(files);
        }
        let mut in_root: Vec<&Path> = Vec::new();
        let mut outside: Vec<PathBuf> = Vec::new();
        let mut from_root = Vec::with_capacity(files.len());
        for f in files {
            let host = self.outside_root(f);
            from_root.push(host.is_none());
            match host {
                None => in_root.push(f),
                Some(host) => outside.push(host),
            }
        }
        let mut in_root = self.resolver.closures_in_root(&in_root).into_iter();
        let mut outside = self.resolver.closures(&outside).into_iter();
        from_root.into_iter().filter_map(|r| if r { in_root.next() } else { outside.next() }).collect()
    }

    /// Where the closure of `f` is read: a path inside the root (`None`); or, when the root
    /// has no such file but the host has it, that host file (its absolute path) read as an
    /// input from outside the root ("built here, run there": the program from the host, its
    /// libraries from the root).
    fn outside_root(&self, f: &Path) -> Option<PathBuf> {
        let in_root = f.is_absolute() || self.cwd_given;
        if in_root && std::fs::symlink_metadata(self.resolver.host_path(f)).is_ok() {
            return None;
        }
        if std::fs::metadata(f).is_ok_and(|m| m.is_file()) {
            // A relative host path is taken from the current directory.
            let abs = if f.is_absolute() {
                f.to_path_buf()
            } else {
                std::env::current_dir().map(|d| d.join(f.strip_prefix(".").unwrap_or(f))).unwrap_or_default()
            };
            return Some(abs);
        }
        None
    }
}

/// A FILE given with `--root`: an in-root path as it is; a host path that lies inside the
/// root (`--root R R/usr/bin/ls`, as a shell completes it) as the path inside the root it
/// names; a relative path the host does not have needs `--cwd` (the working directory in the
/// root) to mean anything.
pub(crate) fn in_root_file(root: &Path, canon_root: &Path, f: &Path, cwd_given: bool) -> anyhow::Result<PathBuf> {
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
pub(crate) fn scan(root: &Path, root_is_host: bool, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
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
            // Object files and core dumps are ELF but not loadable: a scan passes over them.
            let mut head = [0u8; depclose::elf::SNIFF_LEN];
            f.read_exact(&mut head).ok()?;
            let m = f.metadata().ok()?;
            depclose::elf::is_loadable(&head).then_some((m.dev(), m.ino(), p))
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
pub(crate) fn shebang(host: &Path) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
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
pub(crate) fn on_path(root: &Path, name: &OsStr) -> Option<PathBuf> {
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if root.join(p.strip_prefix("/").unwrap_or(&p)).is_file() {
            return Some(p);
        }
    }
    None
}
