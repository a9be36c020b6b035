//! `open_path` (elf/dl-load.c): each directory with its hwcaps subdirectories, the
//! per-directory existence memory and the `errno` rules, and `open_verify`'s candidate checks.

use super::*;

/// `r_search_path_elem.status` for one probe suffix.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DirStatus {
    Unknown,
    Existing,
    Nonexisting,
}

/// A candidate that passed `open_verify`. Shared between closures through the search cache.
pub(crate) struct Candidate {
    pub(super) realname: Bytes,
    pub(super) facts: Arc<FileFacts>,
    /// Canonical in-root path and symlink hops of `realname`.
    pub(super) realpath: PathBuf,
    pub(super) hops: Vec<crate::model::Hop>,
    /// The object record, made once the candidate has been accepted as a library.
    pub(super) file: OnceLock<Arc<ObjectFile>>,
}

pub(super) enum Probe {
    Found(Arc<Candidate>),
    Skip(Rejection),
    Open(Errno),
    Fatal(&'static str, Option<String>),
}

impl Loader<'_> {
    /// Remember that an errno other than ENOENT/EACCES was seen (the search is then not
    /// shared, see [`Loader::search`]).
    pub(super) fn note_errno(&mut self, e: Errno) {
        if e != libc::ENOENT && e != libc::EACCES {
            self.search.weird = true;
            self.search.ever_weird = true;
            self.search.restart |= self.search.used_cache;
        }
    }

    /// `open_path`: every directory, every probe suffix; the errno rules of 2.36.
    pub(super) fn open_path(
        &mut self,
        name: &[u8],
        dirs: &[Vec<u8>],
        via: FoundVia,
        stage: usize,
        log: &mut Vec<(usize, Attempt)>,
    ) -> Result<Option<Arc<Candidate>>, Fatal> {
        let nsub = self.target.subdirs.len();
        for dir in dirs {
            let relative = dir.first() != Some(&b'/');
            let init = if relative { DirStatus::Existing } else { DirStatus::Unknown };
            let mut status = self.search.status.get(dir).cloned().unwrap_or_else(|| vec![init; nsub]);
            let mut here_any = false;
            let mut found = None;
            // Indexing, not iterating: `probe` needs `self` mutably inside the loop.
            #[allow(clippy::needless_range_loop)]
            for cnt in 0..nsub {
                if status[cnt] == DirStatus::Nonexisting {
                    // Known not to exist: glibc skips the open. The attempt is still listed
                    // for the bare directory, so that what a miss reports does not depend on
                    // which searches ran before.
                    if self.target.subdirs[cnt].is_empty() {
                        let mut buf = dir.clone();
                        buf.extend_from_slice(name);
                        log.push((stage, attempt(&buf, via.clone(), Rejection::NotFound)));
                    }
                    continue;
                }
                let sub = self.target.subdirs[cnt].to_vec();
                let mut buf = dir.clone();
                buf.extend_from_slice(&sub);
                let dirlen = buf.len();
                buf.extend_from_slice(name);
                let probe = self.probe(&buf)?;
                let ok = matches!(probe, Probe::Found(_));
                match probe {
                    Probe::Found(c) => found = Some(c),
                    Probe::Skip(r) => {
                        self.search.errno = libc::ENOENT;
                        log.push((stage, attempt(&buf, via.clone(), r)));
                    }
                    Probe::Open(e) => {
                        self.search.errno = e;
                        self.note_errno(e);
                        if sub.is_empty() || e != libc::ENOENT {
                            log.push((stage, attempt(&buf, via.clone(), rejection_of(e))));
                        }
                    }
                    Probe::Fatal(msg, detail) => return Err(fatal(&buf, msg, detail)),
                }
                if status[cnt] == DirStatus::Unknown {
                    status[cnt] = if ok {
                        DirStatus::Existing
                    } else {
                        // "Let's test whether there is any directory at all."
                        let d = &buf[..dirlen];
                        let d = if d.len() > 1 && d.ends_with(b"/") { &d[..d.len() - 1] } else { d };
                        match self.stat_is_dir(d) {
                            Ok(true) => DirStatus::Existing,
                            Ok(false) => DirStatus::Nonexisting,
                            Err(e) => {
                                self.search.errno = e;
                                self.note_errno(e);
                                DirStatus::Nonexisting
                            }
                        }
                    };
                }
                here_any |= status[cnt] != DirStatus::Nonexisting;
                if ok {
                    break;
                }
            }
            self.search.status.insert(dir.clone(), status);
            if let Some(c) = found {
                return Ok(Some(c));
            }
            if here_any && self.search.errno != libc::ENOENT && self.search.errno != libc::EACCES {
                // "The file exists and is readable, but something went wrong."
                return Ok(None);
            }
        }
        Ok(None)
    }

    pub(super) fn stat_is_dir(&self, d: &[u8]) -> Result<bool, Errno> {
        let Some(abs) = self.absolute(if d.is_empty() { b"." } else { d }) else { return Err(libc::ENOENT) };
        self.ctx.files.root.is_dir(&abs)
    }

    /// `open_verify` on one path string (relative to the modelled cwd when not absolute).
    pub(super) fn probe(&mut self, path: &[u8]) -> Result<Probe, Fatal> {
        let Some(abs) = self.absolute(path) else {
            // Depends on a setting rather than on the files: keep it out of the shared cache,
            // and say it once.
            self.search.uncacheable = true;
            let msg = format!("{}: relative path and no working directory configured", Bytes::from(path));
            if !self.out.diagnostics.iter().any(|d| d.message == msg) {
                self.diag(None, msg);
            }
            return Ok(Probe::Open(libc::ENOENT));
        };
        let (facts, walked) = match self.ctx.files.open_facts(&abs) {
            Ok(f) => f,
            Err(OpenFailure::Errno(e)) => return Ok(Probe::Open(e)),
            Err(OpenFailure::Fatal(msg, detail)) => return Ok(Probe::Fatal(msg, detail)),
            Err(OpenFailure::TooLarge) => {
                return Ok(Probe::Fatal("file larger than depclose's configured limit", None))
            }
        };
        Ok(match elf::verify_candidate(&facts.head, facts.size, &self.target.abi) {
            Verdict::Accept => Probe::Found(Arc::new(Candidate {
                realname: Bytes::from(path),
                facts,
                realpath: walked.realpath,
                hops: walked.hops,
                file: OnceLock::new(),
            })),
            Verdict::Skip(SkipReason::Class) => Probe::Skip(Rejection::WrongClass),
            Verdict::Skip(SkipReason::Machine) => Probe::Skip(Rejection::WrongMachine),
            Verdict::Fatal(msg) => Probe::Fatal(msg, None),
        })
    }
}
