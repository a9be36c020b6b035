//! ELF dlopen metadata: the `.note.dlopen` notes of the freedesktop/systemd specification
//! (systemd `docs/ELF_DLOPEN_METADATA.md`).
//!
//! A library or program that `dlopen`s another library by name can declare it in a note of
//! owner `"FDO"` and type `0x407c0c0a` ([`NT_FDO_DLOPEN_METADATA`]). The note's descriptor is
//! a NUL-terminated UTF-8 JSON array of objects:
//!
//! ```json
//! [{"soname": ["libfoo.so.1", "libfoo.so.0"], "feature": "foo", "description": "Foo support",
//!   "priority": "suggested"}]
//! ```
//!
//! `soname` (required) lists alternatives, the most preferred first; `priority` is
//! `required`, `recommended` (the default) or `suggested`. Unknown keys are ignored. Several
//! notes in one file mean one longer array, in file order.
//!
//! The notes are found the way the loader sees the file: through the `PT_NOTE` program headers,
//! not the (strippable) section headers. Reading is bounded: at most [`MAX_NOTE_BYTES`] bytes
//! of note headers, names and descriptors per file, and never past the file's end. Anything
//! wrong (a damaged note, malformed JSON, an entry without `soname`) becomes a line in
//! [`DlopenNotes::problems`]; well-formed entries of the same file are still returned.
//!
//! ```
//! let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
//! let notes = depclose::elf::notes::dlopen_notes(&data);
//! assert!(notes.problems.is_empty(), "{:?}", notes.problems);
//! ```

use goblin::elf::program_header::PT_NOTE;
use serde::Serialize;
use serde_json::Value;

use crate::elf::{self, RawHeader, Source};

/// The note type of ELF dlopen metadata (`n_type`), with owner [`NOTE_OWNER`].
pub const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;

/// The note owner (`n_name`, without its NUL) of ELF dlopen metadata.
pub const NOTE_OWNER: &[u8] = b"FDO";

/// At most this many bytes of note headers, names and descriptors are read from one file.
pub const MAX_NOTE_BYTES: u64 = 1 << 20;

/// How much a dlopen'd library matters to the object that names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Priority {
    /// The object does not work without it.
    Required,
    /// Needed for usual functionality (the specification's default).
    #[default]
    Recommended,
    /// Optional functionality.
    Suggested,
}

impl Priority {
    /// The specification's spelling: `required`, `recommended` or `suggested`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Required => "required",
            Priority::Recommended => "recommended",
            Priority::Suggested => "suggested",
        }
    }

    /// Parse the specification's spelling (exact, case-sensitive).
    pub fn from_name(s: &str) -> Option<Priority> {
        match s {
            "required" => Some(Priority::Required),
            "recommended" => Some(Priority::Recommended),
            "suggested" => Some(Priority::Suggested),
            _ => None,
        }
    }
}

/// One object of a dlopen note's JSON array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DlopenEntry {
    /// Alternatives, the most preferred first; never empty, no empty or NUL-containing name.
    pub sonames: Vec<String>,
    /// `feature`, when present and a string.
    pub feature: Option<String>,
    /// `description`, when present and a string.
    pub description: Option<String>,
    /// `priority` ([`Priority::Recommended`] when absent).
    pub priority: Priority,
}

/// The dlopen metadata of one file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DlopenNotes {
    /// The entries of every dlopen note, in file order.
    pub entries: Vec<DlopenEntry>,
    /// What could not be read: a damaged or over-long note, malformed JSON, an entry without
    /// `soname`, and the like. One line each, in file order.
    pub problems: Vec<String>,
}

/// The dlopen notes of an ELF file held in memory. A file without notes (or not ELF at all)
/// gives no entries; see [`DlopenNotes::problems`] for what could not be read.
pub fn dlopen_notes(data: &[u8]) -> DlopenNotes {
    dlopen_notes_source(data)
}

/// Round `n` up to a multiple of `align` (a power of two), `None` on overflow.
fn align_up(n: u64, align: u64) -> Option<u64> {
    Some(n.checked_add(align - 1)? & !(align - 1))
}

/// A read budget over one file: every byte read is charged, and no read passes the file.
struct Budget<'a, S: Source + ?Sized> {
    src: &'a S,
    left: u64,
    /// Dlopen descriptors left unread because they did not fit in what was left.
    skipped: usize,
    /// Set when a note header did not fit: nothing after it is looked at.
    stopped: bool,
}

/// The error of a read that the budget does not allow.
const OVER_LIMIT: &str = "over the note read limit";

impl<'a, S: Source + ?Sized> Budget<'a, S> {
    fn read(&mut self, off: u64, len: u64) -> Result<std::borrow::Cow<'a, [u8]>, &'static str> {
        if len > self.left {
            return Err(OVER_LIMIT);
        }
        let data = self.src.get(off, len).ok_or("outside the file")?;
        self.left -= len;
        Ok(data)
    }
}

