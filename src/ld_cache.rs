//! `ld.so.cache` reader: bytes in, facts out, with glibc 2.36 semantics.
//!
//! Three layouts exist (`sysdeps/generic/dl-cache.h`, written by `elf/cache.c save_cache`):
//!
//! - **old** (`ld.so-1.7.0`): 12-byte entries, string offsets relative to the string table
//!   that follows the entries;
//! - **new** (`glibc-ld.so.cache1.1`, the default since 2.32): 24-byte entries with a
//!   `hwcap` word, string offsets relative to the new header, and an extension directory
//!   (generator string, glibc-hwcaps subdirectory names);
//! - **compat**: an old table followed by a new header at `ALIGN(16 + 12·nlibs, 8)`. The
//!   loader then uses the new section only.
//!
//! [`LdCache::lookup`] reproduces `search_cache` (`elf/dl-cache.c`) step by step, including
//! its quirks:
//!
//! - the glibc-hwcaps names are read at offsets from the *file* start (as ld.so and
//!   `ldconfig -p` do) although ldconfig writes them relative to the new header: in a compat
//!   file the names come out wrong and the loader never selects a glibc-hwcaps entry;
//! - in an old-format file every equal-named entry with accepted flags is a candidate and the
//!   last one wins, unless one carries the loader's default flags (`_DL_CACHE_DEFAULT_ID`),
//!   which stops the walk.
//!
//! Where glibc would read past the end of the file (offsets that pass its checks but point
//! beyond the data), this reader treats the offset as invalid. A string that runs to the
//! end of the file without a NUL ends there (the zero fill of the loader's mapping).
//!
//! ```
//! use depclose::ld_cache::{accepted_flags, LdCache, Lookup};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! if let Ok(data) = std::fs::read("/etc/ld.so.cache") {
//!     let cache = LdCache::parse(&data, cfg!(target_endian = "big"))?;
//!     let q = Lookup::new(accepted_flags(62, true, 0), &[], None);
//!     if let Some(e) = cache.lookup(b"libc.so.6", &q) {
//!         println!("{}", e.value);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::bytes::Bytes;

/// Magic of the old format (no NUL, 11 bytes).
pub const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
/// Magic and version of the new format (20 bytes).
pub const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
/// Magic of the extension directory (`cache_extension_magic`, `(uint32_t) -358342284`).
pub const EXTENSION_MAGIC: u32 = 0xEAA4_2174;
/// The `hwcap` bit that marks a glibc-hwcaps entry (`DL_CACHE_HWCAP_EXTENSION`).
pub const HWCAP_EXTENSION: u64 = 1 << 62;
/// The legacy `tls` hwcap bit (always acceptable to glibc 2.36).
pub const HWCAP_TLS: u64 = 1 << 63;

/// `flags` low byte: ELF library for glibc 2 (`FLAG_ELF_LIBC6`).
pub const FLAG_ELF_LIBC6: i32 = 0x0003;
/// `flags` mask of the type byte (`FLAG_TYPE_MASK`).
pub const FLAG_TYPE_MASK: i32 = 0x00ff;
/// `flags` mask of the architecture byte (`FLAG_REQUIRED_MASK`).
pub const FLAG_REQUIRED_MASK: i32 = 0xff00;

const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;
/// `__alignof__ (struct cache_file_new)` on LP64 targets.
const NEW_ALIGN: usize = 8;
/// Bits 32-41 of an extension entry's `hwcap`: the x86 ISA level.
const ISA_LEVEL_MASK: u64 = 0x3ff;
/// Bits that may hold a legacy platform (`_DL_FIRST_PLATFORM` is 48 everywhere; bit 62 is
/// the extension marker and 63 is `tls`).
const PLATFORM_BITS: u64 = ((1 << 14) - 1) << 48;
/// Entries may copy at most this many string bytes per input byte (plus a constant), so
/// that hostile files whose entries all point at one long string cannot blow up memory.
const COPY_FACTOR: usize = 16;
const COPY_SLACK: usize = 64 * 1024;

