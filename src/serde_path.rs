//! Serialize paths as strings: serde's own `PathBuf` impl fails on non-UTF-8.
//!
//! A UTF-8 path is a plain string. A path that is not UTF-8 is written as its lossy display
//! string (invalid bytes replaced with U+FFFD); the JSON writers of [`crate::emit`]
//! (`write_manifest`, `write_json`) serialize through [`to_json_exact`], which adds beside
//! such a field `FIELD` a sibling `FIELD_bytes` holding the path's exact bytes in standard
//! base64 (RFC 4648, with padding), so that every path can be recovered byte for byte
//! ([`crate::emit::path_from_json`]). Other serializers get the lossy string only.

use std::cell::Cell;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    /// Inside `to_json_exact`: mark non-UTF-8 paths for the rewrite.
    static EXACT: Cell<bool> = const { Cell::new(false) };
    /// How many paths were marked.
    static MARKED: Cell<usize> = const { Cell::new(0) };
}

/// Serialize a path as a string, replacing invalid UTF-8 with U+FFFD (and keeping the bytes
/// when serialized by [`to_json_exact`]).
pub fn serialize<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    match p.to_str() {
        Some(text) => s.serialize_str(text),
        None if EXACT.with(Cell::get) => {
            MARKED.with(|m| m.set(m.get() + 1));
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
        MARKED.with(|m| m.set(0));
        Exact
    }
}

impl Drop for Exact {
    fn drop(&mut self) {
        EXACT.with(|e| e.set(false));
    }
}

/// `value` as JSON (pretty-printed or compact), every non-UTF-8 path field `F` followed by
/// `F_bytes`: its bytes in base64. The output is byte for byte serde_json's when every path
/// is UTF-8.
pub(crate) fn to_json_exact<T: Serialize + ?Sized>(value: &T, pretty: bool) -> serde_json::Result<Vec<u8>> {
    let guard = Exact::begin();
    let out = if pretty { serde_json::to_vec_pretty(value)? } else { serde_json::to_vec(value)? };
    drop(guard);
    if MARKED.with(Cell::get) == 0 {
        return Ok(out);
    }
    Ok(rewrite(&out))
}

/// The marked strings `"KEY": "\u0000B64\u0000LOSSY"` become `"KEY": "LOSSY", "KEY_bytes":
/// "B64"` (with the writer's own layout); a marked string that is not an object member's
/// value keeps its lossy text only.
fn rewrite(json: &[u8]) -> Vec<u8> {
    const MARK: &[u8] = b"\"\\u0000";
    let mut out = Vec::with_capacity(json.len() + 64);
    let mut i = 0;
    while let Some(k) = memchr::memmem::find(&json[i..], MARK) {
        let at = i + k;
        out.extend_from_slice(&json[i..at]);
        let b64_start = at + MARK.len();
        let Some(b64_len) = memchr::memmem::find(&json[b64_start..], b"\\u0000") else {
            out.extend_from_slice(&json[at..]);
            return out;
        };
        let b64 = &json[b64_start..b64_start + b64_len];
        let lossy_start = b64_start + b64_len + 6;
        let mut j = lossy_start;
        while j < json.len() && json[j] != b'"' {
            j += if json[j] == b'\\' { 2 } else { 1 };
        }
        let lossy = &json[lossy_start..j.min(json.len())];
        out.push(b'"');
        out.extend_from_slice(lossy);
        out.push(b'"');
        if let Some((key, sep)) = member_key(json, at) {
            out.push(b',');
            out.extend_from_slice(&sep);
            out.push(b'"');
            out.extend_from_slice(key);
            out.extend_from_slice(b"_bytes\":");
            if at > 0 && json[at - 1] == b' ' {
                out.push(b' ');
            }
            out.push(b'"');
            out.extend_from_slice(b64);
            out.push(b'"');
        }
        i = (j + 1).min(json.len());
    }
    out.extend_from_slice(&json[i..]);
    out
}

/// The key of the object member whose value starts at `at`, and what separates members
/// there (a newline and the key's indentation when pretty-printed, nothing when compact).
fn member_key(json: &[u8], at: usize) -> Option<(&[u8], Vec<u8>)> {
    let mut p = at;
    if p > 0 && json[p - 1] == b' ' {
        p -= 1;
    }
    if p < 2 || json[p - 1] != b':' || json[p - 2] != b'"' {
        return None;
    }
    let close = p - 2;
    let open = memchr::memrchr(b'"', &json[..close])?;
    let key = &json[open + 1..close];
    if key.contains(&b'\\') {
        return None;
    }
    let line_start = memchr::memrchr(b'\n', &json[..open]).map(|n| n + 1);
    let sep = match line_start {
        Some(ls) if json[ls..open].iter().all(|b| *b == b' ') => {
            let mut v = vec![b'\n'];
            v.extend_from_slice(&json[ls..open]);
            v
        }
        _ => Vec::new(),
    };
    Some((key, sep))
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
        let pretty = String::from_utf8(to_json_exact(&v, true).unwrap()).unwrap();
        assert_eq!(
            pretty,
            "{\n  \"path\": \"/x\u{fffd}\\\"\",\n  \"path_bytes\": \"L3j/Ig==\",\n  \"target\": \"/ok\"\n}"
        );
        let compact = String::from_utf8(to_json_exact(&v, false).unwrap()).unwrap();
        assert_eq!(compact, "{\"path\":\"/x\u{fffd}\\\"\",\"path_bytes\":\"L3j/Ig==\",\"target\":\"/ok\"}");
        // UTF-8 only: serde_json's own bytes.
        let u = Two { path: PathBuf::from("/a"), target: PathBuf::from("/b") };
        assert_eq!(to_json_exact(&u, true).unwrap(), serde_json::to_vec_pretty(&u).unwrap());
        // Other serializers: the lossy string.
        assert_eq!(serde_json::to_value(&v).unwrap()["path"], "/x\u{fffd}\"");
    }
}