/// [`dlopen_notes`] over any [`Source`].
pub(crate) fn dlopen_notes_source<S: Source + ?Sized>(src: &S) -> DlopenNotes {
    let mut out = DlopenNotes::default();
    let Some(head) = src.get(0, src.size().min(64)) else {
        out.problems.push("cannot read the ELF header".into());
        return out;
    };
    if !elf::is_elf(&head) {
        out.problems.push("not an ELF file".into());
        return out;
    }
    let Some(raw) = RawHeader::read(&head) else {
        out.problems.push("ELF header truncated or of unknown class/byte order".into());
        return out;
    };
    let Some(phdrs) = elf::program_headers(src) else {
        out.problems.push("program headers outside the file".into());
        return out;
    };
    let be = raw.big_endian();
    let mut budget = Budget { src, left: MAX_NOTE_BYTES.min(src.size()), skipped: 0, stopped: false };
    for (i, ph) in phdrs.iter().enumerate() {
        if ph.p_type != PT_NOTE || ph.p_filesz == 0 {
            continue;
        }
        match segment_notes(&mut budget, ph.p_offset, ph.p_filesz, ph.p_align, be, &mut out) {
            Err(e) if e == OVER_LIMIT => budget.stopped = true,
            Err(e) => out.problems.push(format!("PT_NOTE segment {i} (offset {:#x}): {e}", ph.p_offset)),
            Ok(()) => {}
        }
        if budget.stopped {
            break;
        }
    }
    if budget.skipped > 0 || budget.stopped {
        out.problems.push(format!(
            "{} dlopen note descriptor(s) not read{}: {OVER_LIMIT} ({MAX_NOTE_BYTES} bytes per file)",
            budget.skipped,
            if budget.stopped { ", and the notes after them not looked at" } else { "" }
        ));
    }
    out
}

/// Walk the notes of one `PT_NOTE` segment at `[off, off + len)`.
fn segment_notes<S: Source + ?Sized>(
    budget: &mut Budget<'_, S>,
    off: u64,
    len: u64,
    p_align: u64,
    be: bool,
    out: &mut DlopenNotes,
) -> Result<(), &'static str> {
    // As glibc and binutils read notes: 8-byte alignment of the descriptor and the next note
    // in a segment aligned to 8 (`.note.gnu.property` on 64-bit targets), 4 otherwise.
    let align = if p_align == 8 { 8 } else { 4 };
    let end = off.checked_add(len).ok_or("segment overflows")?;
    if end > budget.src.size() {
        return Err("segment extends past the end of the file");
    }
    let mut at = off;
    while at < end {
        if end - at < 12 {
            return Err("truncated note header");
        }
        let h = budget.read(at, 12)?;
        let w = |k: usize| -> u64 {
            let b: [u8; 4] = [h[k], h[k + 1], h[k + 2], h[k + 3]];
            u64::from(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
        };
        let (namesz, descsz, ntype) = (w(0), w(4), w(8) as u32);
        drop(h);
        let name_at = at + 12;
        let desc_at = align_up(name_at + namesz, align).ok_or("note overflows")?;
        let next = align_up(desc_at.checked_add(descsz).ok_or("note overflows")?, align).ok_or("note overflows")?;
        if desc_at.checked_add(descsz).is_none_or(|e| e > end) {
            return Err("note extends past its segment");
        }
        // The owner is "FDO" with its NUL (namesz 4); a name without the NUL is accepted too.
        if ntype == NT_FDO_DLOPEN_METADATA && (namesz == 3 || namesz == 4) {
            let name = budget.read(name_at, namesz)?;
            let owner = name.strip_suffix(b"\0").unwrap_or(&name) == NOTE_OWNER;
            drop(name);
            if owner {
                match budget.read(desc_at, descsz) {
                    Ok(desc) => parse_descriptor(&desc, desc_at, out),
                    // One over-long note does not hide the others: skip it, count it.
                    Err(e) if e == OVER_LIMIT => budget.skipped += 1,
                    Err(e) => out.problems.push(format!("dlopen note at {at:#x}: descriptor of {descsz} bytes {e}")),
                }
            }
        }
        at = next;
    }
    Ok(())
}