/// Why bytes are not a usable cache. Cheap and allocation-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheError(&'static str);

impl CacheError {
    /// The reason, in words.
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for CacheError {}

/// Which layout the file had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `ld.so-1.7.0` only.
    Old,
    /// `glibc-ld.so.cache1.1` only.
    New,
    /// An old table with a new section after it (the new section is used).
    Compat,
}

/// One cache entry, as ld.so sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Library type and architecture (`FLAG_*`, e.g. `0x0303` for x86-64 libc6).
    pub flags: i32,
    /// The name looked up (a SONAME, usually).
    pub key: Bytes,
    /// The path the loader opens.
    pub value: Bytes,
    /// Legacy hwcap mask, or an extension value (see [`Entry::is_hwcaps_extension`]). Always
    /// 0 in the old format.
    pub hwcap: u64,
    /// glibc-hwcaps subdir name for extension entries (e.g. "x86-64-v3"), read the way
    /// ld.so reads it; `None` when the entry is not an extension entry or its index or
    /// name offset is invalid (then ld.so never selects it).
    pub hwcaps_subdir: Option<Bytes>,
}

impl Entry {
    /// True for a glibc-hwcaps entry: `((hwcap >> 32) & !0x3ff) == (1 << 30)`.
    pub fn is_hwcaps_extension(&self) -> bool {
        is_extension(self.hwcap)
    }

    /// The x86 ISA level recorded in an extension entry (bits 32-41), 0 otherwise.
    pub fn isa_level(&self) -> u32 {
        if self.is_hwcaps_extension() {
            ((self.hwcap >> 32) & ISA_LEVEL_MASK) as u32
        } else {
            0
        }
    }
}

/// The legacy (pre-2.37) hwcap state of the target loader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyHwcaps {
    /// enabled hwcap bits (`GLRO(dl_hwcap) & hwcap_mask`), incl. the tls bit 63 if TLS
    /// (glibc 2.36 accepts bit 63 in any case).
    pub mask: u64,
    /// the platform's bit (bits 48+), if the platform is known to the cache's scheme;
    /// `None` when `AT_PLATFORM` is not one of the architecture's platforms (then every
    /// entry with a platform bit is skipped, as glibc does with its `-1` platform).
    pub platform: Option<u64>,
}

impl LegacyHwcaps {
    /// The legacy state from its [`mask`](Self::mask) and [`platform`](Self::platform).
    pub fn new(mask: u64, platform: Option<u64>) -> LegacyHwcaps {
        LegacyHwcaps { mask, platform }
    }
}

/// What the loader doing the lookup accepts.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Lookup<'a> {
    /// flags values this loader accepts (see [`accepted_flags`]). The last element is the
    /// loader's `_DL_CACHE_DEFAULT_ID` (it matters for old-format files only).
    pub accepted_flags: &'a [i32],
    /// active glibc-hwcaps subdirectory names, most preferred first (e.g.
    /// ["x86-64-v3","x86-64-v2"]); empty = none. An extension entry with a nonzero ISA level
    /// `L` is usable only if `x86-64-v{L+1}` is in this list (the CPU-support proxy).
    pub hwcaps: &'a [Bytes],
    /// 2.36 legacy hwcap filtering: None = glibc >= 2.37 (legacy entries skipped: require
    /// hwcap == 0)
    pub legacy: Option<LegacyHwcaps>,
}

impl<'a> Lookup<'a> {
    /// A lookup by a loader that accepts `accepted_flags`, with the glibc-hwcaps
    /// subdirectories `hwcaps` and, for glibc 2.36 and older, the `legacy` hwcap state (see
    /// the fields).
    pub fn new(accepted_flags: &'a [i32], hwcaps: &'a [Bytes], legacy: Option<LegacyHwcaps>) -> Lookup<'a> {
        Lookup { accepted_flags, hwcaps, legacy }
    }
}

/// Per-entry facts the search needs, for every entry of the table (valid or not). Strings
/// stay in the file's bytes and are measured when used.
#[derive(Clone, Debug)]
struct Raw {
    flags: i32,
    /// Start of the key in `data`, `None` if its offset is invalid.
    key: Option<usize>,
    /// Start of the value in `data`, `None` if its offset is invalid.
    value: Option<usize>,
    hwcap: u64,
}

