//! `#!` scripts: the interpreter line, parsed as the Linux kernel parses it
//! (`fs/binfmt_script.c`, Linux 5.1 and later, `BINPRM_BUF_SIZE` 256).
//!
//! The kernel reads the first [`BINPRM_BUF_SIZE`] bytes of the file (a shorter file is padded
//! with NULs) and, when they start with `#!`:
//!
//! - the line ends at the first newline, looked for up to the first NUL. Without one, the
//!   interpreter must be followed by a space, tab or NUL within the buffer (otherwise its name
//!   may be cut, and the exec fails with `ENOEXEC`), and the line ends before the buffer's last
//!   byte;
//! - spaces and tabs (only those: not `\r`) are trimmed from the end of the line;
//! - the interpreter is the first run of bytes after `#!` and any spaces or tabs, up to a
//!   space, tab or NUL;
//! - the optional argument is everything after the spaces and tabs that follow, up to the end
//!   of the line or a NUL: one argument, spaces included (`#!/usr/bin/env python3 -u` passes
//!   `python3 -u`), never split. A NUL right after the interpreter means no argument.
//!
//! The kernel then runs the interpreter with `[interpreter, argument?, script, args...]`; a
//! relative interpreter is looked up from the caller's working directory, and the interpreter
//! may itself be a script (up to 4 levels, then `ELOOP`). [`shebang`] does neither: it only
//! reads the line.
//!
//! ```
//! let s = depclose::script::shebang(b"#! /usr/bin/env  python3 -u \n").unwrap();
//! assert_eq!(s.interpreter, "/usr/bin/env");
//! assert_eq!(s.arg.unwrap(), "python3 -u");
//! ```

use serde::Serialize;

use crate::bytes::{find_byte, Bytes};

/// How many bytes of a file the kernel reads to recognise a script (`BINPRM_BUF_SIZE`).
pub const BINPRM_BUF_SIZE: usize = 256;

/// The interpreter line of a `#!` script.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Shebang {
    /// The interpreter, as written (absolute or relative); never empty, no NUL, space or tab.
    pub interpreter: Bytes,
    /// The one optional argument: the rest of the line, trailing spaces and tabs removed, up
    /// to a NUL; no NUL. Empty (the kernel passes `""`) only when a NUL follows the spaces
    /// after the interpreter.
    pub arg: Option<Bytes>,
}

