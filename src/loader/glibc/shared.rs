//! What glibc closures of one resolver share: the parsed `ld.so.cache`, search outcomes,
//! closure templates, `glibc-hwcaps` listings and variants, `/etc/ld.so.preload` and the
//! `assume_ldconfig` directories. Opaque to the layers above: the resolver holds one and
//! passes it to [`run`](super::run).

use rustc_hash::FxHashMap as HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use crate::bytes::Bytes;
use crate::files::FileStore;
use crate::ld_cache::{LdCache, Lookup};
use crate::loader::Context;
use crate::model::{Location, Variant};
use crate::root::{join_bytes, Opened};
use crate::settings::CacheSource;

use super::{CachedSearch, SearchKey, Template};

/// The parsed `ld.so.cache` (once), `None` when absent or unusable.
type CacheCell = Arc<OnceLock<Option<LdCache>>>;
/// The sorted names in a directory.
type Listing = Arc<Vec<std::ffi::OsString>>;

/// What the `ld.so.cache` step gave for one name ([`GlibcShared::cache_step`]).
pub(crate) enum CacheStep {
    /// No usable cache (absent, unreadable, disabled): the step is not taken.
    NoCache,
    /// The cache (its in-root path) has no entry for the name.
    Miss(Vec<u8>),
    /// The path the cache gives.
    Hit(Vec<u8>),
}

/// The glibc loader's caches shared by every closure of a resolver.
#[derive(Default)]
pub(crate) struct GlibcShared {
    caches: RwLock<HashMap<bool, CacheCell>>,
    searches: RwLock<HashMap<SearchKey, Arc<CachedSearch>>>,
    ldconfig: OnceLock<Vec<Vec<u8>>>,
    preload: OnceLock<Option<Vec<u8>>>,
    variants: RwLock<HashMap<Vec<u8>, Vec<Variant>>>,
    templates: RwLock<HashMap<Box<[u8]>, Arc<Template>>>,
    hwcaps: RwLock<HashMap<Vec<u8>, Option<Listing>>>,
}

impl GlibcShared {
    /// The root's `/etc/ld.so.preload` (read once), `None` when it cannot be read.
    pub(crate) fn preload_file(&self, files: &FileStore) -> Option<&[u8]> {
        self.preload.get_or_init(|| files.root.read(b"/etc/ld.so.preload", 1 << 20).ok()).as_deref()
    }