/// The cache file's bytes: a copy, or a read-only map of the file (then only the pages a
/// lookup visits are ever read).
#[derive(Clone, Debug)]
enum Data {
    Owned(Box<[u8]>),
    Mapped(std::sync::Arc<memmap2::Mmap>),
}

impl std::ops::Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Data::Owned(b) => b,
            Data::Mapped(m) => m,
        }
    }
}

/// Where the entry table lies, so that entries are read from the file's bytes when used.
#[derive(Clone, Copy, Debug)]
struct Table {
    /// Offset of the first entry.
    first: usize,
    /// Entry size (12 old, 24 new).
    size: usize,
    /// Number of entries (checked against the file's size).
    count: usize,
    /// Offset string offsets are relative to.
    strings: usize,
    /// New-format entries (with a hwcap field).
    new: bool,
    big_endian: bool,
}

/// A parsed `ld.so.cache`. Owns its data; `Send + Sync`.
///
/// Parsing only reads the entry table; a lookup reads the few keys its binary search
/// visits, as ld.so does. The owned [`Entry`] list is made on first use of
/// [`LdCache::entries`].
#[derive(Clone, Debug)]
pub struct LdCache {
    format: Format,
    data: Data,
    table: Table,
    entries: std::sync::OnceLock<Vec<Entry>>,
    generator: Option<(usize, usize)>,
    /// The glibc-hwcaps array: each element's name range (file-relative), `None` when the
    /// offset is past the end of the file.
    hwcaps_names: Vec<Option<(usize, usize)>>,
}

fn is_extension(hwcap: u64) -> bool {
    ((hwcap >> 32) & !ISA_LEVEL_MASK) == (HWCAP_EXTENSION >> 32)
}

struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn u32(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    fn u64(&self, off: usize) -> Option<u64> {
        let b: [u8; 8] = self.data.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
    }
}

/// The range of the NUL-terminated string at `base + off` (ending at the end of the data
/// if there is no NUL), or `None` when `off` is not inside the data after `base`.
fn string_at(data: &[u8], base: usize, off: u32) -> Option<(usize, usize)> {
    let start = string_start(data, base, off)?;
    Some((start, string_end(data, start)))
}

/// Where the string at `base + off` starts, `None` when that is not inside the data.
fn string_start(data: &[u8], base: usize, off: u32) -> Option<usize> {
    let start = base.checked_add(off as usize)?;
    (start < data.len()).then_some(start)
}

/// The end of the NUL-terminated string starting at `start` (the end of the data if there
/// is no NUL).
fn string_end(data: &[u8], start: usize) -> usize {
    let tail = &data[start..];
    start + crate::bytes::find_byte(tail, 0).unwrap_or(tail.len())
}

/// `cache_file_new_matches_endian`.
fn endian_ok(flags: u8, big_endian: bool) -> bool {
    let current = if big_endian { 3 } else { 2 };
    flags == 0 || (flags & 3) == current
}

fn align_up(v: usize, a: usize) -> Option<usize> {
    Some(v.checked_add(a - 1)? & !(a - 1))
}

/// Counts string bytes copied into entries against the input-size bound.
struct Budget(usize);

impl Budget {
    fn take(&mut self, n: usize) -> Result<(), CacheError> {
        self.0 = self.0.checked_sub(n).ok_or(CacheError("cache strings exceed the size bound"))?;
        Ok(())
    }
}

impl LdCache {
    /// Parse either format; `big_endian` = target byte order (the old format has no marker;
    /// the new one is rejected if its endianness flag is set and disagrees).
    ///
    /// # Errors
    /// The data is not a cache ld.so would use: bad magic, too short, an entry count the
    /// size cannot hold, the wrong endianness; or a compat file whose new section is
    /// truncated (glibc would read past the end).
    pub fn parse(data: &[u8], big_endian: bool) -> Result<LdCache, CacheError> {
        let mut c = Self::parse_table(data, big_endian)?;
        c.data = Data::Owned(data.into());
        Ok(c)
    }