fn spacetab(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The interpreter line of `data` (the file's first bytes; more than [`BINPRM_BUF_SIZE`]
/// are ignored), or `None` when the kernel would not run it as a script (`ENOEXEC`: no
/// `#!`, nothing but blanks on the line, or a name that may be cut at the buffer's end), and
/// when the name is empty (a NUL right after `#!` and any blanks: the kernel then tries an
/// interpreter named `""`, and the exec fails: `EACCES` on Linux 6.18).
pub fn shebang(data: &[u8]) -> Option<Shebang> {
    let mut buf = [0u8; BINPRM_BUF_SIZE];
    let n = data.len().min(BINPRM_BUF_SIZE);
    buf[..n].copy_from_slice(&data[..n]);
    if buf[0] != b'#' || buf[1] != b'!' {
        return None;
    }
    let last = BINPRM_BUF_SIZE - 1;
    // Positions are inclusive ranges [first, last], as in the kernel's helpers.
    let non_spacetab = |first: usize, last: usize| (first..=last).find(|&i| !spacetab(buf[i]));
    let terminator = |first: usize, last: usize| (first..=last).find(|&i| spacetab(buf[i]) || buf[i] == 0);
    // strnchr stops at a NUL.
    let nul = find_byte(&buf, 0).unwrap_or(BINPRM_BUF_SIZE);
    let mut end = match find_byte(&buf[..nul], b'\n') {
        Some(e) => e,
        None => {
            let first = non_spacetab(2, last)?;
            terminator(first, last)?;
            last
        }
    };
    while spacetab(buf[end - 1]) {
        end -= 1;
    }
    let name = non_spacetab(2, end)?;
    if name == end {
        return None;
    }
    let sep = terminator(name, end);
    let arg = match sep {
        Some(s) if buf[s] != 0 => non_spacetab(s, end),
        _ => None,
    };
    // The kernel writes a NUL at `end` (and at `sep` when there is an argument); each string
    // is then read up to its first NUL.
    let upto_nul = |from: usize, to: usize| {
        let s = &buf[from..to];
        &s[..find_byte(s, 0).unwrap_or(s.len())]
    };
    let name_end = match arg {
        Some(_) => sep.unwrap_or(end),
        None => end,
    };
    let interpreter = upto_nul(name, name_end);
    if interpreter.is_empty() {
        return None;
    }
    let arg = arg.map(|a| upto_nul(a, end));
    Some(Shebang { interpreter: Bytes::from(interpreter), arg: arg.map(Bytes::from) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Option<(String, Option<String>)> {
        shebang(s).map(|s| (s.interpreter.to_string(), s.arg.map(|a| a.to_string())))
    }

    #[test]
    fn lines() {
        let one = |i: &str| Some((i.to_string(), None));
        let two = |i: &str, a: &str| Some((i.to_string(), Some(a.to_string())));
        assert_eq!(parse(b"#!/bin/sh\n"), one("/bin/sh"));
        assert_eq!(parse(b"#!/bin/sh"), one("/bin/sh"));
        assert_eq!(parse(b"#! \t/bin/sh -e\t \nrest"), two("/bin/sh", "-e"));
        assert_eq!(parse(b"#!/usr/bin/env python3 -u  x\n"), two("/usr/bin/env", "python3 -u  x"));
        assert_eq!(parse(b"#!/bin/sh\r\n"), one("/bin/sh\r"));
        assert_eq!(parse(b"#!/bin/sh\0 -e\n"), one("/bin/sh"));
        assert_eq!(parse(b"#!/bin/sh -e\0x\n"), two("/bin/sh", "-e"));
        assert_eq!(parse(b"#!sh\n"), one("sh"));
        assert_eq!(parse(b"#!/bin/sh \0-e\n"), two("/bin/sh", ""));
        assert_eq!(parse(b"#!\n"), None);
        assert_eq!(parse(b"#!   \t\n"), None);
        assert_eq!(parse(b"#!"), None);
        assert_eq!(parse(b"#"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\x7fELF"), None);
        assert_eq!(parse(b" #!/bin/sh\n"), None);
        // A NUL before the newline: the newline is not seen, the line runs to the buffer end.
        assert_eq!(parse(b"#!/bin/sh\0\n"), one("/bin/sh"));
        // An interpreter that fills the buffer may be cut: not run.
        let mut long = b"#!/".to_vec();
        long.extend(std::iter::repeat_n(b'a', 300));
        assert_eq!(parse(&long), None);
        // Cut argument is fine: the line ends before the buffer's last byte.
        let mut cut = b"#!/bin/sh ".to_vec();
        cut.extend(std::iter::repeat_n(b'x', 300));
        let (i, a) = parse(&cut).unwrap();
        assert_eq!((i.as_str(), a.unwrap().len()), ("/bin/sh", BINPRM_BUF_SIZE - 1 - 10));
        // Name exactly up to the last byte with a terminator at it: accepted, the last byte
        // is not part of the line.
        let mut edge = b"#!/".to_vec();
        edge.extend(std::iter::repeat_n(b'b', BINPRM_BUF_SIZE - 4));
        edge.push(b' ');
        let (i, a) = parse(&edge).unwrap();
        assert_eq!((i.len(), a), (BINPRM_BUF_SIZE - 3, None));
    }

    #[test]
    fn every_prefix_and_byte_never_panics() {
        let base = b"#! /usr/bin/env  python3 -u \t\nprint(1)\n".to_vec();
        for n in 0..base.len() {
            let _ = shebang(&base[..n]);
            for b in [0u8, b' ', b'\t', b'\n', b'\r', 0xff] {
                let mut v = base.clone();
                v[n] = b;
                if let Some(s) = shebang(&v) {
                    assert!(!s.interpreter.is_empty() && !s.interpreter.iter().any(|&c| c == 0 || spacetab(c)));
                    assert!(s.arg.is_none_or(|a| !a.contains(&0)));
                }
            }
        }
    }
}