/// Parse one note descriptor (JSON text up to the first NUL) into `out`.
fn parse_descriptor(desc: &[u8], desc_at: u64, out: &mut DlopenNotes) {
    let text = match crate::bytes::find_byte(desc, 0) {
        Some(n) => &desc[..n],
        None => {
            out.problems.push(format!("dlopen note descriptor at {desc_at:#x}: not NUL-terminated"));
            desc
        }
    };
    let value: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            out.problems.push(format!("dlopen note descriptor at {desc_at:#x}: malformed JSON: {e}"));
            return;
        }
    };
    let Value::Array(items) = value else {
        out.problems.push(format!("dlopen note descriptor at {desc_at:#x}: JSON is not an array"));
        return;
    };
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("dlopen note descriptor at {desc_at:#x}, element {i}");
        let Value::Object(mut obj) = item else {
            out.problems.push(format!("{at}: not an object"));
            continue;
        };
        let sonames = match obj.remove("soname") {
            None => {
                out.problems.push(format!("{at}: no \"soname\""));
                continue;
            }
            Some(Value::Array(names)) => {
                let mut v = Vec::with_capacity(names.len());
                let mut bad = false;
                for n in names {
                    match n {
                        Value::String(s) if !s.is_empty() && !s.contains('\0') => v.push(s),
                        _ => bad = true,
                    }
                }
                if bad {
                    out.problems.push(format!("{at}: \"soname\" holds something other than non-empty names"));
                    continue;
                }
                if v.is_empty() {
                    out.problems.push(format!("{at}: \"soname\" is empty"));
                    continue;
                }
                v
            }
            Some(_) => {
                out.problems.push(format!("{at}: \"soname\" is not an array of strings"));
                continue;
            }
        };
        let mut text_field = |key: &str, obj: &mut serde_json::Map<String, Value>| match obj.remove(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                out.problems.push(format!("{at}: \"{key}\" is not a string (ignored)"));
                None
            }
        };
        let feature = text_field("feature", &mut obj);
        let description = text_field("description", &mut obj);
        let priority = match obj.remove("priority") {
            None => Priority::Recommended,
            Some(Value::String(s)) => match Priority::from_name(&s) {
                Some(p) => p,
                None => {
                    out.problems.push(format!("{at}: unknown priority {s:?} (taken as \"recommended\")"));
                    Priority::Recommended
                }
            },
            Some(_) => {
                out.problems.push(format!("{at}: \"priority\" is not a string (taken as \"recommended\")"));
                Priority::Recommended
            }
        };
        out.entries.push(DlopenEntry { sonames, feature, description, priority });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit little-endian ELF file with one PT_NOTE segment holding `notes`.
    fn elf_with_notes(notes: &[u8], p_align: u64) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16] = 3;
        f[18] = 62;
        f[20] = 1;
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut f[64..120];
        ph[0..4].copy_from_slice(&PT_NOTE.to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes());
        ph[32..40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&(notes.len() as u64).to_le_bytes());
        ph[48..56].copy_from_slice(&p_align.to_le_bytes());
        f.extend_from_slice(notes);
        f
    }

    fn note(name: &[u8], ntype: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&(name.len() as u32).to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&ntype.to_le_bytes());
        n.extend_from_slice(name);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n.extend_from_slice(desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n
    }

    #[test]
    fn reads_entries_and_problems() {
        let mut notes = note(b"GNU\0", 3, b"0123456789abcdef0123");
        notes.extend(note(
            b"FDO\0",
            NT_FDO_DLOPEN_METADATA,
            b"[{\"soname\":[\"liba.so.1\",\"liba.so.0\"]},{\"x\":1}]\0",
        ));
        notes.extend(note(b"FDX\0", NT_FDO_DLOPEN_METADATA, b"[{\"soname\":[\"libwrong.so\"]}]\0"));
        notes.extend(note(
            b"FDO\0",
            NT_FDO_DLOPEN_METADATA,
            b"[{\"soname\":[\"libb.so\"],\"priority\":\"required\"}\0",
        ));
        let r = dlopen_notes(&elf_with_notes(&notes, 4));
        assert_eq!(r.entries.len(), 1, "{r:?}");
        assert_eq!(r.entries[0].sonames, ["liba.so.1", "liba.so.0"]);
        assert_eq!(r.entries[0].priority, Priority::Recommended);
        assert_eq!(r.problems.len(), 2, "{r:?}");
        assert!(r.problems[0].contains("no \"soname\""));
        assert!(r.problems[1].contains("malformed JSON"));
    }

    #[test]
    fn read_budget_spans_the_file() {
        // 1200 notes of about 1 KiB: those past the 1 MiB budget are not read, with one
        // problem, and the first ones are.
        let json = format!("[{{\"soname\":[\"liba.so.1\"],\"description\":\"{}\"}}]\0", "d".repeat(1000));
        let one = note(b"FDO\0", NT_FDO_DLOPEN_METADATA, json.as_bytes());
        let notes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1200).collect();
        let r = dlopen_notes(&elf_with_notes(&notes, 4));
        // Each note costs its header, name and descriptor.
        let fit = (MAX_NOTE_BYTES as usize) / one.len();
        assert_eq!(r.entries.len(), fit);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("over the note read limit"), "{:?}", r.problems);
    }

    #[test]
    fn truncated_at_every_length_never_panics() {
        let notes = note(b"FDO\0", NT_FDO_DLOPEN_METADATA, b"[{\"soname\":[\"liba.so.1\"]}]\0");
        let f = elf_with_notes(&notes, 4);
        assert_eq!(dlopen_notes(&f).entries.len(), 1);
        for n in 0..f.len() {
            let r = dlopen_notes(&f[..n]);
            assert!(r.entries.is_empty());
            assert!(!r.problems.is_empty(), "length {n}");
        }
    }
}