    /// [`LdCache::parse`] over a read-only map of the cache file, kept (not copied).
    ///
    /// # Errors
    /// As [`LdCache::parse`].
    pub(crate) fn parse_mapped(map: memmap2::Mmap, big_endian: bool) -> Result<LdCache, CacheError> {
        let mut c = Self::parse_table(&map, big_endian)?;
        c.data = Data::Mapped(std::sync::Arc::new(map));
        Ok(c)
    }

    /// The header and table checks; `data` is left empty for the caller to fill.
    fn parse_table(data: &[u8], big_endian: bool) -> Result<LdCache, CacheError> {
        let r = Reader { data, big_endian };
        let len = data.len();
        if len > NEW_HEADER && data.starts_with(NEW_MAGIC) {
            let nlibs = r.u32(20).ok_or(CacheError("truncated header"))? as usize;
            if (len - NEW_HEADER) / NEW_ENTRY >= nlibs {
                let flags = data.get(28).copied().unwrap_or(0);
                if !endian_ok(flags, big_endian) {
                    return Err(CacheError("cache has the wrong endianness"));
                }
                return Self::build_new(&r, 0, nlibs, Format::New);
            }
        }
        if len > OLD_HEADER && data.starts_with(OLD_MAGIC) {
            let nlibs = r.u32(12).ok_or(CacheError("truncated header"))? as usize;
            if (len - OLD_HEADER) / OLD_ENTRY < nlibs {
                return Err(CacheError("entry count exceeds the file size"));
            }
            // nlibs * 12 <= len, so no overflow.
            let end_old = OLD_HEADER + nlibs * OLD_ENTRY;
            let off = align_up(end_old, NEW_ALIGN).ok_or(CacheError("entry count exceeds the file size"))?;
            let has_new = off.checked_add(NEW_HEADER).is_some_and(|end| len >= end)
                && data.get(off..).is_some_and(|d| d.starts_with(NEW_MAGIC));
            if has_new {
                let flags = data.get(off + 28).copied().unwrap_or(0);
                if !endian_ok(flags, big_endian) {
                    return Err(CacheError("cache has the wrong endianness"));
                }
                let n = r.u32(off + 20).ok_or(CacheError("truncated header"))? as usize;
                if (len - off - NEW_HEADER) / NEW_ENTRY < n {
                    return Err(CacheError("compat cache: new-format entries extend past the end of the file"));
                }
                return Self::build_new(&r, off, n, Format::Compat);
            }
            return Self::build_old(&r, nlibs);
        }
        if data.starts_with(NEW_MAGIC) {
            return Err(CacheError("entry count exceeds the file size"));
        }
        Err(CacheError("not an ld.so.cache file"))
    }

    fn build_old(r: &Reader<'_>, nlibs: usize) -> Result<LdCache, CacheError> {
        let table = Table {
            first: OLD_HEADER,
            size: OLD_ENTRY,
            count: nlibs,
            strings: OLD_HEADER + nlibs * OLD_ENTRY,
            new: false,
            big_endian: r.big_endian,
        };
        Ok(Self::finish(r.data, Format::Old, table, None, Vec::new()))
    }

    fn build_new(r: &Reader<'_>, base: usize, nlibs: usize, format: Format) -> Result<LdCache, CacheError> {
        let data = r.data;
        let table = Table {
            first: base + NEW_HEADER,
            size: NEW_ENTRY,
            count: nlibs,
            strings: base,
            new: true,
            big_endian: r.big_endian,
        };
        let (generator, hwcaps) = match r.u32(base + 32) {
            Some(ext) => load_extensions(r, ext),
            None => (None, None),
        };
        let names = hwcaps.map(|(off, size)| {
            (0..size / 4).map(|i| r.u32(off + 4 * i).and_then(|o| string_at(data, 0, o))).collect::<Vec<_>>()
        });
        Ok(Self::finish(data, format, table, generator, names.unwrap_or_default()))
    }

