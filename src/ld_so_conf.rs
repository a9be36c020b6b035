//! `ld.so.conf` reader, with ldconfig 2.36's rules (`elf/ldconfig.c parse_conf`,
//! `parse_conf_include`, `add_dir_1`).
//!
//! Only ldconfig reads these files; ld.so never does. They matter when a rootfs has no
//! cache (or a stale one) and ldconfig's view has to be emulated.
//!
//! - [`parse`] turns one file into [`Directive`]s, line by line, exactly as `parse_conf`
//!   splits and trims (C-string semantics: a NUL byte ends the line).
//! - [`directories`] follows `include` globs inside a [`Root`] and returns the directory list
//!   in ldconfig's order, de-duplicated by device and inode.
//!
//! Differences from ldconfig, all in cases where ldconfig misbehaves: include recursion is
//! bounded ([`MAX_INCLUDE_DEPTH`]) and a file name already parsed is not parsed again (real
//! ldconfig recurses on an include cycle until it runs out of file descriptors); files
//! larger than [`MAX_CONF_SIZE`] are ignored; a glob stops after [`MAX_GLOB_MATCHES`]
//! matches.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;

use crate::bytes::Bytes;
use crate::model::FileId;
use crate::root::Root;

/// Include nesting beyond this depth is ignored.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Configuration files larger than this (bytes) are ignored.
pub const MAX_CONF_SIZE: u64 = 4 << 20;
/// A single include pattern yields at most this many files.
pub const MAX_GLOB_MATCHES: usize = 65536;

/// Most directory listings one [`directories`] call makes for `include` patterns, all
/// patterns together (patterns like `/*/../*/../*/..` would otherwise multiply without end).
pub const MAX_GLOB_LISTINGS: usize = 16384;

/// One meaningful line of an `ld.so.conf` file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Directive {
    /// `include PAT...`: glob patterns, as written (relative ones are relative to the
    /// directory of the including file).
    Include(Vec<Bytes>),
    /// A directory, trimmed as ldconfig trims it (`=TYPE` suffix, trailing whitespace and
    /// trailing `/` removed).
    Dir(Bytes),
}

/// C `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `isblank`.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Line-based parse: '#' comments, leading whitespace skipped, blank lines ignored, `include
/// PAT...` (keyword followed by blank), `hwcap ...` lines ignored (case-insensitive), any
/// other line is one directory with trailing whitespace and trailing '/' trimmed and an
/// optional `=TYPE` suffix removed.
///
/// Exactly as ldconfig: everything from the first `=` on is the type (even an unknown one);
/// the `=TYPE` is cut before the trimming; include patterns are split on spaces and tabs
/// only; a line that trims to nothing (`/`, `=libc6`) is dropped.
pub fn parse(text: &[u8]) -> Vec<Directive> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        // C strings: the line ends at a NUL, then at '#'.
        let line = line.split(|&b| b == 0).next().unwrap_or_default();
        let line = line.split(|&b| b == b'#').next().unwrap_or_default();
        let start = line.iter().position(|&b| !is_space(b)).unwrap_or(line.len());
        let cp = line.get(start..).unwrap_or_default();
        if cp.is_empty() {
            continue;
        }
        if cp.starts_with(b"include") && cp.get(7).copied().is_some_and(is_blank) {
            let pats: Vec<Bytes> = cp
                .get(8..)
                .unwrap_or_default()
                .split(|&b| is_blank(b))
                .filter(|p| !p.is_empty())
                .map(Bytes::from)
                .collect();
            if !pats.is_empty() {
                out.push(Directive::Include(pats));
            }
        } else if cp.get(..5).is_some_and(|k| k.eq_ignore_ascii_case(b"hwcap"))
            && cp.get(5).copied().is_some_and(is_blank)
        {
            // "hwcap directive ignored"
        } else {
            let mut path = cp.split(|&b| b == b'=').next().unwrap_or_default();
            while let [rest @ .., last] = path {
                if !is_space(*last) {
                    break;
                }
                path = rest;
            }
            while let [rest @ .., b'/'] = path {
                path = rest;
            }
            if !path.is_empty() {
                out.push(Directive::Dir(Bytes::from(path)));
            }
        }
    }
    out
}

/// All directories, in ldconfig's order, from the conf file at in-root path `conf` (usually
/// b"/etc/ld.so.conf"), inside `root`: includes expanded recursively with glob patterns
/// (`*`, `?`, `[...]`) matched per path component inside the root (relative patterns are
/// relative to the including file's directory), matches in sorted order, nonmatching
/// patterns ignored, recursion depth bounded and include cycles harmless, nonexistent
/// directories skipped, duplicates removed by (dev, ino) keeping the first. Missing conf
/// file => empty vec. Never reads outside the root (uses only [`Root`]'s methods).
///
/// Each directory is returned as written in the file (after ldconfig's trimming): that is
/// the prefix of the cache values ldconfig writes. Like ldconfig, an entry is kept if
/// `stat` succeeds, so a path naming a regular file stays in the list (scanning it yields
/// nothing). A relative directory is looked up from the root, as ldconfig does after its
/// `chroot`. The built-in system directories ldconfig appends are not included: see
/// [`directories_with_system`].
pub fn directories(root: &Root, conf: &[u8]) -> Vec<Bytes> {
    directories_with_system(root, conf, &[])
}

