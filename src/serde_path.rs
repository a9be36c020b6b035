//! Serialize paths as (lossy) strings: serde's own `PathBuf` impl fails on non-UTF-8.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serializer};

/// Serialize a path as a string, replacing invalid UTF-8 with U+FFFD.
pub fn serialize<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// Deserialize a path from a string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Ok(PathBuf::from(String::deserialize(d)?))
}