    fn finish(
        data: &[u8],
        format: Format,
        table: Table,
        generator: Option<(usize, usize)>,
        hwcaps_names: Vec<Option<(usize, usize)>>,
    ) -> LdCache {
        let _ = data;
        LdCache {
            format,
            data: Data::Owned(Box::new([])),
            table,
            entries: std::sync::OnceLock::new(),
            generator,
            hwcaps_names,
        }
    }

    /// Entry slot `i` of the table, read from the file's bytes.
    fn raw(&self, i: usize) -> Option<Raw> {
        let t = &self.table;
        if i >= t.count {
            return None;
        }
        let r = Reader { data: &self.data, big_endian: t.big_endian };
        let p = t.first + i * t.size;
        let flags = r.u32(p)? as i32;
        let key = r.u32(p + 4)?;
        let value = r.u32(p + 8)?;
        let hwcap = if t.new { r.u64(p + 16)? } else { 0 };
        Some(Raw {
            flags,
            key: string_start(&self.data, t.strings, key),
            value: string_start(&self.data, t.strings, value),
            hwcap,
        })
    }

    /// The owned entry for table slot `i`, `None` when its key or value offset is invalid.
    fn entry(&self, i: usize) -> Option<Entry> {
        let r = self.raw(i)?;
        let (ks, vs) = (r.key?, r.value?);
        let (ke, ve) = (string_end(&self.data, ks), string_end(&self.data, vs));
        let subdir = if is_extension(r.hwcap) {
            self.hwcaps_names.get(r.hwcap as u32 as usize).copied().flatten()
        } else {
            None
        };
        Some(Entry {
            flags: r.flags,
            key: Bytes::from(&self.data[ks..ke]),
            value: Bytes::from(&self.data[vs..ve]),
            hwcap: r.hwcap,
            hwcaps_subdir: subdir.map(|(s, e)| Bytes::from(&self.data[s..e])),
        })
    }

    /// Which layout the file had.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The entries in file order (of the section that ld.so uses: the new one when present).
    /// Entries whose key or value offset is invalid are left out: ld.so never returns them.
    ///
    /// Made on first use. Entries may share their strings in the file; the copies are
    /// bounded by a multiple of the file's size, and the list stops where that bound is
    /// reached (only a crafted file gets there).
    pub fn entries(&self) -> &[Entry] {
        self.entries.get_or_init(|| {
            let mut budget = Budget(self.data.len().saturating_mul(COPY_FACTOR).saturating_add(COPY_SLACK));
            let mut out = Vec::new();
            for i in 0..self.table.count {
                let Some(e) = self.entry(i) else { continue };
                let n = e.key.len() + e.value.len() + e.hwcaps_subdir.as_ref().map_or(0, |s| s.len());
                if budget.take(n).is_err() {
                    break;
                }
                out.push(e);
            }
            out
        })
    }

    /// The generator string of the extension section (e.g. "ldconfig (Debian GLIBC
    /// 2.36-9+deb12u14) stable release version 2.36"), if present.
    pub fn generator(&self) -> Option<&[u8]> {
        self.generator.and_then(|(s, e)| self.data.get(s..e))
    }

    /// The glibc-hwcaps array, as ld.so reads it (names at file-relative offsets). An element
    /// is `None` when its offset is past the end of the file.
    pub fn hwcaps_names(&self) -> Vec<Option<&[u8]>> {
        self.hwcaps_names.iter().map(|r| r.and_then(|(s, e)| self.data.get(s..e))).collect()
    }

    fn key(&self, i: usize) -> Option<&[u8]> {
        let s = self.raw(i)?.key?;
        self.data.get(s..string_end(&self.data, s))
    }

    /// `libcmp(name, key of entry i)`, `None` when the key offset is invalid.
    fn cmp_key(&self, name: &[u8], i: usize) -> Option<Ordering> {
        self.key(i).map(|k| libcmp(name, k))
    }