/// [`directories`], then `system_dirs` (for Debian x86_64: `/lib/x86_64-linux-gnu`,
/// `/usr/lib/x86_64-linux-gnu`, `/lib`, `/usr/lib`), all de-duplicated together by
/// (dev, ino), keeping the first occurrence, as ldconfig's `add_system_dir` does.
pub fn directories_with_system(root: &Root, conf: &[u8], system_dirs: &[Bytes]) -> Vec<Bytes> {
    let mut st = State { listings: MAX_GLOB_LISTINGS, seen: HashSet::new(), visited: HashSet::new(), out: Vec::new() };
    parse_file(root, conf, 0, &mut st);
    for d in system_dirs {
        add_dir(root, d.as_bytes(), &mut st);
    }
    st.out
}

struct State {
    /// Directory listings left for glob patterns ([`MAX_GLOB_LISTINGS`]).
    listings: usize,
    seen: HashSet<FileId>,
    visited: HashSet<Vec<u8>>,
    out: Vec<Bytes>,
}

fn absolute(p: &[u8]) -> Vec<u8> {
    if p.first() == Some(&b'/') {
        p.to_vec()
    } else {
        let mut v = Vec::with_capacity(p.len() + 1);
        v.push(b'/');
        v.extend_from_slice(p);
        v
    }
}

fn add_dir(root: &Root, path: &[u8], st: &mut State) {
    if path.is_empty() {
        return;
    }
    if let Ok(w) = root.walk(&absolute(path), true) {
        if st.seen.insert(w.file_id()) {
            st.out.push(Bytes::from(path));
        }
    }
}

/// POSIX `dirname` of a file name, as glibc's `dirname` computes it.
fn dirname(p: &[u8]) -> &[u8] {
    let mut end = p.len();
    while end > 1 && p.get(end - 1) == Some(&b'/') {
        end -= 1;
    }
    let trimmed = p.get(..end).unwrap_or_default();
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(pos) => {
            let mut d = pos;
            while d > 0 && trimmed.get(d - 1) == Some(&b'/') {
                d -= 1;
            }
            if d == 0 {
                b"/"
            } else {
                trimmed.get(..d).unwrap_or_default()
            }
        }
    }
}

fn parse_file(root: &Root, path: &[u8], depth: usize, st: &mut State) {
    if depth > MAX_INCLUDE_DEPTH || !st.visited.insert(path.to_vec()) {
        return;
    }
    let Ok(text) = root.read(&absolute(path), MAX_CONF_SIZE) else {
        return;
    };
    for d in parse(&text) {
        match d {
            Directive::Dir(dir) => add_dir(root, dir.as_bytes(), st),
            Directive::Include(pats) => {
                for pat in pats {
                    let pat = pat.as_bytes();
                    let full = if pat.first() != Some(&b'/') && path.contains(&b'/') {
                        let mut f = dirname(path).to_vec();
                        f.push(b'/');
                        f.extend_from_slice(pat);
                        f
                    } else {
                        pat.to_vec()
                    };
                    for m in glob(root, &full, &mut st.listings) {
                        parse_file(root, &m, depth + 1, st);
                    }
                }
            }
        }
    }
}

