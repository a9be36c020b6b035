//! String literals compiled into an ELF file's read-only data: the evidence for runtime files
//! that no `DT_NEEDED` names (OpenSSL's `OPENSSLDIR` and `MODULESDIR`, libc's gconv
//! directory, curl's CA bundle, `/bin/sh`, plugin directories) and for libraries passed to
//! `dlopen` by name (`"libz.so.1"`).
//!
//! What is scanned: the file bytes of every `PT_LOAD` segment that is not writable (read-only
//! data lives in the read-only segment on x86-64 with `-z separate-code`, in the
//! read-and-execute one elsewhere), and of those, where the section headers name them, only
//! the read-only data sections (`.rodata`, `.rodata.*`, `.rodata1`): the rest of such a
//! segment is symbol, hash, version, relocation and unwind tables, three quarters of the bytes
//! over a system's libraries. A file without section headers (`sstrip`) or without such a
//! section has its segments read whole. Two ranges inside the segments are left out because
//! the ELF reader already reports what they hold: the dynamic string table (`DT_STRTAB`,
//! `DT_STRSZ`: symbol names, `DT_NEEDED`, `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`) and
//! `PT_INTERP`.
//!
//! What counts as a string: a run of printable ASCII bytes (0x20 to 0x7e) that ends with a NUL,
//! taken whole, from the byte after the last non-printable byte before it (as `strings`
//! does). Strings in writable segments (a non-`const` `char` array in `.data`) are not
//! reported: a program can change them before use, and the read-only copy is the literal.
//!
//! Matching is exact, on the whole string. A path embedded in a longer message
//! (`"cannot open /etc/foo"`) or followed by more text (`"/usr/lib/ssl/%s"`) is not
//! reported; neither is a path that the linker's tail merging made the end of a longer
//! literal. The kinds:
//!
//! - [`Strings::paths`]: starts with `/`, at most 4096 bytes, no space, control or non-ASCII
//!   byte, no `%` (a format, not a file), at least one letter or digit; and either another
//!   `/` (`/usr/lib/ssl`, `/dev/`) or a single name of at least 3 letters, digits and `._+-`
//!   with a letter among them (`/tmp`, `/etc`, `/.netrc`; not `/C` or `/q5`, which are
//!   usually bytes of code or tables);
//! - [`Strings::sonames`]: the whole string matches `lib[A-Za-z0-9_+.-]*\.so(\.[0-9]+)*`.
//!
//! Reading is chunked (1 MiB at a time) and bounded by [`StringLimits`].
//!
//! ```
//! let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap_or_default();
//! let s = depclose::elf::strings::scan(&libc);
//! if !libc.is_empty() {
//!     assert!(s.paths.iter().any(|p| p == &"/bin/sh"));
//! }
//! ```

use goblin::elf::program_header::{ProgramHeader, PF_W, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD};
use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::bytes::{find_byte, Bytes};
use crate::elf::{self, Class, RawHeader, Source};

/// The longest string considered (paths longer than `PATH_MAX` cannot be opened).
pub const MAX_STRING_LEN: usize = 4096;

/// Bytes read at a time.
const CHUNK: u64 = 1 << 20;

/// Bounds on one file's scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StringLimits {
    /// At most this many segment bytes are scanned per file (default 256 MiB).
    pub max_bytes: u64,
    /// At most this many distinct strings are kept per file, paths and sonames together
    /// (default 65,536).
    pub max_strings: usize,
}

impl Default for StringLimits {
    fn default() -> Self {
        StringLimits { max_bytes: 256 << 20, max_strings: 1 << 16 }
    }
}

impl StringLimits {
    /// Limits of `max_bytes` scanned bytes and `max_strings` kept strings.
    pub fn new(max_bytes: u64, max_strings: usize) -> Self {
        StringLimits { max_bytes, max_strings }
    }
}

/// The strings found in one file.
#[derive(Default, Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Strings {
    /// Absolute paths (see the module documentation), sorted, without duplicates.
    pub paths: Vec<Bytes>,
    /// Soname-like literals (`libz.so.1`, `libfoo.so`), sorted, without duplicates.
    pub sonames: Vec<Bytes>,
    /// True when a limit of [`StringLimits`] stopped the scan early, or a segment could not be
    /// read: the lists may be incomplete.
    pub truncated: bool,
}