    /// glibc `search_cache` exactly (spec 5.4): numeric-aware binary search with
    /// `_dl_cache_libcmp`, walk back to the first equal entry, walk forward: skip
    /// unaccepted flags; glibc-hwcaps entries get priority by position in `hwcaps`
    /// (inactive skipped), lowest wins; at the first non-hwcaps entry return the hwcaps
    /// winner if any; else legacy filter / hwcap==0; one answer, no fallback.
    pub fn lookup(&self, name: &[u8], q: &Lookup<'_>) -> Option<Entry> {
        let n = self.table.count as i64;
        let new_entries = self.format != Format::Old;
        let default_id = q.accepted_flags.last().copied();
        let mut priorities: Option<Vec<u32>> = None;
        let mut left: i64 = 0;
        let mut right: i64 = n - 1;
        let mut best: Option<usize> = None;
        let mut best_priority: u32 = 0;
        while left <= right {
            let mut middle = (left + right) / 2;
            let cmpres = self.cmp_key(name, middle as usize)?;
            if cmpres == Ordering::Equal {
                left = middle;
                while middle > 0 {
                    if self.cmp_key(name, (middle - 1) as usize) != Some(Ordering::Equal) {
                        break;
                    }
                    middle -= 1;
                }
                while let Some(lib) = self.raw(middle as usize) {
                    if middle > left && self.cmp_key(name, middle as usize) != Some(Ordering::Equal) {
                        break;
                    }
                    if q.accepted_flags.contains(&lib.flags) && lib.value.is_some() {
                        let mut named = false;
                        let mut usable = true;
                        if new_entries {
                            named = is_extension(lib.hwcap);
                            if named && !isa_level_ok(lib.hwcap, q.hwcaps) {
                                usable = false;
                            } else if !named && best.is_some() {
                                break;
                            } else if !named && !legacy_ok(lib.hwcap, q.legacy) {
                                usable = false;
                            } else if named {
                                let prio = priorities.get_or_insert_with(|| self.priorities(q.hwcaps));
                                let p = prio.get(lib.hwcap as u32 as usize).copied().unwrap_or(0);
                                if p == 0 || (best.is_some() && p >= best_priority) {
                                    usable = false;
                                } else {
                                    best_priority = p;
                                }
                            }
                        }
                        if usable {
                            best = Some(middle as usize);
                            if !named && Some(lib.flags) == default_id {
                                break;
                            }
                        }
                    }
                    middle += 1;
                    if middle > right {
                        break;
                    }
                }
                break;
            }
            if cmpres == Ordering::Less {
                left = middle + 1;
            } else {
                right = middle - 1;
            }
        }
        best.and_then(|i| self.entry(i))
    }

    /// `glibc_hwcaps_priorities_init`: merge the cache's (sorted) name array with the active
    /// names sorted by name; element i gets the priority of the matching active name
    /// (position + 1) or 0.
    fn priorities(&self, active: &[Bytes]) -> Vec<u32> {
        let mut right: Vec<(&[u8], u32)> =
            active.iter().enumerate().map(|(i, n)| (n.as_bytes(), (i as u32).saturating_add(1))).collect();
        right.sort_by(|a, b| a.0.cmp(b.0));
        let names = self.hwcaps_names();
        let mut out = Vec::with_capacity(names.len());
        let mut ri = 0;
        let mut li = 0;
        while li < names.len() && ri < right.len() {
            match names[li] {
                Some(left) => match left.cmp(right[ri].0) {
                    Ordering::Equal => {
                        out.push(right[ri].1);
                        li += 1;
                        ri += 1;
                    }
                    Ordering::Less => {
                        out.push(0);
                        li += 1;
                    }
                    Ordering::Greater => ri += 1,
                },
                // glibc loops forever here (it advances neither side); call it unusable.
                None => {
                    out.push(0);
                    li += 1;
                }
            }
        }
        out.resize(names.len(), 0);
        out
    }
}