/// Does a path component contain glob magic (`*`, `?`, or `[` with a later `]`), with
/// backslash escapes honoured?
fn has_magic(comp: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = comp.get(i) {
        match c {
            b'\\' => i += 1,
            b'*' | b'?' => return true,
            b'[' if comp.get(i + 1..).is_some_and(|r| r.contains(&b']')) => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Remove backslash escapes from a literal component.
fn unescape(comp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comp.len());
    let mut it = comp.iter();
    while let Some(&c) = it.next() {
        if c == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `glob(pattern, 0)` inside the root: component by component, wildcards matched against
/// sorted directory listings (a leading `.` only by a literal `.`), literal trailing
/// components checked with `lstat`, results sorted bytewise (ldconfig runs with
/// `LC_COLLATE=C`).
fn glob(root: &Root, pattern: &[u8], listings: &mut usize) -> Vec<Vec<u8>> {
    let comps: Vec<&[u8]> = pattern.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    if comps.is_empty() {
        return Vec::new();
    }
    let relative = pattern.first() != Some(&b'/');
    let mut cands: Vec<Vec<u8>> = vec![Vec::new()];
    let mut check = false;
    for comp in comps {
        if has_magic(comp) {
            let mut next = Vec::new();
            for c in &cands {
                if *listings == 0 {
                    break;
                }
                *listings -= 1;
                let dir: &[u8] = if c.is_empty() { b"/" } else { c };
                let Ok(names) = root.read_dir(dir) else { continue };
                for name in names {
                    let name = name.as_bytes();
                    if fnmatch(comp, name) && next.len() < MAX_GLOB_MATCHES {
                        let mut p = c.clone();
                        p.push(b'/');
                        p.extend_from_slice(name);
                        next.push(p);
                    }
                }
            }
            cands = next;
            check = false;
        } else {
            let lit = unescape(comp);
            for c in &mut cands {
                c.push(b'/');
                c.extend_from_slice(&lit);
            }
            check = true;
        }
        if cands.is_empty() {
            return cands;
        }
    }
    if check {
        cands.retain(|p| root.walk(p, false).is_ok());
    }
    cands.sort();
    if relative {
        // Keep the names relative, as glob returns them (they are relative to `/` anyway).
        for c in &mut cands {
            c.remove(0);
        }
    }
    cands
}

/// `fnmatch(pattern, name, FNM_PERIOD)` on one path component (bytes, C locale).
fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') {
        // A leading period must be matched by a literal period.
        if !matches!(pat, [b'.', ..] | [b'\\', b'.', ..]) {
            return false;
        }
    }
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = pat.get(p) {
            match pc {
                b'*' => {
                    while pat.get(p) == Some(&b'*') {
                        p += 1;
                    }
                    star = Some((p, n));
                    continue;
                }
                b'?' if n < name.len() => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some(&c) = name.get(n) {
                        match bracket(pat, p + 1, c) {
                            Some((true, after)) => {
                                p = after;
                                n += 1;
                                continue;
                            }
                            Some((false, _)) => {}
                            // No closing ']': the '[' is an ordinary character.
                            None if c == b'[' => {
                                p += 1;
                                n += 1;
                                continue;
                            }
                            None => {}
                        }
                    }
                }
                b'\\' => {
                    // Trailing backslash never matches.
                    if let (Some(&lit), Some(&c)) = (pat.get(p + 1), name.get(n)) {
                        if lit == c {
                            p += 2;
                            n += 1;
                            continue;
                        }
                    }
                }
                _ => {
                    if name.get(n) == Some(&pc) {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        } else if n == name.len() {
            return true;
        }
        // Mismatch: let the last '*' swallow one more byte.
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Match byte `c` against the bracket expression starting after `[` at `start`. Returns
/// whether it matched and the index after the closing `]`, or `None` if there is no
/// closing `]`.
fn bracket(pat: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let pc = *pat.get(i)?;
        if pc == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if pc == b'[' && pat.get(i + 1) == Some(&b':') {
            let rest = pat.get(i + 2..)?;
            if let Some(end) = rest.windows(2).position(|w| w == b":]") {
                let class = rest.get(..end)?;
                matched |= class_match(class, c);
                i += 2 + end + 2;
                continue;
            }
        }
        let lo = if pc == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            pc
        };
        i += 1;
        if pat.get(i) == Some(&b'-') && pat.get(i + 1).is_some_and(|&b| b != b']') {
            let mut hi = *pat.get(i + 1)?;
            i += 2;
            if hi == b'\\' {
                hi = *pat.get(i)?;
                i += 1;
            }
            matched |= lo <= c && c <= hi;
        } else {
            matched |= lo == c;
        }
    }
}

fn class_match(class: &[u8], c: u8) -> bool {
    match class {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => is_blank(c),
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        b"space" => is_space(c),
        b"upper" => c.is_ascii_uppercase(),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_cases() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b".a.conf"));
        assert!(fnmatch(b".*", b".a"));
        assert!(fnmatch(b"a?c", b"abc"));
        assert!(!fnmatch(b"a?c", b"ac"));
        assert!(fnmatch(b"[a-c]x", b"bx"));
        assert!(!fnmatch(b"[!a-c]x", b"bx"));
        assert!(fnmatch(b"[^a-c]x", b"dx"));
        assert!(fnmatch(b"[]]", b"]"));
        assert!(fnmatch(b"[[:digit:]]*", b"10-x.conf"));
        assert!(fnmatch(b"\\*", b"*"));
        assert!(!fnmatch(b"\\*", b"a"));
        assert!(fnmatch(b"a[b", b"a[b"));
        assert!(fnmatch(b"*a*b*c", b"xxaybzc"));
        assert!(!fnmatch(b"*a*b*c", b"xxaybz"));
        assert!(fnmatch(b"**", b""));
        assert!(!fnmatch(b"x\\", b"x\\"));
    }

    #[test]
    fn dirname_cases() {
        assert_eq!(dirname(b"/etc/ld.so.conf"), b"/etc");
        assert_eq!(dirname(b"/etc/ld.so.conf.d/a.conf"), b"/etc/ld.so.conf.d");
        assert_eq!(dirname(b"/x"), b"/");
        assert_eq!(dirname(b"x"), b".");
        assert_eq!(dirname(b"//a//b//"), b"//a");
    }
}
