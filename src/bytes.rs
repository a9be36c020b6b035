//! `Bytes`: an owned byte string from an ELF file (names, paths), printed lossily.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable byte string taken from an ELF file or a configuration file.
///
/// ELF strings are bytes, not UTF-8. They are kept as bytes everywhere and decoded only
/// for display or JSON, where invalid sequences become U+FFFD. The bytes are shared:
/// cloning a `Bytes` is cheap (a reference count), which matters when thousands of closures
/// name the same libraries.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(Arc<[u8]>);

impl Default for Bytes {
    fn default() -> Self {
        Bytes(Arc::from(&[][..]))
    }
}

impl Bytes {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as a path (no conversion on Unix).
    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.0))
    }

    /// Lossy UTF-8 text, for display.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(Arc::from(b))
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(Arc::from(b))
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Self {
        Bytes(Arc::from(s.as_bytes()))
    }
}

impl std::borrow::Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Bytes {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == other.as_bytes()
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string_lossy())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Bytes::from(s.into_bytes()))
    }
}

/// Position of the first `b` in `hay`.
///
/// On x86-64, `memchr`'s SSE2 routine called directly: SSE2 is part of x86-64, so nothing is
/// detected at run time. (`memchr`'s top-level functions pick AVX2 by run-time CPU detection,
/// whose `CPUID` instructions trap to the hypervisor in a virtual machine and cost a one-file
/// run more than the scans themselves.) Elsewhere, [`memchr::memchr`] (the target's vector
/// routine where it needs no detection, its portable word-at-a-time one otherwise).
pub(crate) fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(f) = memchr::arch::x86_64::sse2::memchr::One::new(b) {
        return f.find(hay);
    }
    find_byte_portable(hay, b)
}

/// [`find_byte`] without the x86-64 routine.
fn find_byte_portable(hay: &[u8], b: u8) -> Option<usize> {
    memchr::memchr(b, hay)
}

/// Position of the first occurrence of `needle` in `hay`.
///
/// On x86-64, `memchr`'s SSE2 "packed pair" search (two rare bytes of the needle compared 16
/// positions at a time, then a comparison), for the same reason as [`find_byte`].
pub(crate) fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(f) = memchr::arch::x86_64::sse2::packedpair::Finder::new(needle) {
        if hay.len() >= f.min_haystack_len() {
            return f.find(hay, needle);
        }
    }
    find_bytes_portable(hay, needle)
}

/// [`find_bytes`] without the x86-64 routine. On x86-64 (where only haystacks shorter than the
/// packed-pair search's minimum, and needles shorter than two bytes, come here), `memchr`'s
/// portable Rabin-Karp search, which detects nothing at run time; elsewhere
/// [`memchr::memmem::find`].
fn find_bytes_portable(hay: &[u8], needle: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    let found = memchr::arch::all::rabinkarp::Finder::new(needle).find(hay, needle);
    #[cfg(not(target_arch = "x86_64"))]
    let found = memchr::memmem::find(hay, needle);
    found
}

/// A directory string in the loader's form: repeated trailing `/` folded into one, and
/// one added when missing (`/usr/lib//` and `/usr/lib` give `/usr/lib/`); `/` stays `/`
/// and an empty string stays empty (it means the working directory).
pub(crate) fn dir_with_slash(d: &mut Vec<u8>) {
    while d.len() > 1 && d.ends_with(b"/") {
        d.pop();
    }
    if !d.is_empty() && !d.ends_with(b"/") {
        d.push(b'/');
    }
}

/// `path` with repeated slashes collapsed, `.` components dropped and a trailing slash
/// removed; `/` alone (or only slashes and dots after a leading `/`) gives `/`. A path that
/// does not start with `/` is given one (`a/b` gives `/a/b`); an empty path stays empty. `..`
/// is kept as it is (what it names depends on symlinks).
pub(crate) fn normalize_path(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for part in path.split(|&b| b == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() && path.first() == Some(&b'/') {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn directories_get_one_trailing_slash() {
        for (given, want) in
            [("/usr/lib", "/usr/lib/"), ("/usr/lib//", "/usr/lib/"), ("/", "/"), ("//", "/"), ("", ""), ("lib", "lib/")]
        {
            let mut d = given.as_bytes().to_vec();
            dir_with_slash(&mut d);
            assert_eq!(d, want.as_bytes(), "{given:?}");
        }
    }
    use super::*;

    #[test]
    fn byte_and_substring_search_agree_with_naive_search() {
        let mut hay = Vec::new();
        for i in 0..300u32 {
            hay.push((i.wrapping_mul(2_654_435_761) >> 24) as u8);
        }
        for start in 0..40 {
            let h = &hay[start..];
            for b in [0u8, 1, 0x80, 0xff, h[h.len() / 2], h[h.len() - 1]] {
                assert_eq!(find_byte(h, b), h.iter().position(|&c| c == b), "byte {b} from {start}");
                assert_eq!(find_byte_portable(h, b), h.iter().position(|&c| c == b), "byte {b} from {start}");
            }
            for (s, l) in [(5usize, 1usize), (17, 3), (100, 8), (h.len() - 4, 4)] {
                let n = &h[s..s + l];
                let naive = h.windows(l).position(|w| w == n);
                assert_eq!(find_bytes(h, n), naive);
                assert_eq!(find_bytes_portable(h, n), naive);
            }
            assert_eq!(find_bytes(h, b"\xfe\xfe\xfe\xfe\xfe"), h.windows(5).position(|w| w == b"\xfe\xfe\xfe\xfe\xfe"));
        }
        // The loader's needles at every kind of offset in a longer haystack (vector bodies,
        // tails, the very end).
        let needle = b"release version 2.";
        for at in [0usize, 1, 15, 16, 17, 31, 500, 982] {
            let mut big: Vec<u8> = (0..1000u32).map(|i| b"re 2.lease v"[(i % 12) as usize]).collect();
            big[at..at + needle.len()].copy_from_slice(needle);
            assert_eq!(find_bytes(&big, needle), Some(at), "at {at}");
            assert_eq!(find_bytes_portable(&big, needle), Some(at), "at {at}");
            assert_eq!(find_byte(&big[..at + 1], b'r'), big.iter().position(|&c| c == b'r'));
        }
        assert_eq!(find_byte(b"", 0), None);
        assert_eq!(find_bytes(b"abc", b""), Some(0));
        assert_eq!(find_bytes(b"ab", b"abc"), None);
    }
}
