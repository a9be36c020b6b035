//! One search of `_dl_map_object` (the stages before the cache, the `ld.so.cache` step, the
//! default directories), and the sharing of its outcome between closures.

use super::*;

/// A search outcome that does not depend on the modelled process's `errno` history, shared
/// by every closure of a resolver (see [`Loader::search`]).
pub(crate) struct CachedSearch {
    /// The candidate and the index of the stage that found it (`usize::MAX - 1` for the
    /// cache, `usize::MAX` for the default directories).
    pub(super) found: Option<(Arc<Candidate>, usize)>,
    pub(super) tried: Vec<(usize, Attempt)>,
}

/// Key of a shared search: target, `DF_1_NODEFLIB`, name and every directory list searched,
/// length-prefixed into one byte string (see [`search_key`]).
pub(crate) type SearchKey = Box<[u8]>;

pub(super) const STAGE_CACHE: usize = usize::MAX - 1;
pub(super) const STAGE_DEFAULT: usize = usize::MAX;

/// Write the key of a shared search into `buf`: every part length-prefixed, so that two
/// different searches never give the same bytes.
pub(super) fn search_key(buf: &mut Vec<u8>, target: usize, name: &[u8], stages: &[Stage], nodeflib: bool) {
    fn part(buf: &mut Vec<u8>, b: &[u8]) {
        buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
        buf.extend_from_slice(b);
    }
    buf.clear();
    buf.extend_from_slice(&(target as u64).to_le_bytes());
    buf.push(u8::from(nodeflib));
    part(buf, name);
    buf.extend_from_slice(&(stages.len() as u64).to_le_bytes());
    for (_, dirs) in stages {
        buf.extend_from_slice(&(dirs.len() as u64).to_le_bytes());
        for d in dirs.iter() {
            part(buf, d);
        }
    }
}

impl Loader<'_> {
    /// The search for a name without a slash, then the cache and the default directories.
    ///
    /// The outcome is a function of the file system and the directory lists, except where
    /// an `open` fails with an errno other than ENOENT/EACCES (then glibc's per-directory
    /// status memory and `errno` decide whether the rest of a list is abandoned). Outcomes
    /// without such an errno are shared between closures through the resolver's cache.
    pub(super) fn search(
        &mut self,
        req: usize,
        name: &[u8],
        tried: &mut Vec<Attempt>,
    ) -> Result<Option<(Arc<Candidate>, FoundVia)>, Fatal> {
        let stages = self.stages(req);
        let nodeflib = self.ns.maps[req].info.flags_1() & elf::DF_1_NODEFLIB != 0;
        let via_of = |stage: usize, stages: &[Stage]| match stage {
            STAGE_CACHE => FoundVia::LdCache,
            STAGE_DEFAULT => FoundVia::DefaultDir,
            i => stages[i].0.clone(),
        };
        let clean_start = self.search.errno == libc::ENOENT || self.search.errno == libc::EACCES;
        let shareable = clean_start && self.search.use_cache && !self.search.ever_weird;
        if shareable {
            search_key(&mut self.key, self.target.id.0 as usize, name, &stages, nodeflib);
            if let Some(hit) = self.shared.cached_search(&self.key) {
                self.search.used_cache = true;
                // The attempts matter only for a miss (a found name reports none).
                if hit.found.is_none() {
                    tried.extend(hit.tried.iter().map(|(st, a)| Attempt { via: via_of(*st, &stages), ..a.clone() }));
                }
                return Ok(hit.found.as_ref().map(|(c, st)| (c.clone(), via_of(*st, &stages))));
            }
        }
        self.search.weird = false;
        self.search.uncacheable = false;
        let mut log: Vec<(usize, Attempt)> = Vec::new();
        let found = self.search_uncached(name, &stages, nodeflib, &mut log)?;
        if shareable && !self.search.weird && !self.search.uncacheable {
            let key: SearchKey = self.key.as_slice().into();
            self.shared.store_search(key, CachedSearch { found: found.clone(), tried: log.clone() });
        }
        tried.extend(log.into_iter().map(|(st, a)| Attempt { via: via_of(st, &stages), ..a }));
        Ok(found.map(|(c, st)| (c, via_of(st, &stages))))
    }

    pub(super) fn search_uncached(
        &mut self,
        name: &[u8],
        stages: &[Stage],
        nodeflib: bool,
        log: &mut Vec<(usize, Attempt)>,
    ) -> Result<Option<(Arc<Candidate>, usize)>, Fatal> {
        for (i, (via, dirs)) in stages.iter().enumerate() {
            if let Some(c) = self.open_path(name, dirs, via.clone(), i, log)? {
                return Ok(Some((c, i)));
            }
        }
        let cached = match self.shared.cache_step(&self.ctx, name) {
            CacheStep::Hit(p) => Some(p),
            CacheStep::Miss(cache) => {
                // The lookup is a step of the search too (the loader's `_dl_load_cache_lookup`):
                // a miss names the cache it asked.
                log.push((STAGE_CACHE, attempt(&cache, FoundVia::LdCache, Rejection::NotInCache)));
                None
            }
            CacheStep::NoCache => None,
        };
        if let Some(cached) = cached {
            let rejected = nodeflib && self.target.system_dirs.iter().any(|d| cached.starts_with(d.as_bytes()));
            if rejected {
                log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, Rejection::NoDefaultLib)));
            } else {
                match self.probe(&cached)? {
                    Probe::Found(c) => return Ok(Some((c, STAGE_CACHE))),
                    Probe::Skip(r) => log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, r))),
                    Probe::Open(e) => {
                        self.note_errno(e);
                        log.push((STAGE_CACHE, attempt(&cached, FoundVia::LdCache, rejection_of(e))));
                    }
                    Probe::Fatal(msg, detail) => return Err(fatal(&cached, msg, detail)),
                }
            }
        }
        // assume_ldconfig: search the directories ldconfig would have cached (an emulation:
        // by file name rather than by DT_SONAME).
        if let Some(dirs) = self.shared.ldconfig_dirs(&self.ctx) {
            let dirs: Vec<Vec<u8>> = if nodeflib {
                dirs.into_iter()
                    .filter(|d| !self.target.system_dirs.iter().any(|s| d.starts_with(s.as_bytes())))
                    .collect()
            } else {
                dirs
            };
            if let Some(c) = self.open_path(name, &dirs, FoundVia::LdCache, STAGE_CACHE, log)? {
                return Ok(Some((c, STAGE_CACHE)));
            }
        }
        if !nodeflib {
            let dirs: Vec<Vec<u8>> = self.target.default_dirs.iter().map(|d| d.to_vec()).collect();
            if let Some(c) = self.open_path(name, &dirs, FoundVia::DefaultDir, STAGE_DEFAULT, log)? {
                return Ok(Some((c, STAGE_DEFAULT)));
            }
        }
        Ok(None)
    }
}