/// Scan an ELF file held in memory with the default [`StringLimits`]. Data that is not ELF
/// (or has no readable program headers) gives empty lists.
pub fn scan(data: &[u8]) -> Strings {
    scan_source(data, &StringLimits::default())
}

/// [`scan`] with explicit limits.
pub fn scan_with_limits(data: &[u8], limits: &StringLimits) -> Strings {
    scan_source(data, limits)
}

/// True when `s` (a whole string) is an absolute path as [`Strings::paths`] defines it.
pub fn is_path_literal(s: &[u8]) -> bool {
    if s.len() < 2 || s.len() > MAX_STRING_LEN || s[0] != b'/' {
        return false;
    }
    if !s.iter().all(|&b| b > 0x20 && b < 0x7f && b != b'%') || !s.iter().any(u8::is_ascii_alphanumeric) {
        return false;
    }
    let rest = &s[1..];
    if find_byte(rest, b'/').is_some() {
        return true;
    }
    // One name alone: at least 3 bytes of a file name's usual characters with a letter, so
    // that bytes of code or tables that happen to look like "/C" or "/q5" are left out.
    rest.len() >= 3
        && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && rest.iter().any(u8::is_ascii_alphabetic)
}

/// `path` with repeated slashes collapsed, `/./` components dropped and a trailing slash
/// removed (`/`, alone, stays): the spelling under which to look a literal up in a root.
/// `..` is kept (it depends on symlinks). ImageMagick, for one, names its coders
/// `.../ImageMagick-6.9.11//modules-Q16/coders`.
pub fn normalize_path(path: &[u8]) -> Bytes {
    Bytes::from(crate::bytes::normalize_path(path))
}

/// True when `s` (a whole string) matches `lib[A-Za-z0-9_+.-]*\.so(\.[0-9]+)*`.
pub fn is_soname_literal(s: &[u8]) -> bool {
    if s.len() < 6 || s.len() > MAX_STRING_LEN || !s.starts_with(b"lib") {
        return false;
    }
    if !s[3..].iter().all(|&b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b)) {
        return false;
    }
    // Strip trailing `.N` groups until `.so` ends what is left.
    let mut t = s;
    loop {
        if t.len() >= 6 && t.ends_with(b".so") {
            return true;
        }
        let digits = t.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || t.len() < digits + 1 || t[t.len() - digits - 1] != b'.' {
            return false;
        }
        t = &t[..t.len() - digits - 1];
    }
}

/// File ranges `[start, end)` to scan: the non-writable `PT_LOAD` segments' file bytes
/// (clipped to the file, overlaps merged), minus the dynamic string table and `PT_INTERP`.
fn ranges<S: Source + ?Sized>(src: &S) -> Option<Vec<(u64, u64)>> {
    let size = src.size();
    let raw = RawHeader::read(&src.get(0, size.min(64))?)?;
    let phdrs = elf::program_headers(src)?;
    // Where a read-only, non-executable segment exists (GNU ld's separate-code layout, lld's
    // default), read-only data is there and the code segment holds no strings: only those
    // segments are read, a third of the bytes for a typical library. Otherwise (one R+X
    // segment) the read-only data shares the code's segment.
    let loadable =
        |p: &&ProgramHeader| p.p_type == PT_LOAD && p.p_flags & PF_W == 0 && p.p_filesz > 0 && p.p_offset < size;
    let data_only = phdrs.iter().filter(loadable).any(|p| p.p_flags & PF_X == 0);
    let mut keep: Vec<(u64, u64)> = phdrs
        .iter()
        .filter(loadable)
        .filter(|p| !data_only || p.p_flags & PF_X == 0)
        .map(|p| (p.p_offset, p.p_offset.saturating_add(p.p_filesz).min(size)))
        .collect();
    keep.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(keep.len());
    for (s, e) in keep {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut cut: Vec<(u64, u64)> = Vec::new();
    for p in &phdrs {
        if p.p_type == PT_INTERP && p.p_filesz > 0 {
            cut.push((p.p_offset, p.p_offset.saturating_add(p.p_filesz)));
        }
    }
    if let Some(r) = dynstr_range(src, &phdrs, raw.class() == Class::Elf64, raw.big_endian()) {
        cut.push(r);
    }
    for (cs, ce) in cut {
        let mut next = Vec::with_capacity(merged.len() + 1);
        for (s, e) in merged {
            if ce <= s || cs >= e {
                next.push((s, e));
                continue;
            }
            if s < cs {
                next.push((s, cs));
            }
            if ce < e {
                next.push((ce, e));
            }
        }
        merged = next;
    }
    // Where the section headers name read-only data sections (`.rodata`, `.rodata.*`,
    // `.rodata1`), only their bytes inside those segments are read: string literals live
    // there, while the rest of a read-only segment is symbol, hash, version, relocation and
    // unwind tables (three quarters of the bytes over a system's libraries). Without section
    // headers (stripped with `sstrip`) or such a section, the segments are read whole.
    if let Some(ro) = rodata_sections(src, &raw) {
        let mut inside = Vec::new();
        for (rs, re) in ro {
            for &(s, e) in &merged {
                let (a, b) = (rs.max(s), re.min(e));
                if a < b {
                    inside.push((a, b));
                }
            }
        }
        if !inside.is_empty() {
            inside.sort_unstable();
            let mut out: Vec<(u64, u64)> = Vec::with_capacity(inside.len());
            for (s, e) in inside {
                match out.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => out.push((s, e)),
                }
            }
            return Some(out);
        }
    }
    Some(merged)
}

