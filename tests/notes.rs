//! `.note.dlopen` notes (`depclose::elf::notes`), checked on fixtures assembled by gcc from the
//! snippet of the specification (images.md §2) against two independent readers: pyelftools
//! (the ELF library systemd's `dlopen-notes.py` uses; its own program-header note walk, its
//! own JSON parser) and `readelf -n` (which notes of owner `FDO` exist, and their sizes).

use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::elf::notes::{self, DlopenEntry, DlopenNotes, Priority, NT_FDO_DLOPEN_METADATA};
use serde_json::{json, Value};

/// A fresh directory under the target's temporary directory.
fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("depclose-notes")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
}

/// `s` as the contents of a GNU as string literal (quotes, backslashes and non-ASCII bytes
/// escaped).
fn as_string(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// One note in its own `.note.dlopen` fragment: the snippet of the specification with the
/// owner, type and descriptor given. `desc` is raw assembler for the descriptor.
fn note_asm(owner: &str, ntype: u32, desc: &str) -> String {
    format!(
        "\t.section .note.dlopen,\"a\",@note\n\t.balign 4\n\t.long 2f-1f ; .long 4f-3f ; .long {ntype:#x}\n\
         1:\t.asciz \"{owner}\"\n2:\t.balign 4\n3:\t{desc}\n4:\t.balign 4\n"
    )
}

/// A dlopen note whose descriptor is `json` with its NUL.
fn dlopen_note(json: &str) -> String {
    note_asm("FDO", NT_FDO_DLOPEN_METADATA, &format!(".asciz \"{}\"", as_string(json.as_bytes())))
}

const GNU_STACK: &str = "\t.section .note.GNU-stack,\"\",@progbits\n";

/// Assemble `asm` (plus `extra` gcc arguments and sources) into `dir/name`.
fn build(dir: &Path, name: &str, asm: &str, args: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.S"));
    std::fs::write(&src, format!("{asm}{GNU_STACK}")).unwrap();
    let out = dir.join(name);
    let r = Command::new("gcc").args(args).arg("-o").arg(&out).arg(&src).output().expect("cannot run gcc");
    assert!(r.status.success(), "gcc {args:?} failed:\n{}", String::from_utf8_lossy(&r.stderr));
    out
}

fn shared_lib(dir: &Path, name: &str, asm: &str) -> PathBuf {
    build(dir, name, asm, &["-shared", "-fPIC", &format!("-Wl,-soname,{name}")])
}

/// What pyelftools reads: the dlopen notes of every `PT_NOTE` segment, each descriptor up to
/// its NUL parsed by Python's `json`, normalised like `DlopenEntry`; and the number of dlopen
/// notes whose descriptor is not a JSON array of objects with a `soname` list. Notes with a
/// descriptor longer than `skip_over` bytes are left out (depclose's read limit).
fn pyelftools(file: &Path, skip_over: u64) -> (Vec<Value>, usize) {
    const SCRIPT: &str = r#"
import sys, json
from elftools.elf.elffile import ELFFile
entries, bad = [], 0
with open(sys.argv[1], 'rb') as f:
    for seg in ELFFile(f).iter_segments():
        if seg['p_type'] != 'PT_NOTE':
            continue
        for n in seg.iter_notes():
            if n['n_name'] != 'FDO' or n['n_type'] != 0x407c0c0a or n['n_descsz'] > int(sys.argv[2]):
                continue
            desc = n['n_desc']
            desc = desc.split(b'\0')[0] if isinstance(desc, bytes) else desc.encode()
            try:
                items = json.loads(desc.decode('utf-8'))
            except ValueError:
                bad += 1
                continue
            if not isinstance(items, list):
                bad += 1
                continue
            for it in items:
                if not isinstance(it, dict) or not isinstance(it.get('soname'), list) or not it['soname']:
                    bad += 1
                    continue
                entries.append({'sonames': it['soname'], 'feature': it.get('feature'),
                                'description': it.get('description'),
                                'priority': it.get('priority', 'recommended')})
print(json.dumps({'entries': entries, 'bad': bad}))
"#;
    let r = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(file)
        .arg(skip_over.to_string())
        .output()
        .expect("cannot run /usr/bin/python3");
    assert!(r.status.success(), "pyelftools on {}: {}", file.display(), String::from_utf8_lossy(&r.stderr));
    let v: Value = serde_json::from_slice(&r.stdout).expect("oracle output is JSON");
    (v["entries"].as_array().unwrap().clone(), v["bad"].as_u64().unwrap() as usize)
}

/// `readelf -n`: the data sizes of the notes of owner `FDO` and type 0x407c0c0a (which
/// binutils 2.40 prints as "Unknown note type: (0x407c0c0a)", with no data).
fn readelf_dlopen_sizes(file: &Path) -> Vec<u64> {
    let r = Command::new("readelf").arg("-nW").arg(file).output().expect("cannot run readelf");
    // binutils 2.40 exits 1, silently, after printing a note type it does not know.
    assert!(matches!(r.status.code(), Some(0 | 1)) && r.stderr.is_empty(), "readelf: {r:?}");
    // It prints an unknown note without a line break, so several share one line: read tokens.
    let text = String::from_utf8_lossy(&r.stdout);
    let t: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    for i in 0..t.len().saturating_sub(5) {
        if t[i] == "FDO" && t[i + 2..i + 6] == ["Unknown", "note", "type:", "(0x407c0c0a)"] {
            out.push(u64::from_str_radix(t[i + 1].trim_start_matches("0x"), 16).unwrap());
        }
    }
    out
}

fn as_json(e: &DlopenEntry) -> Value {
    json!({"sonames": e.sonames, "feature": e.feature, "description": e.description, "priority": e.priority})
}

fn read(file: &Path) -> DlopenNotes {
    notes::dlopen_notes(&std::fs::read(file).unwrap())
}

/// depclose and pyelftools agree on the entries of `file`.
fn check_against_oracle(file: &Path) -> DlopenNotes {
    let got = read(file);
    let (want, _) = pyelftools(file, u64::MAX);
    let mine: Vec<Value> = got.entries.iter().map(as_json).collect();
    assert_eq!(mine, want, "{}: depclose and pyelftools differ", file.display());
    got
}

#[test]
fn all_priorities_alternatives_and_several_notes() {
    let t = tmpdir();
    let asm = [
        dlopen_note(
            r#"[{"soname":["libzstd.so.1"],"feature":"zstd","description":"Zstandard compression","priority":"required"},
               {"soname":["liblz4.so.1"],"priority":"recommended"}]"#,
        ),
        dlopen_note(
            r#"[{"soname":["libfoo.so.1","libfoo.so.0"],"priority":"suggested","future":{"nested":[1,2,{"x":null}]}}]"#,
        ),
        dlopen_note(r#"[{"soname":["libbar.so.2"],"description":"B\u00e4r — ünïcode"}]"#),
    ]
    .concat();
    let lib = shared_lib(t.path(), "libnotes.so.1", &asm);
    let got = check_against_oracle(&lib);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    // readelf sees the same three notes.
    assert_eq!(readelf_dlopen_sizes(&lib).len(), 3);
    let summary: Vec<(Vec<&str>, Priority)> =
        got.entries.iter().map(|e| (e.sonames.iter().map(String::as_str).collect(), e.priority)).collect();
    assert_eq!(
        summary,
        [
            (vec!["libzstd.so.1"], Priority::Required),
            (vec!["liblz4.so.1"], Priority::Recommended),
            (vec!["libfoo.so.1", "libfoo.so.0"], Priority::Suggested),
            (vec!["libbar.so.2"], Priority::Recommended),
        ]
    );
    assert_eq!(got.entries[0].feature.as_deref(), Some("zstd"));
    assert_eq!(got.entries[3].description.as_deref(), Some("Bär — ünïcode"));
    // Serialised the specification's way.
    assert_eq!(serde_json::to_value(Priority::Suggested).unwrap(), json!("suggested"));

    // Without section headers (the reader walks PT_NOTE, as pyelftools does here too).
    let mut data = std::fs::read(&lib).unwrap();
    data[40..48].fill(0); // e_shoff
    data[60..64].fill(0); // e_shnum, e_shstrndx
    let stripped = t.path().join("libnotes-noshdr.so");
    std::fs::write(&stripped, &data).unwrap();
    assert_eq!(check_against_oracle(&stripped), got);

    // Cut at every length: never a panic, and never an entry the whole file does not have.
    for n in 0..data.len() {
        let part = notes::dlopen_notes(&data[..n]);
        assert!(part.entries.iter().all(|e| got.entries.contains(e)), "length {n}");
    }
}

#[test]
fn program_with_other_notes_wrong_owner_and_wrong_type() {
    let t = tmpdir();
    let asm = [
        "\t.text\n\t.globl main\nmain:\n\txorl %eax, %eax\n\tret\n".to_string(),
        note_asm("FDX", NT_FDO_DLOPEN_METADATA, r#".asciz "[{\"soname\":[\"libwrongowner.so.1\"]}]""#),
        note_asm("FDO", NT_FDO_DLOPEN_METADATA + 1, r#".asciz "[{\"soname\":[\"libwrongtype.so.1\"]}]""#),
        note_asm("FDOX", NT_FDO_DLOPEN_METADATA, r#".asciz "[{\"soname\":[\"libwrongowner.so.2\"]}]""#),
        note_asm("GNU", NT_FDO_DLOPEN_METADATA, r#".asciz "x""#),
        dlopen_note(r#"[{"soname":["libz.so.1"],"feature":"zlib"}]"#),
    ]
    .concat();
    // A PIE with gcc's own notes too (build id, ABI tag, the 8-aligned GNU property note).
    let prog = build(t.path(), "prog", &asm, &["-pie", "-fPIE"]);
    let run = Command::new(&prog).status().unwrap();
    assert!(run.success(), "the fixture program does not run");
    let got = check_against_oracle(&prog);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.entries.len(), 1);
    assert_eq!(got.entries[0].sonames, ["libz.so.1"]);
    assert_eq!(got.entries[0].feature.as_deref(), Some("zlib"));
    assert_eq!(readelf_dlopen_sizes(&prog).len(), 1);

    // 32-bit.
    let lib32 = build(
        t.path(),
        "lib32.so",
        &[dlopen_note(r#"[{"soname":["libc32.so.1"]}]"#), dlopen_note(r#"[{"soname":["libd32.so.1"]}]"#)].concat(),
        &["-m32", "-shared", "-nostdlib"],
    );
    let got = check_against_oracle(&lib32);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.entries.len(), 2);
}

#[test]
fn malformed_notes_give_problems_and_keep_the_good_entries() {
    let t = tmpdir();
    let asm = [
        dlopen_note(r#"[{"soname":["libgood1.so.1"]}]"#),
        dlopen_note(r#"[{"soname":["libunterminated.so.1"]}"#),
        dlopen_note(r#"{"soname":["libnotarray.so.1"]}"#),
        dlopen_note(r#"[{"feature":"nosoname"},{"soname":"libstring.so.1"},{"soname":[]},"text",{"soname":["libgood2.so.1"],"priority":"often"}]"#),
        note_asm("FDO", NT_FDO_DLOPEN_METADATA, r#".ascii "[{\"soname\":[\"libnonul.so.1\"]}]""#),
        dlopen_note("[{\"soname\":[\"libbad\\u0000nul.so\"]}]"),
        dlopen_note(r#"[{"soname":["libgood3.so.1"],"feature":7}]"#),
    ]
    .concat();
    let lib = shared_lib(t.path(), "libbad.so", &asm);
    let got = read(&lib);
    let names: Vec<&str> = got.entries.iter().map(|e| e.sonames[0].as_str()).collect();
    assert_eq!(names, ["libgood1.so.1", "libgood2.so.1", "libnonul.so.1", "libgood3.so.1"]);
    // pyelftools (whose JSON parser is not serde's) agrees on which notes are broken; it
    // reads the NUL-less note too and does not check names or field types.
    let (want, bad) = pyelftools(&lib, u64::MAX);
    let theirs: Vec<&str> = want.iter().map(|e| e["sonames"][0].as_str().unwrap()).collect();
    assert_eq!(theirs, ["libgood1.so.1", "libgood2.so.1", "libnonul.so.1", "libbad\0nul.so", "libgood3.so.1"]);
    assert_eq!(bad, 2 + 4, "the oracle's count of broken notes and entries");
    assert_eq!(readelf_dlopen_sizes(&lib).len(), 7);
    let p = &got.problems;
    let has = |s: &str| p.iter().filter(|l| l.contains(s)).count();
    assert_eq!(has("malformed JSON"), 1, "{p:#?}");
    assert_eq!(has("JSON is not an array"), 1, "{p:#?}");
    assert_eq!(has("no \"soname\""), 1, "{p:#?}");
    assert_eq!(has("\"soname\" is not an array"), 1, "{p:#?}");
    assert_eq!(has("\"soname\" is empty"), 1, "{p:#?}");
    assert_eq!(has("not an object"), 1, "{p:#?}");
    assert_eq!(has("unknown priority \"often\""), 1, "{p:#?}");
    assert_eq!(has("not NUL-terminated"), 1, "{p:#?}");
    assert_eq!(has("other than non-empty names"), 1, "{p:#?}");
    assert_eq!(has("\"feature\" is not a string"), 1, "{p:#?}");
    assert_eq!(p.len(), 10, "{p:#?}");
}

#[test]
fn over_long_note_is_a_problem_and_the_others_are_read() {
    let t = tmpdir();
    let pad = notes::MAX_NOTE_BYTES + 1000;
    let asm = [
        dlopen_note(r#"[{"soname":["libbefore.so.1"]}]"#),
        note_asm(
            "FDO",
            NT_FDO_DLOPEN_METADATA,
            &format!(".ascii \"[{{\\\"soname\\\":[\\\"libhuge.so.1\\\"]}}\"\n\t.fill {pad}, 1, 0x20\n\t.asciz \"]\""),
        ),
        dlopen_note(r#"[{"soname":["libafter.so.1"]}]"#),
    ]
    .concat();
    let lib = shared_lib(t.path(), "libhuge.so", &asm);
    let got = read(&lib);
    let names: Vec<&str> = got.entries.iter().map(|e| e.sonames[0].as_str()).collect();
    assert_eq!(names, ["libbefore.so.1", "libafter.so.1"]);
    assert_eq!(got.problems.len(), 1, "{:?}", got.problems);
    assert!(got.problems[0].contains("over the note read limit"), "{:?}", got.problems);
    // readelf sees the huge note; pyelftools reads it whole (so it is valid JSON), and agrees
    // on the rest.
    let sizes = readelf_dlopen_sizes(&lib);
    assert_eq!(sizes.len(), 3);
    assert!(sizes[1] > notes::MAX_NOTE_BYTES);
    let (all, bad) = pyelftools(&lib, u64::MAX);
    assert_eq!((all.len(), bad), (3, 0));
    assert_eq!(all[1]["sonames"][0], "libhuge.so.1");
    let (small, _) = pyelftools(&lib, notes::MAX_NOTE_BYTES);
    assert_eq!(small, got.entries.iter().map(as_json).collect::<Vec<_>>());
}

/// Real files: Debian 12's systemd libraries carry `FDO` packaging-metadata notes (another
/// type), which are not dlopen notes; no real library gives a problem.
#[test]
fn real_files_have_no_problems() {
    let dir = Path::new("/usr/lib/x86_64-linux-gnu");
    let mut n = 0;
    let mut fdo = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains(".so") || !p.is_file() {
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        if !depclose::elf::is_elf(&data) {
            continue;
        }
        let got = notes::dlopen_notes(&data);
        assert!(got.problems.is_empty(), "{}: {:?}", p.display(), got.problems);
        if name.starts_with("libsystemd.so") || name.starts_with("libudev.so") {
            fdo += 1;
            let sizes = readelf_dlopen_sizes(&p);
            assert_eq!(got.entries.len(), sizes.len(), "{}", p.display());
        }
        n += 1;
    }
    assert!(n > 50, "only {n} libraries");
    assert!(fdo >= 1 || !dir.join("libsystemd.so.0").exists());
}

/// Build `fixtures-elf/runtime` (`make.sh`) into a fresh directory.
fn runtime_fixtures() -> tempfile::TempDir {
    let t = tmpdir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/runtime/make.sh");
    let r = Command::new("bash").arg(&script).arg(t.path()).output().expect("cannot run bash");
    assert!(r.status.success(), "make.sh: {}", String::from_utf8_lossy(&r.stderr));
    t
}

/// The names the real `dlopen` of `prog` searched for (`LD_DEBUG=libs`), and whether it ran.
fn dlopen_searches(prog: &Path) -> (Vec<String>, bool) {
    let r = Command::new(prog).env("LD_DEBUG", "libs").env_remove("LD_LIBRARY_PATH").output().unwrap();
    let text = String::from_utf8_lossy(&r.stderr);
    let names = text
        .lines()
        .filter_map(|l| l.split("find library=").nth(1))
        .filter_map(|l| l.split(" [").next())
        .map(str::to_string)
        .collect();
    (names, r.status.success())
}

/// The fixture program whose only evidence of libz is its note: depclose reads the note,
/// finds no literal, the loader's trace shows no libz (not in DT_NEEDED), and the real
/// `dlopen` looks for exactly the name in the note.
#[test]
fn runtime_fixture_named_only_by_its_note() {
    let t = runtime_fixtures();
    let prog = t.path().join("dlopen_note");
    let got = check_against_oracle(&prog);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.entries.len(), 1);
    let e = &got.entries[0];
    assert_eq!((e.sonames.as_slice(), e.priority), (&["libz.so.1".to_string()][..], Priority::Required));
    assert_eq!(e.feature.as_deref(), Some("zlib"));
    let s = depclose::elf::strings::scan(&std::fs::read(&prog).unwrap());
    assert!(s.sonames.is_empty(), "a soname literal in the note-only fixture: {:?}", s.sonames);
    let trace = Command::new(&prog).env("LD_TRACE_LOADED_OBJECTS", "1").output().unwrap();
    assert!(!String::from_utf8_lossy(&trace.stdout).contains("libz"), "libz is in DT_NEEDED");
    let (searched, ran) = dlopen_searches(&prog);
    assert!(ran, "the fixture could not dlopen libz.so.1");
    let dlopened: Vec<&String> = searched.iter().filter(|n| n.as_str() != "libc.so.6").collect();
    assert_eq!(dlopened, [&e.sonames[0]], "dlopen searched {searched:?}");

    // The literal fixture has no note.
    let lit = t.path().join("dlopen_literal");
    assert_eq!(check_against_oracle(&lit), DlopenNotes::default());
}