/// `dl_cache_hwcap_isa_level_compatible`, with the active subdirectory list standing in for
/// the CPU's ISA bits: level 0 is always fine, level L needs `x86-64-v{L+1}`.
fn isa_level_ok(hwcap: u64, hwcaps: &[Bytes]) -> bool {
    let level = (hwcap >> 32) & ISA_LEVEL_MASK;
    if level == 0 {
        return true;
    }
    let want = format!("x86-64-v{}", level + 1);
    hwcaps.iter().any(|h| h.as_bytes() == want.as_bytes())
}

/// The 2.36 `hwcap_exclude` and platform checks, or the 2.37 `hwcap == 0` rule.
fn legacy_ok(hwcap: u64, legacy: Option<LegacyHwcaps>) -> bool {
    match legacy {
        None => hwcap == 0,
        Some(l) => {
            let exclude = !(l.mask | PLATFORM_BITS | HWCAP_TLS);
            if hwcap & exclude != 0 {
                return false;
            }
            let platform = hwcap & PLATFORM_BITS;
            platform == 0 || Some(platform) == l.platform
        }
    }
}

/// `cache_extension_load` + `cache_extension_verify`: the generator and hwcaps sections
/// (file offset, size). Any malformed part drops the whole extension, as ld.so does.
#[allow(clippy::type_complexity)]
fn load_extensions(r: &Reader<'_>, ext_offset: u32) -> (Option<(usize, usize)>, Option<(usize, usize)>) {
    let len = r.data.len() as u64;
    let off = u64::from(ext_offset);
    if off == 0 || off % 4 != 0 || off + 8 > len {
        return (None, None);
    }
    let (Some(magic), Some(count)) = (r.u32(off as usize), r.u32(off as usize + 4)) else {
        return (None, None);
    };
    if magic != EXTENSION_MAGIC || off + 8 + u64::from(count) * 16 > len {
        return (None, None);
    }
    let mut sections: [Option<(u64, u64)>; 2] = [None, None];
    for i in 0..u64::from(count) {
        let p = (off + 8 + i * 16) as usize;
        let (Some(tag), Some(s_off), Some(s_size)) = (r.u32(p), r.u32(p + 8), r.u32(p + 12)) else {
            return (None, None);
        };
        if u64::from(s_off) + u64::from(s_size) > len {
            return (None, None);
        }
        if let Some(slot) = sections.get_mut(tag as usize) {
            *slot = Some((u64::from(s_off), u64::from(s_size)));
        }
    }
    let generator = sections[0].map(|(o, s)| (o as usize, (o + s) as usize));
    let hwcaps =
        sections[1].filter(|&(o, s)| s != 0 && o % 4 == 0 && s % 4 == 0).map(|(o, s)| (o as usize, s as usize));
    (generator, hwcaps)
}

fn sign(v: i32) -> Ordering {
    v.cmp(&0)
}

/// _dl_cache_libcmp: runs of digits compare numerically, digits sort after non-digits.
///
/// Byte-exact with glibc on x86: the end of a slice (or a NUL) terminates the string,
/// other bytes compare as signed `char`, and digit runs accumulate in a wrapping `int`.
pub fn libcmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        let c1 = at(a, i);
        if c1 == 0 {
            break;
        }
        let c2 = at(b, j);
        if c1.is_ascii_digit() {
            if !c2.is_ascii_digit() {
                return Ordering::Greater;
            }
            let mut v1 = i32::from(c1 - b'0');
            let mut v2 = i32::from(c2 - b'0');
            i += 1;
            j += 1;
            while at(a, i).is_ascii_digit() {
                v1 = v1.wrapping_mul(10).wrapping_add(i32::from(at(a, i) - b'0'));
                i += 1;
            }
            while at(b, j).is_ascii_digit() {
                v2 = v2.wrapping_mul(10).wrapping_add(i32::from(at(b, j) - b'0'));
                j += 1;
            }
            if v1 != v2 {
                return sign(v1.wrapping_sub(v2));
            }
        } else if c2.is_ascii_digit() {
            return Ordering::Less;
        } else if c1 != c2 {
            return sign(i32::from(c1 as i8) - i32::from(c2 as i8));
        } else {
            i += 1;
            j += 1;
        }
    }
    sign(-i32::from(at(b, j) as i8))
}