/// The file ranges of the allocated, non-writable `PROGBITS` sections named `.rodata`,
/// `.rodata.*` or `.rodata1`; `None` when the file has no readable section headers or names
/// none. At most 4,096 section headers and a 1 MiB section name table are read.
fn rodata_sections<S: Source + ?Sized>(src: &S, raw: &RawHeader) -> Option<Vec<(u64, u64)>> {
    let is64 = raw.class() == Class::Elf64;
    let be = raw.big_endian();
    let head = src.get(0, if is64 { 64 } else { 52 })?;
    let (shoff, entsize, num, strndx) = if is64 {
        (
            elf::rd_u64(&head, 40, be)?,
            elf::rd_u16(&head, 58, be)?,
            elf::rd_u16(&head, 60, be)?,
            elf::rd_u16(&head, 62, be)?,
        )
    } else {
        (
            u64::from(elf::rd_u32(&head, 32, be)?),
            elf::rd_u16(&head, 46, be)?,
            elf::rd_u16(&head, 48, be)?,
            elf::rd_u16(&head, 50, be)?,
        )
    };
    let want = if is64 { 64 } else { 40 };
    if shoff == 0 || usize::from(entsize) != want || num == 0 || num > 4096 || strndx >= num {
        return None;
    }
    let table = src.get(shoff, u64::from(num) * want as u64)?;
    // (name, type, flags, offset, size) of entry `i`.
    let entry = |i: usize| -> Option<(u32, u32, u64, u64, u64)> {
        let e = table.get(i * want..(i + 1) * want)?;
        Some(if is64 {
            (
                elf::rd_u32(e, 0, be)?,
                elf::rd_u32(e, 4, be)?,
                elf::rd_u64(e, 8, be)?,
                elf::rd_u64(e, 24, be)?,
                elf::rd_u64(e, 32, be)?,
            )
        } else {
            let w = |o: usize| elf::rd_u32(e, o, be).map(u64::from);
            (elf::rd_u32(e, 0, be)?, elf::rd_u32(e, 4, be)?, w(8)?, w(16)?, w(20)?)
        })
    };
    let (_, _, _, str_off, str_size) = entry(usize::from(strndx))?;
    if str_size > 1 << 20 {
        return None;
    }
    let names = src.get(str_off, str_size)?;
    const SHT_PROGBITS: u32 = 1;
    const SHF_WRITE: u64 = 1;
    const SHF_ALLOC: u64 = 2;
    let mut out = Vec::new();
    for i in 1..usize::from(num) {
        let (name, kind, flags, off, size) = entry(i)?;
        if kind != SHT_PROGBITS || flags & SHF_ALLOC == 0 || flags & SHF_WRITE != 0 || size == 0 {
            continue;
        }
        let Some(n) = names.get(name as usize..) else { continue };
        let n = &n[..find_byte(n, 0).unwrap_or(n.len())];
        if n == b".rodata" || n == b".rodata1" || n.starts_with(b".rodata.") {
            out.push((off, off.saturating_add(size)));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The file range of the dynamic string table (`DT_STRTAB` mapped through `PT_LOAD`,
/// `DT_STRSZ` long, clipped to its segment), when there is one.
fn dynstr_range<S: Source + ?Sized>(
    src: &S,
    phdrs: &[goblin::elf::ProgramHeader],
    is64: bool,
    be: bool,
) -> Option<(u64, u64)> {
    let ph = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC && p.p_filesz > 0)?;
    let entsize = if is64 { 16 } else { 8 };
    // At most 4096 entries (64 KiB): real tables hold a few dozen.
    let table = src.get(ph.p_offset, ph.p_filesz.min(4096 * entsize as u64))?;
    let (mut strtab, mut strsz) = (None, None);
    for ent in table.chunks_exact(entsize) {
        let (tag, val) = if is64 {
            (elf::rd_u64(ent, 0, be)?, elf::rd_u64(ent, 8, be)?)
        } else {
            (u64::from(elf::rd_u32(ent, 0, be)?), u64::from(elf::rd_u32(ent, 4, be)?))
        };
        match tag {
            0 => break,
            elf::DT_STRTAB => strtab = Some(val),
            elf::DT_STRSZ => strsz = Some(val),
            _ => {}
        }
    }
    let (off, avail) = elf::vaddr_to_offset(phdrs, strtab?)?;
    Some((off, off.saturating_add(strsz?.min(avail))))
}

/// Collects matches, distinct, up to a limit.
struct Collector {
    paths: FxHashSet<Vec<u8>>,
    sonames: FxHashSet<Vec<u8>>,
    max: usize,
    full: bool,
}

impl Collector {
    /// Keep one candidate already known to be a path (`path`) or a soname literal. False
    /// once the limit is hit.
    fn keep(&mut self, s: &[u8], path: bool) -> bool {
        let set = if path { &mut self.paths } else { &mut self.sonames };
        if set.contains(s) {
            return true;
        }
        if self.paths.len() + self.sonames.len() >= self.max {
            self.full = true;
            return false;
        }
        let set = if path { &mut self.paths } else { &mut self.sonames };
        set.insert(s.to_vec());
        true
    }
}

#[inline(always)]
fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// The end of the printable run that starts at `s`: the index of its first byte that is not
/// printable ASCII, or `None` when the run reaches the end of `buf` or is longer than
/// `MAX_STRING_LEN` (no path or soname is longer).
#[inline]
fn run_end(buf: &[u8], s: usize) -> Option<usize> {
    let lim = buf.len().min(s + MAX_STRING_LEN + 1);
    (s..lim).find(|&i| !printable(buf[i]))
}

/// The candidates of `buf` whose terminating NUL is at or after `from`, in the order of
/// their NULs: `(start, end, is_path)` for every maximal printable run `buf[start..end]` that
/// a NUL ends and that is a path or a soname literal. (A run counts from the byte after the
/// last non-printable byte before it, or from the start of `buf`.)
///
/// Two searches instead of a look at every NUL: a `memchr` search for `/` finds the paths
/// (a run that starts with one), and a `memmem` search for `.so` the sonames (every soname
/// literal holds one). NULs are dense in read-only data, these bytes are not: over the
/// libraries of a system, the searches read the data at memory speed.
fn candidates(buf: &[u8], from: usize, out: &mut Vec<(usize, usize, bool)>) {
    out.clear();
    let starts = |h: usize| h == 0 || !printable(buf[h - 1]);
    let ends = |e: usize| e >= from && buf[e] == 0;
    for h in memchr::memchr_iter(b'/', buf) {
        if !starts(h) {
            continue;
        }
        if let Some(e) = run_end(buf, h) {
            if ends(e) && is_path_literal(&buf[h..e]) {
                out.push((h, e, true));
            }
        }
    }
    let paths = out.len();
    let mut last_end = usize::MAX;
    for k in memchr::memmem::find_iter(buf, b".so") {
        if last_end != usize::MAX && k < last_end {
            continue; // in the run already looked at
        }
        let Some(e) = run_end(buf, k) else {
            // Too long, or unended: so is the rest of this run up to where the look stopped.
            last_end = buf.len().min(k + MAX_STRING_LEN + 1);
            continue;
        };
        last_end = e;
        // Back to the run's start (at most MAX_STRING_LEN bytes before its end).
        let lim = e.saturating_sub(MAX_STRING_LEN + 1);
        let mut s = k;
        while s > lim && printable(buf[s - 1]) {
            s -= 1;
        }
        if !starts(s) || !ends(e) {
            continue;
        }
        if buf[s] == b'l' && is_soname_literal(&buf[s..e]) {
            out.push((s, e, false));
        }
    }
    // Both lists are in order; a path and a soname never share a run.
    if paths > 0 && out.len() > paths {
        out.sort_unstable_by_key(|c| c.1);
    }
}

/// [`scan`] over any [`Source`].
pub(crate) fn scan_source<S: Source + ?Sized>(src: &S, limits: &StringLimits) -> Strings {
    let mut out = Strings::default();
    let Some(ranges) = ranges(src) else {
        return out;
    };
    let mut c =
        Collector { paths: FxHashSet::default(), sonames: FxHashSet::default(), max: limits.max_strings, full: false };
    let mut budget = limits.max_bytes;
    // Each chunk after a range's first is read with the previous MAX_STRING_LEN + 1 bytes
    // before it again, so that a string crossing the boundary is seen whole (a longer one is
    // no candidate); NULs in that overlap were looked at with the previous chunk.
    const OVERLAP: u64 = MAX_STRING_LEN as u64 + 1;
    let mut found = Vec::new();
    'ranges: for (start, end) in ranges {
        let mut at = start;
        while at < end {
            if budget == 0 {
                out.truncated = true;
                break 'ranges;
            }
            let len = (end - at).min(CHUNK).min(budget);
            let back = if at == start { 0 } else { OVERLAP.min(at - start) };
            let Some(chunk) = src.get(at - back, len + back) else {
                out.truncated = true;
                break;
            };
            budget -= len;
            at += len;
            let buf: &[u8] = &chunk;
            candidates(buf, back as usize, &mut found);
            for &(s, e, path) in &found {
                if !c.keep(&buf[s..e], path) {
                    out.truncated = true;
                    break 'ranges;
                }
            }
        }
    }
    out.truncated |= c.full;
    let mut paths: Vec<Vec<u8>> = c.paths.into_iter().collect();
    let mut sonames: Vec<Vec<u8>> = c.sonames.into_iter().collect();
    paths.sort_unstable();
    sonames.sort_unstable();
    out.paths = paths.into_iter().map(Bytes::from).collect();
    out.sonames = sonames.into_iter().map(Bytes::from).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_paths() {
        for (a, b) in [
            (
                "/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11//modules-Q16/coders",
                "/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders",
            ),
            ("/etc/ssl/certs/", "/etc/ssl/certs"),
            ("//a/./b//", "/a/b"),
            ("/a/../b", "/a/../b"),
            ("/", "/"),
            ("//", "/"),
        ] {
            assert_eq!(normalize_path(a.as_bytes()), b, "{a}");
        }
    }

    #[test]
    fn path_and_soname_shapes() {
        for p in ["/bin/sh", "/usr/lib/ssl", "/tmp", "/etc", "/usr/share/zoneinfo/", "/a/b.c-d+e_f", "//x", "/.netrc"] {
            assert!(is_path_literal(p.as_bytes()), "{p}");
        }
        for p in [
            "/",
            "bin/sh",
            "/usr/lib/%s",
            "/a b",
            "/.",
            "/..",
            "/*",
            "/x\t",
            "/\u{e9}/a",
            "/$",
            "//",
            "/../",
            "/C",
            "/q5",
            "/123",
        ] {
            assert!(!is_path_literal(p.as_bytes()), "{p}");
        }
        let mut long = vec![b'/'; MAX_STRING_LEN];
        long[1] = b'a';
        assert!(is_path_literal(&long));
        long.push(b'a');
        assert!(!is_path_literal(&long));
        for s in ["libz.so.1", "libfoo.so", "lib.so", "libstdc++.so.6.0.30", "libfoo-1.2.so", "libnss_files.so.2"] {
            assert!(is_soname_literal(s.as_bytes()), "{s}");
        }
        for s in [
            "libz.so.",
            "libz.so.1a",
            "libz.so1",
            "libz",
            "xlibz.so",
            "lib z.so",
            "libz.so.1.",
            "lib/z.so",
            "libz.so.x",
        ] {
            assert!(!is_soname_literal(s.as_bytes()), "{s}");
        }
    }

    /// A 64-bit ELF file with one read-only PT_LOAD over the whole file and `body` after the
    /// headers.
    fn elf_with(body: &[u8], flags: u32) -> Vec<u8> {
        let mut f = vec![0u8; 120];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16] = 3;
        f[18] = 62;
        f[20] = 1;
        f[32] = 64;
        f[52] = 64;
        f[54] = 56;
        f[56] = 1;
        f.extend_from_slice(body);
        let n = (f.len() as u64).to_le_bytes();
        let ph = &mut f[64..120];
        ph[0] = 1; // PT_LOAD
        ph[4..8].copy_from_slice(&flags.to_le_bytes());
        ph[32..40].copy_from_slice(&n);
        ph[40..48].copy_from_slice(&n);
        f
    }

    #[test]
    fn finds_exact_strings_and_skips_writable_segments() {
        let body =
            b"\0/usr/lib/ssl\0\x01\x02/bin/sh\0error: /etc/x\0libz.so.1\0/usr/lib/%s\0/usr/lib/ssl\0/unterminated";
        let s = scan(&elf_with(body, 4));
        assert_eq!(s.paths, [Bytes::from("/bin/sh"), Bytes::from("/usr/lib/ssl")]);
        assert_eq!(s.sonames, [Bytes::from("libz.so.1")]);
        assert!(!s.truncated);
        let w = scan(&elf_with(body, 6));
        assert!(w.paths.is_empty() && w.sonames.is_empty());
        let lim = scan_with_limits(&elf_with(body, 4), &StringLimits::new(u64::MAX, 1));
        assert_eq!(lim.paths.len() + lim.sonames.len(), 1);
        assert!(lim.truncated);
    }

    #[test]
    fn only_rodata_sections_when_the_section_headers_name_them() {
        // Body (file offset 120 on): .rodata, other read-only bytes, the section name table,
        // then three section headers (null, .rodata, .shstrtab).
        let ro = b"\0/in/rodata\0libz.so.1\0";
        let other = b"\0/not/in/rodata\0";
        let names = b"\0.rodata\0.shstrtab\0";
        let (ro_at, names_at) = (120u64, 120 + (ro.len() + other.len()) as u64);
        let sh_at = names_at + names.len() as u64;
        let mut body = Vec::new();
        body.extend_from_slice(ro);
        body.extend_from_slice(other);
        body.extend_from_slice(names);
        let sh = |name: u32, kind: u32, flags: u64, off: u64, size: u64| {
            let mut e = [0u8; 64];
            e[0..4].copy_from_slice(&name.to_le_bytes());
            e[4..8].copy_from_slice(&kind.to_le_bytes());
            e[8..16].copy_from_slice(&flags.to_le_bytes());
            e[24..32].copy_from_slice(&off.to_le_bytes());
            e[32..40].copy_from_slice(&size.to_le_bytes());
            e
        };
        body.extend_from_slice(&[0u8; 64]);
        body.extend_from_slice(&sh(1, 1, 2, ro_at, ro.len() as u64));
        body.extend_from_slice(&sh(9, 3, 0, names_at, names.len() as u64));
        let mut f = elf_with(&body, 4);
        f[40..48].copy_from_slice(&sh_at.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        f[62..64].copy_from_slice(&2u16.to_le_bytes());
        let s = scan(&f);
        assert_eq!(s.paths, [Bytes::from("/in/rodata")]);
        assert_eq!(s.sonames, [Bytes::from("libz.so.1")]);
        // A section table naming no .rodata: the segment is read whole.
        let mut g = f.clone();
        let at = (sh_at + 64) as usize;
        g[at + 4..at + 8].copy_from_slice(&8u32.to_le_bytes()); // SHT_NOBITS
        assert_eq!(scan(&g).paths, [Bytes::from("/in/rodata"), Bytes::from("/not/in/rodata")]);
        // Section headers past the end of the file: the same.
        let mut h = f.clone();
        h[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(scan(&h).paths.len(), 2);
    }

    #[test]
    fn strings_across_chunks() {
        // A path straddling the 1 MiB chunk boundary, one just before it, one long run.
        let mut body = vec![0x01u8; (CHUNK as usize) - 120 - 5];
        body.extend_from_slice(b"\0/across/the/boundary\0");
        body.extend(std::iter::repeat_n(b'a', 3 * MAX_STRING_LEN));
        body.extend_from_slice(b"/tail/after/long\0/x/y\0");
        let s = scan(&elf_with(&body, 5));
        assert_eq!(s.paths, [Bytes::from("/across/the/boundary"), Bytes::from("/x/y")]);
        for cut in [CHUNK as usize - 3, CHUNK as usize + 1] {
            let mut body = vec![0u8; cut - 120];
            body.extend_from_slice(b"/a/b\0");
            assert_eq!(scan(&elf_with(&body, 4)).paths, [Bytes::from("/a/b")], "cut {cut}");
        }
    }

    /// The candidates as the definition has them: at every NUL, the printable bytes before
    /// it (at most `MAX_STRING_LEN + 1`), when they are a path or a soname literal.
    fn by_definition(buf: &[u8], from: usize) -> Vec<(usize, usize, bool)> {
        let mut out = Vec::new();
        for j in (from..buf.len()).filter(|&j| buf[j] == 0) {
            let lim = j.saturating_sub(MAX_STRING_LEN + 1);
            let mut i = j;
            while i > lim && (0x20..0x7f).contains(&buf[i - 1]) {
                i -= 1;
            }
            let t = &buf[i..j];
            if t.first() == Some(&b'/') && is_path_literal(t) {
                out.push((i, j, true));
            } else if t.first() == Some(&b'l') && is_soname_literal(t) {
                out.push((i, j, false));
            }
        }
        out
    }

    #[test]
    fn searches_agree_with_the_definition() {
        let pieces: [&[u8]; 12] = [
            b"/x/y\0",
            b"~ \0",
            b"libz.so.1\0",
            b"liba.so.so\0",
            b"xlibz.so\0",
            b"/usr/lib/libq.so\0",
            b"/tmp\0",
            b"libm.so",
            b".so.so\0",
            b"/",
            b"lib",
            b"/a/b/c",
        ];
        let mut buf = Vec::new();
        for i in 0..6000u32 {
            let r = i.wrapping_mul(2_654_435_761) >> 24;
            buf.push(match r % 6 {
                0 => 0,
                1 => 0x7f,
                2 => 0x80 | r as u8,
                3 => 0x1f,
                4 => b"/l.so"[(r % 5) as usize],
                _ => b'a' + (r % 26) as u8,
            });
            if i % 29 == 0 {
                buf.extend_from_slice(pieces[(r % 12) as usize]);
            }
        }
        // Long runs: one just at the limit, one over it, each ending in a candidate.
        for n in [MAX_STRING_LEN - 20, MAX_STRING_LEN + 50] {
            buf.push(0);
            buf.push(b'/');
            buf.extend(std::iter::repeat_n(b'a', n));
            buf.extend_from_slice(b"/libz.so\0");
        }
        let mut got = Vec::new();
        for from in [0, 1, 2, 3, 5, 8, 100, 4097] {
            candidates(&buf, from, &mut got);
            let want = by_definition(&buf, from);
            assert_eq!(got, want, "from {from}");
            assert!(want.iter().any(|c| c.2) && want.iter().any(|c| !c.2));
        }
        for cut in (0..buf.len()).step_by(97) {
            candidates(&buf[..cut], 0, &mut got);
            assert_eq!(got, by_definition(&buf[..cut], 0), "cut {cut}");
        }
    }

    #[test]
    fn truncated_at_every_length_never_panics() {
        let data = std::fs::read("/bin/true").unwrap_or_default();
        assert!(scan(&data).paths.iter().any(|p| p.starts_with(b"/")) || data.is_empty());
        for n in (0..data.len()).filter(|n| n % 7 == 0 || *n < 4096) {
            let part = scan(&data[..n]);
            assert!(part.paths.iter().all(|p| is_path_literal(p)) && part.sonames.iter().all(|s| is_soname_literal(s)));
        }
    }
}