    /// A closure pattern shared between inputs (see `glibc::template_key`), if one was stored.
    pub(crate) fn closure_template(&self, key: &[u8]) -> Option<Arc<Template>> {
        self.templates.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Share a closure pattern.
    pub(crate) fn store_closure_template(&self, key: Box<[u8]>, t: Template) {
        self.templates.write().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert_with(|| Arc::new(t));
    }

    /// A search outcome shared between closures, if one was stored.
    pub(crate) fn cached_search(&self, key: &[u8]) -> Option<Arc<CachedSearch>> {
        self.searches.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Share a search outcome.
    pub(crate) fn store_search(&self, key: SearchKey, value: CachedSearch) {
        self.searches.write().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::new(value));
    }

    /// The entries of a `glibc-hwcaps` directory (listed once per directory), `None` when
    /// there is none.
    fn hwcaps_subdirs(&self, files: &FileStore, hw: &[u8]) -> Option<Listing> {
        if let Some(hit) = self.hwcaps.read().unwrap_or_else(|e| e.into_inner()).get(hw) {
            return hit.clone();
        }
        let v = files.root.read_dir(hw).ok().map(Arc::new);
        self.hwcaps.write().unwrap_or_else(|e| e.into_inner()).insert(hw.to_vec(), v.clone());
        v
    }

    /// Other copies of a library for other CPU levels: `D/name` and `D/glibc-hwcaps/*/name`.
    pub(crate) fn variants(&self, files: &FileStore, loc: &Location) -> Vec<Variant> {
        if let Some(v) = self.variants.read().unwrap_or_else(|e| e.into_inner()).get(loc.path.as_os_str().as_bytes()) {
            return v.clone();
        }
        let p = loc.path.as_os_str().as_bytes();
        let Some(slash) = p.iter().rposition(|&b| b == b'/') else { return Vec::new() };
        let (dir, name) = (&p[..slash], &p[slash + 1..]);
        // D is the directory above glibc-hwcaps/<x> when the file came from there.
        let base: &[u8] = match dir.iter().rposition(|&b| b == b'/') {
            Some(s2) if dir[..s2].ends_with(b"/glibc-hwcaps") => &dir[..s2 - b"/glibc-hwcaps".len()],
            _ => dir,
        };
        let root = &files.root;
        let mut out = Vec::new();
        let mut cands: Vec<(Vec<u8>, Vec<u8>)> = vec![(Vec::new(), join_bytes(base, name))];
        let hw = join_bytes(base, b"glibc-hwcaps");
        if let Some(subs) = self.hwcaps_subdirs(files, &hw) {
            for s in subs.iter() {
                let mut sub = b"glibc-hwcaps/".to_vec();
                sub.extend_from_slice(s.as_bytes());
                cands.push((sub, join_bytes(&join_bytes(&hw, s.as_bytes()), name)));
            }
        }
        for (sub, cand) in cands {
            if cand == p {
                continue;
            }
            if let Ok(w) = root.walk(&cand, true) {
                if w.metadata.is_file() && w.realpath != loc.realpath {
                    out.push(Variant {
                        subdir: Bytes::from(sub),
                        location: Location {
                            path: PathBuf::from(OsStr::from_bytes(&cand)),
                            realpath: w.realpath,
                            hops: w.hops,
                        },
                    });
                }
            }
        }
        self.variants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(loc.path.as_os_str().as_bytes().to_vec(), out.clone());
        out
    }

    /// The parsed `ld.so.cache` for a byte order (read once), `None` when absent, unusable
    /// or disabled.
    fn ld_cache(&self, ctx: &Context<'_>, big_endian: bool) -> CacheCell {
        let (files, settings) = (ctx.files, ctx.settings);
        let hit = self.caches.read().unwrap_or_else(|e| e.into_inner()).get(&big_endian).cloned();
        let cell = match hit {
            Some(c) => c,
            None => {
                let mut map = self.caches.write().unwrap_or_else(|e| e.into_inner());
                map.entry(big_endian).or_insert_with(|| Arc::new(OnceLock::new())).clone()
            }
        };
        cell.get_or_init(|| {
            let path: &[u8] = match &settings.cache {
                CacheSource::Root => b"/etc/ld.so.cache",
                CacheSource::Path(p) => p.as_os_str().as_bytes(),
                CacheSource::None => return None,
            };
            // Mapped, not read: a lookup touches a few pages of it.
            match files.root.open(path).ok()? {
                Opened::File(w, f) if w.metadata.len() <= settings.limits.max_file_bytes.min(256 << 20) => {
                    // SAFETY: a read-only private map of a file depclose assumes is not being
                    // modified while it reads it (as the loader does); it is only read.
                    let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
                    LdCache::parse_mapped(map, big_endian).ok()
                }
                _ => None,
            }
        });
        cell
    }

    /// glibc's cache step, saying whether a cache was asked: the path it gives for `name`, or
    /// the in-root path of the cache that has no entry for it, or no usable cache at all.
    pub(crate) fn cache_step(&self, ctx: &Context<'_>, name: &[u8]) -> CacheStep {
        let target = ctx.target;
        let cell = self.ld_cache(ctx, target.abi.big_endian);
        let Some(Some(cache)) = cell.get() else { return CacheStep::NoCache };
        let q = Lookup { accepted_flags: target.cache_flags, hwcaps: &target.glibc_hwcaps, legacy: target.legacy };
        match cache.lookup(name, &q) {
            Some(e) => CacheStep::Hit(e.value.to_vec()),
            None => CacheStep::Miss(match &ctx.settings.cache {
                CacheSource::Path(p) => p.as_os_str().as_bytes().to_vec(),
                _ => b"/etc/ld.so.cache".to_vec(),
            }),
        }
    }

    /// With [`assume_ldconfig`](ResolverBuilder::assume_ldconfig) and no usable cache: the
    /// directories `ldconfig` would have put in it (`/etc/ld.so.conf` inside the root, then
    /// the system directories), each ending in `/`. `None` otherwise.
    pub(crate) fn ldconfig_dirs(&self, ctx: &Context<'_>) -> Option<Vec<Vec<u8>>> {
        let target = ctx.target;
        if !ctx.settings.assume_ldconfig || self.ld_cache(ctx, target.abi.big_endian).get().is_some_and(|c| c.is_some())
        {
            return None;
        }
        let cell = self.ldconfig.get_or_init(|| {
            crate::ld_so_conf::directories_with_system(&ctx.files.root, b"/etc/ld.so.conf", &target.system_dirs)
                .into_iter()
                .map(|d| {
                    // ld.so.conf lines come with their trailing `/` trimmed, system
                    // directories with one.
                    let mut v = d.to_vec();
                    crate::bytes::dir_with_slash(&mut v);
                    if v.is_empty() {
                        v.push(b'/');
                    }
                    v
                })
                .collect()
        });
        Some(cell.clone())
    }
}
