//! Facts compiled into a glibc `ld.so` (its version, default directories, `$LIB`), read
//! from the file's read-only segments without running it.

use crate::bytes::Bytes;
use crate::elf::Source;

/// Facts read out of a glibc `ld.so` file without running it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LoaderFacts {
    /// `SYSTEM_DIRS`, each with its trailing `/`.
    pub system_dirs: Option<Vec<Bytes>>,
    /// `DL_DST_LIB`, the value of `$LIB`.
    pub dst_lib: Option<Bytes>,
    /// glibc (major, minor).
    pub version: Option<(u32, u32)>,
}

/// Scan a glibc `ld.so` image for its compiled-in search directories, `$LIB` value and version.
///
/// `SYSTEM_DIRS` is stored as consecutive NUL-terminated absolute strings, each ending in
/// `/`, followed by padding (elf/dl-load.c `system_dirs`); `DL_DST_LIB` follows the DST
/// names `ORIGIN\0PLATFORM\0LIB\0` in the read-only strings.
pub(crate) fn loader_facts(image: &[u8]) -> LoaderFacts {
    let mut facts = LoaderFacts::default();
    if let Some(p) = find(image, b"ORIGIN\0PLATFORM\0LIB\0") {
        let rest = &image[p + 20..];
        if let Some(end) = rest.iter().position(|&b| b == 0) {
            let v = &rest[..end];
            if !v.is_empty() && v.len() < 256 && v.iter().all(|b| b.is_ascii_graphic()) {
                facts.dst_lib = Some(Bytes::from(v));
            }
        }
    }
    // Candidate runs start right after a NUL with "/" and consist of "/…/\0" strings.
    let mut i = 0;
    // Look for '/' (rare in code) and check the byte before it, rather than for NUL (dense).
    while let Some(off) = crate::bytes::find_byte(&image[i..], b'/') {
        let start = i + off;
        if start == 0 || image[start - 1] != 0 {
            i = start + 1;
            continue;
        }
        let mut dirs = Vec::new();
        let mut pos = start;
        while let Some(len) = image[pos..].iter().take(512).position(|&b| b == 0) {
            let s = &image[pos..pos + len];
            if s.len() >= 2 && s[0] == b'/' && s.ends_with(b"/") && s.iter().all(|b| b.is_ascii_graphic()) {
                dirs.push(Bytes::from(s));
                pos += len + 1;
            } else {
                break;
            }
        }
        // The table ends with padding (another NUL) and holds at least one "lib" dir.
        if !dirs.is_empty()
            && image.get(pos) == Some(&0)
            && dirs.iter().any(|d| d.as_bytes().ends_with(b"lib/") || d.as_bytes().windows(4).any(|w| w == b"lib6"))
            && dirs.iter().all(|d| d.as_bytes().windows(3).any(|w| w == b"lib"))
        {
            facts.system_dirs = Some(dirs);
            break;
        }
        // Resume after the strings just read: each byte is looked at a bounded number of
        // times, whatever the image holds.
        i = pos.max(start + 1);
    }
    if let Some(p) = find(image, b"release version 2.") {
        let rest = &image[p + 18..];
        let digits: Vec<u8> = rest.iter().take_while(|b| b.is_ascii_digit()).copied().collect();
        if let Ok(minor) = std::str::from_utf8(&digits).unwrap_or("").parse::<u32>() {
            facts.version = Some((2, minor));
        }
    }
    facts
}

/// [`loader_facts`], looking first only at the loader's read-only data: the file ranges of
/// its `PT_LOAD` segments that are neither executable nor writable (where `.rodata` lives
/// in a `-z separate-code` layout), which skips the code and reads a fifth of the file.
/// Falls back to the whole file when that does not find everything. The caller bounds the
/// file's size: at most that much is read.
pub(crate) fn loader_facts_in<S: Source + ?Sized>(src: &S) -> LoaderFacts {
    use goblin::elf::program_header::{PF_W, PF_X, PT_LOAD};
    let size = src.size();
    let mut facts = LoaderFacts::default();
    // Segments may overlap (a hostile file may list thousands over the whole file): read at
    // most the file's size in all, then the fallback once more.
    let mut budget = size;
    for p in crate::elf::program_headers(src).unwrap_or_default() {
        if p.p_type != PT_LOAD || p.p_flags & (PF_X | PF_W) != 0 {
            continue;
        }
        if p.p_offset.checked_add(p.p_filesz).is_none_or(|end| end > size) || p.p_filesz > budget {
            continue;
        }
        budget -= p.p_filesz;
        if let Some(bytes) = src.get(p.p_offset, p.p_filesz) {
            let f = loader_facts(&bytes);
            facts.dst_lib = facts.dst_lib.or(f.dst_lib);
            facts.system_dirs = facts.system_dirs.or(f.system_dirs);
            facts.version = facts.version.or(f.version);
        }
    }
    if facts.dst_lib.is_some() && facts.system_dirs.is_some() && facts.version.is_some() {
        facts
    } else {
        src.get(0, size).map(|all| loader_facts(&all)).unwrap_or_default()
    }
}

/// Position of `needle` in `hay` (SIMD substring search).
pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::bytes::find_bytes(hay, needle)
}
