//! Serialize paths as strings: serde's own `PathBuf` impl fails on non-UTF-8.
//!
//! A UTF-8 path is a plain string. A path that is not UTF-8 is written as its lossy display
//! string (invalid bytes replaced with U+FFFD); the JSON writers of `emit`
//! (`write_manifest`, `write_json`) serialize through [`to_writer_exact`], which adds beside
//! such a field `FIELD` a sibling `FIELD_bytes` holding the path's exact bytes in standard
//! base64 (RFC 4648, with padding), so that every path can be recovered byte for byte
//! ([`path_from_json`], re-exported as `emit::path_from_json`). Other serializers get the lossy string only.

// Without `emit`, only `serialize` and `deserialize` have callers.
#![cfg_attr(not(feature = "emit"), allow(dead_code))]

use std::cell::Cell;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    /// Inside `to_writer_exact`: mark non-UTF-8 paths for the rewrite.
    static EXACT: Cell<bool> = const { Cell::new(false) };
}

/// The exact path in member `field` of a JSON object written by the manifest and JSON
/// writers of `emit`: `FIELD_bytes` (the bytes in
/// standard base64, present when the path is not UTF-8) if there is one, else the string
/// `FIELD`. `None` if neither is there or `FIELD_bytes` is not base64.
///
/// ```
/// # #[cfg(feature = "emit")] {
/// let entry = serde_json::json!({ "path": "/x\u{fffd}", "path_bytes": "L3j/" });
/// let p = depclose::emit::path_from_json(&entry, "path").unwrap();
/// assert_eq!(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()), b"/x\xff");
/// # }
/// ```
pub fn path_from_json(object: &serde_json::Value, field: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    if let Some(b) = object.get(format!("{field}_bytes")).and_then(|v| v.as_str()) {
        return unbase64(b).map(|v| PathBuf::from(std::ffi::OsString::from_vec(v)));
    }
    object.get(field).and_then(|v| v.as_str()).map(PathBuf::from)
}

/// Serialize a path as a string, replacing invalid UTF-8 with U+FFFD (and keeping the bytes
/// when serialized by [`to_writer_exact`]).
pub fn serialize<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    match p.to_str() {
        Some(text) => s.serialize_str(text),
        None if EXACT.with(Cell::get) => {
            // NUL never occurs in a path: the marker cannot be a real value.
            let marked = format!("\0{}\0{}", base64(p.as_os_str().as_bytes()), p.to_string_lossy());
            s.serialize_str(&marked)
        }
        None => s.serialize_str(&p.to_string_lossy()),
    }
}

/// Deserialize a path from a string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Ok(PathBuf::from(String::deserialize(d)?))
}

/// Resets the marking state even when serialization fails.
struct Exact;

impl Exact {
    fn begin() -> Exact {
        EXACT.with(|e| e.set(true));
        Exact
    }
}

impl Drop for Exact {
    fn drop(&mut self) {
        EXACT.with(|e| e.set(false));
    }
}

/// Write `value` as JSON to `out` (pretty-printed or compact), streaming, every non-UTF-8
/// path field `F` followed by a member `F_bytes`: its bytes in base64. The output is byte for
/// byte serde_json's when every path is UTF-8.
pub(crate) fn to_writer_exact<W, T>(out: W, value: &T, pretty: bool) -> serde_json::Result<()>
where
    W: std::io::Write,
    T: Serialize + ?Sized,
{
    let _guard = Exact::begin();
    if pretty {
        let f = ExactFormatter::new(serde_json::ser::PrettyFormatter::new());
        value.serialize(&mut serde_json::Serializer::with_formatter(out, f))
    } else {
        let f = ExactFormatter::new(serde_json::ser::CompactFormatter);
        value.serialize(&mut serde_json::Serializer::with_formatter(out, f))
    }
}

/// A serde_json formatter that turns a marked string (`"\0B64\0LOSSY"`, made by
/// [`serialize`] inside [`to_writer_exact`]) that is an object member's value into the
/// member with the lossy text and a member `KEY_bytes` with the base64 after it, laid out by
/// the inner formatter as any member. A marked string elsewhere (an array element) keeps
/// its lossy text only.
struct ExactFormatter<F> {
    inner: F,
    /// Inside an object key: its text is kept in `key`.
    in_key: bool,
    key: Vec<u8>,
    /// The string being written has had no content yet.
    string_start: bool,
    /// Between the two NULs of a marker: the base64 goes here, not out.
    in_marker: bool,
    /// The base64 of the current member's marked value.
    marked: Option<Vec<u8>>,
}

impl<F> ExactFormatter<F> {
    fn new(inner: F) -> Self {
        ExactFormatter { inner, in_key: false, key: Vec::new(), string_start: false, in_marker: false, marked: None }
    }
}