/// Flags the target's ld.so accepts (`_dl_cache_check_flags`), from the target's
/// `e_machine`, class (true = 64-bit) and `e_flags`. The last element is the loader's
/// `_DL_CACHE_DEFAULT_ID`.
///
/// ```text
/// x86_64 => [0x0303]; x32 (EM_X86_64 + 32-bit) => [0x0803]; i386 => [1,3];
/// aarch64 => [0x0a03]; armhf (EF_ARM_ABI_FLOAT_HARD 0x400) => [0x0903, 0x0003]; armel
/// (SOFT 0x200, or neither) => [0x0b03, 0x0003]; ppc64 => [0x0503]; s390x => [0x0403];
/// sparc64 => [0x0103]; ia64 => [0x0203]; riscv double-float ABI => [0x1003], other riscv
/// => [0x0f03]; mips n64/n32 => [0x0703]/[0x0603] (NaN2008: [0x0e03]/[0x0d03]), mips o32
/// NaN2008 => [0x0c03]; everything else (i386, ppc32, s390, sparc32, mips o32, loongarch
/// in 2.36, ...) => the generic [1,3].
/// ```
pub fn accepted_flags(machine: u16, class64: bool, e_flags: u32) -> &'static [i32] {
    const EM_386: u16 = 3;
    const EM_MIPS: u16 = 8;
    const EM_PPC64: u16 = 21;
    const EM_S390: u16 = 22;
    const EM_ARM: u16 = 40;
    const EM_SPARCV9: u16 = 43;
    const EM_IA_64: u16 = 50;
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    const EM_RISCV: u16 = 243;
    const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
    const EF_MIPS_ABI2: u32 = 0x20;
    const EF_MIPS_NAN2008: u32 = 0x400;
    const EF_RISCV_FLOAT_ABI: u32 = 0x6;
    const EF_RISCV_FLOAT_ABI_DOUBLE: u32 = 0x4;
    const GENERIC: &[i32] = &[1, 3];
    match machine {
        EM_X86_64 if class64 => &[0x0303],
        EM_X86_64 => &[0x0803],
        EM_386 => GENERIC,
        EM_AARCH64 if class64 => &[0x0a03],
        EM_ARM if e_flags & EF_ARM_ABI_FLOAT_HARD != 0 => &[0x0903, 0x0003],
        EM_ARM => &[0x0b03, 0x0003],
        EM_PPC64 if class64 => &[0x0503],
        EM_S390 if class64 => &[0x0403],
        EM_SPARCV9 if class64 => &[0x0103],
        EM_IA_64 => &[0x0203],
        EM_RISCV if e_flags & EF_RISCV_FLOAT_ABI == EF_RISCV_FLOAT_ABI_DOUBLE => &[0x1003],
        EM_RISCV => &[0x0f03],
        EM_MIPS => {
            let nan2008 = e_flags & EF_MIPS_NAN2008 != 0;
            match (class64, e_flags & EF_MIPS_ABI2 != 0, nan2008) {
                (true, _, false) => &[0x0703],
                (true, _, true) => &[0x0e03],
                (false, true, false) => &[0x0603],
                (false, true, true) => &[0x0d03],
                (false, false, true) => &[0x0c03],
                (false, false, false) => GENERIC,
            }
        }
        _ => GENERIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcmp_basics() {
        assert_eq!(libcmp(b"libfoo.so.10", b"libfoo.so.9"), Ordering::Greater);
        assert_eq!(libcmp(b"libfoo.so.01", b"libfoo.so.1"), Ordering::Equal);
        assert_eq!(libcmp(b"liba.so", b"liba.so.1"), Ordering::Less);
        assert_eq!(libcmp(b"lib1", b"liba"), Ordering::Greater);
    }

    #[test]
    fn extension_marker() {
        assert!(is_extension(0x4000_0000_0000_0001));
        assert!(is_extension(0x4000_0002_0000_0000));
        assert!(!is_extension(0x8000_0000_0000_0000));
        assert!(!is_extension(0x4000_0400_0000_0000));
    }
}