type IoResult = std::io::Result<()>;

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for ExactFormatter<F> {
    fn begin_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.string_start = !self.in_key;
        self.inner.begin_string(w)
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.string_start = false;
        self.in_marker = false;
        self.inner.end_string(w)
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(&mut self, w: &mut W, fragment: &str) -> IoResult {
        self.string_start = false;
        if self.in_marker {
            if let Some(m) = &mut self.marked {
                m.extend_from_slice(fragment.as_bytes());
            }
            return Ok(());
        }
        if self.in_key {
            self.key.extend_from_slice(fragment.as_bytes());
        }
        self.inner.write_string_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> IoResult {
        if let serde_json::ser::CharEscape::AsciiControl(0) = escape {
            if self.string_start && EXACT.with(Cell::get) {
                self.string_start = false;
                self.in_marker = true;
                self.marked = Some(Vec::new());
                return Ok(());
            }
            if self.in_marker {
                self.in_marker = false;
                return Ok(());
            }
        }
        self.string_start = false;
        if self.in_key {
            // Keys are field names: no escapes expected; a key with one gets no sibling.
            self.key.push(0xff);
        }
        self.inner.write_char_escape(w, escape)
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> IoResult {
        self.inner.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        // A marked array element: no member to put the bytes beside.
        self.marked = None;
        self.inner.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> IoResult {
        self.in_key = true;
        self.key.clear();
        self.marked = None;
        self.inner.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.in_key = false;
        self.inner.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> IoResult {
        self.inner.end_object_value(w)?;
        let Some(b64) = self.marked.take() else { return Ok(()) };
        let Ok(key) = std::str::from_utf8(&self.key) else { return Ok(()) };
        let b64 = std::str::from_utf8(&b64).unwrap_or_default();
        let i = &mut self.inner;
        i.begin_object_key(w, false)?;
        i.begin_string(w)?;
        i.write_string_fragment(w, key)?;
        i.write_string_fragment(w, "_bytes")?;
        i.end_string(w)?;
        i.end_object_key(w)?;
        i.begin_object_value(w)?;
        i.begin_string(w)?;
        i.write_string_fragment(w, b64)?;
        i.end_string(w)?;
        i.end_object_value(w)
    }

    fn write_raw_fragment<W: ?Sized + std::io::Write>(&mut self, w: &mut W, fragment: &str) -> IoResult {
        self.inner.write_raw_fragment(w, fragment)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4).
pub(crate) fn base64(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                s.push(B64[((n >> shift) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The bytes of standard base64 (padding optional); `None` if it is not base64.
pub(crate) fn unbase64(text: &str) -> Option<Vec<u8>> {
    let t = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(t.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in t.bytes() {
        let v = B64.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_rfc4648() {
        for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), enc);
            assert_eq!(unbase64(enc).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unbase64(&base64(&all)).unwrap(), all);
    }

    #[derive(Serialize)]
    struct Two {
        #[serde(with = "super")]
        path: PathBuf,
        #[serde(with = "super")]
        target: PathBuf,
    }

    #[test]
    fn non_utf8_fields_get_a_bytes_sibling_in_both_layouts() {
        use std::ffi::OsStr;
        let v = Two { path: PathBuf::from(OsStr::from_bytes(b"/x\xff\"")), target: PathBuf::from("/ok") };
        let exact = |v: &Two, pretty: bool| {
            let mut out = Vec::new();
            to_writer_exact(&mut out, v, pretty).unwrap();
            String::from_utf8(out).unwrap()
        };
        let pretty = exact(&v, true);
        assert_eq!(
            pretty,
            "{\n  \"path\": \"/x\u{fffd}\\\"\",\n  \"path_bytes\": \"L3j/Ig==\",\n  \"target\": \"/ok\"\n}"
        );
        let compact = exact(&v, false);
        assert_eq!(compact, "{\"path\":\"/x\u{fffd}\\\"\",\"path_bytes\":\"L3j/Ig==\",\"target\":\"/ok\"}");
        // UTF-8 only: serde_json's own bytes.
        let u = Two { path: PathBuf::from("/a"), target: PathBuf::from("/b") };
        assert_eq!(exact(&u, true).into_bytes(), serde_json::to_vec_pretty(&u).unwrap());
        // Other serializers: the lossy string.
        assert_eq!(serde_json::to_value(&v).unwrap()["path"], "/x\u{fffd}\"");
        // Objects in an array: each member gets its own sibling.
        let list = vec![v, Two { path: PathBuf::from("/p"), target: PathBuf::from(OsStr::from_bytes(b"\xfe")) }];
        let mut out = Vec::new();
        to_writer_exact(&mut out, &list, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{\"path\":\"/x\u{fffd}\\\"\",\"path_bytes\":\"L3j/Ig==\",\"target\":\"/ok\"},\
             {\"path\":\"/p\",\"target\":\"\u{fffd}\",\"target_bytes\":\"/g==\"}]"
        );
    }
}
