//! The dynamic symbol reader (`depclose::elf::symbols`) against binutils' `readelf`: for a few
//! hundred ELF files of this system, every dynamic symbol (index, value, size, type, binding,
//! visibility, section, name and version as `readelf --dyn-syms -W` prints it, `@` versus
//! `@@` included), and the version definitions and requirements as `readelf -V -W` prints
//! them. readelf finds the tables through section headers; depclose through `PT_DYNAMIC`:
//! agreeing means both paths lead to the same bytes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::elf::symbols::{self, DynSymbols, Symbol};

/// ELF files under `dir` (not following symlinks), sorted.
fn elf_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false).into_iter().filter_map(|e| e.ok()) {
        if !e.file_type().is_file() {
            continue;
        }
        let mut magic = [0u8; 4];
        let ok = std::fs::File::open(e.path()).and_then(|mut f| f.read_exact(&mut magic)).is_ok();
        if ok && &magic == b"\x7fELF" {
            out.push(e.path().to_path_buf());
        }
    }
    out.sort();
    out
}

/// About `n` files spread evenly over the sorted list.
fn sample(files: Vec<PathBuf>, n: usize) -> Vec<PathBuf> {
    let step = (files.len() / n).max(1);
    files.into_iter().step_by(step).collect()
}

fn readelf(args: &[&str], file: &Path) -> String {
    let out =
        Command::new("readelf").args(args).arg(file).env("LC_ALL", "C").output().expect("readelf (binutils) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kind(t: u8) -> String {
    match t {
        0 => "NOTYPE".into(),
        1 => "OBJECT".into(),
        2 => "FUNC".into(),
        3 => "SECTION".into(),
        4 => "FILE".into(),
        5 => "COMMON".into(),
        6 => "TLS".into(),
        10 => "IFUNC".into(),
        n => format!("<{n}>"),
    }
}

fn bind(b: u8) -> String {
    match b {
        0 => "LOCAL".into(),
        1 => "GLOBAL".into(),
        2 => "WEAK".into(),
        10 => "UNIQUE".into(),
        n => format!("<{n}>"),
    }
}

fn vis(v: u8) -> &'static str {
    ["DEFAULT", "INTERNAL", "HIDDEN", "PROTECTED"][usize::from(v & 3)]
}

fn ndx(n: u16) -> String {
    match n {
        0 => "UND".into(),
        0xfff1 => "ABS".into(),
        0xfff2 => "COM".into(),
        n => n.to_string(),
    }
}

/// The name column as readelf 2.40 prints it (`get_symbol_version_string`): a defined
/// symbol with a version definition other than the base gets `@@V` (`@V` when hidden),
/// unless the symbol is the version's own name; a version requirement gives `@V (n)`.
fn name_column(s: &DynSymbols, sym: &Symbol) -> String {
    let name = sym.name.to_string_lossy().into_owned();
    let Some(v) = sym.version else { return name };
    if v == 0 || v == 1 {
        return name;
    }
    let idx = v & 0x7fff;
    if sym.is_defined() && v != 0x8001 && !s.verdef.is_empty() {
        if let Some(d) = s.verdef.iter().find(|d| d.index == idx) {
            if let Some(vn) = d.names.first() {
                if idx == 1 || *vn == sym.name {
                    return name;
                }
                return format!("{name}{}{}", if sym.is_hidden_version() { "@" } else { "@@" }, vn.to_string_lossy());
            }
        }
    }
    for n in &s.verneed {
        for a in &n.entries {
            if a.other == v {
                return format!("{name}@{} ({})", a.name.to_string_lossy(), a.other);
            }
        }
    }
    name
}

fn ours_dynsyms(s: &DynSymbols) -> Vec<String> {
    s.symbols
        .iter()
        .enumerate()
        .map(|(i, sym)| {
            format!(
                "{i}: {:x} {} {} {} {} {} {}",
                sym.value,
                sym.size,
                kind(sym.kind),
                bind(sym.bind),
                vis(sym.visibility),
                ndx(sym.shndx),
                name_column(s, sym)
            )
        })
        .collect()
}

fn theirs_dynsyms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_dynsym = false;
    for line in text.lines() {
        if line.starts_with("Symbol table '") {
            in_dynsym = line.contains("'.dynsym'");
            continue;
        }
        if !in_dynsym {
            continue;
        }
        let t = line.trim_start();
        let Some((num, rest)) = t.split_once(": ") else { continue };
        let Ok(num) = num.parse::<usize>() else { continue };
        let mut f = rest.split_whitespace();
        let (Some(value), Some(size), Some(ty), Some(bd), Some(vs), Some(nx)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            panic!("readelf line not understood: {line}");
        };
        let value = u64::from_str_radix(value, 16).expect("hex value");
        let size = match size.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex size"),
            None => size.parse::<u64>().expect("size"),
        };
        // The name is the rest of the line after the Ndx column (it may be empty).
        let name = skip_fields(rest, 6);
        out.push(format!("{num}: {value:x} {size} {ty} {bd} {vs} {nx} {name}"));
    }
    out
}

/// `s` without its first `n` whitespace-separated fields and the blanks after them.
fn skip_fields(s: &str, n: usize) -> &str {
    let mut rest = s.trim_start();
    for _ in 0..n {
        let end = rest.find(' ').unwrap_or(rest.len());
        rest = rest[end..].trim_start_matches(' ');
    }
    rest
}

fn flags(f: u16) -> String {
    if f == 0 {
        return "none".into();
    }
    let mut parts = Vec::new();
    if f & 1 != 0 {
        parts.push("BASE");
    }
    if f & 2 != 0 {
        parts.push("WEAK");
    }
    if f & 4 != 0 {
        parts.push("INFO");
    }
    let mut s = parts.join(" | ");
    if f & !7 != 0 {
        s.push_str(if parts.is_empty() { "<unknown>" } else { " | <unknown>" });
    }
    s
}

fn ours_versions(s: &DynSymbols) -> Vec<String> {
    let mut out = Vec::new();
    for d in &s.verdef {
        let name = d.names.first().map_or(String::new(), |n| n.to_string_lossy().into_owned());
        out.push(format!("def flags={} index={} cnt={} name={name}", flags(d.flags), d.index, d.names.len()));
        for (k, p) in d.names.iter().enumerate().skip(1) {
            out.push(format!("parent {k}: {}", p.to_string_lossy()));
        }
    }
    for n in &s.verneed {
        out.push(format!("need version={} file={} cnt={}", n.version, n.file.to_string_lossy(), n.entries.len()));
        for a in &n.entries {
            out.push(format!("aux name={} flags={} version={}", a.name.to_string_lossy(), flags(a.flags), a.other));
        }
    }
    out
}

/// `readelf -V -W` lines of the definition and requirement sections, in the same shape.
fn theirs_versions(text: &str) -> Vec<String> {
    let mut defs = Vec::new();
    let mut needs = Vec::new();
    let mut section = 0;
    for line in text.lines() {
        if line.starts_with("Version definition section") {
            section = 1;
            continue;
        }
        if line.starts_with("Version needs section") {
            section = 2;
            continue;
        }
        if line.starts_with("Version symbols section") || line.is_empty() {
            if line.starts_with("Version symbols") {
                section = 0;
            }
            continue;
        }
        let Some((_, body)) = line.trim_start().split_once(": ") else { continue };
        let body = body.trim();
        match section {
            1 => {
                if let Some(rest) = body.strip_prefix("Rev: ") {
                    // Rev: 1  Flags: BASE  Index: 1  Cnt: 1  Name: libz.so.1
                    let get = |key: &str| {
                        let at = rest.find(key).unwrap() + key.len();
                        let tail = &rest[at..];
                        let end = tail.find("  ").unwrap_or(tail.len());
                        tail[..end].to_string()
                    };
                    defs.push(format!(
                        "def flags={} index={} cnt={} name={}",
                        get("Flags: "),
                        get("Index: "),
                        get("Cnt: "),
                        get("Name: ")
                    ));
                } else if let Some(rest) = body.strip_prefix("Parent ") {
                    defs.push(format!("parent {rest}"));
                }
            }
            2 => {
                if let Some(rest) = body.strip_prefix("Version: ") {
                    // Version: 1  File: libc.so.6  Cnt: 3
                    let (v, rest) = rest.split_once("  File: ").unwrap();
                    let (file, cnt) = rest.rsplit_once("  Cnt: ").unwrap();
                    needs.push(format!("need version={v} file={file} cnt={cnt}"));
                } else if let Some(rest) = body.strip_prefix("Name: ") {
                    // Name: GLIBC_2.3  Flags: none  Version: 5
                    let (name, rest) = rest.split_once("  Flags: ").unwrap();
                    let (fl, v) = rest.rsplit_once("  Version: ").unwrap();
                    needs.push(format!("aux name={name} flags={fl} version={v}"));
                }
            }
            _ => {}
        }
    }
    defs.extend(needs);
    defs
}

fn corpus() -> Vec<PathBuf> {
    let mut files = sample(elf_files(Path::new("/usr/lib/x86_64-linux-gnu")), 250);
    files.extend(sample(elf_files(Path::new("/usr/bin")), 100));
    // Hidden (`@`) definitions, GNU_UNIQUE, TLS, IFUNC, weak versions: the C and C++ runtimes.
    for lib in ["libc.so.6", "libm.so.6", "libstdc++.so.6", "ld-linux-x86-64.so.2", "libgcc_s.so.1"] {
        let p = Path::new("/usr/lib/x86_64-linux-gnu").join(lib);
        if let Ok(real) = p.canonicalize() {
            files.push(real);
        }
    }
    files.sort();
    files.dedup();
    files
}

fn check(file: &Path) -> Option<String> {
    let data = std::fs::read(file).ok()?;
    let ours = match symbols::read(&data) {
        Ok(s) => s,
        Err(e) => return Some(format!("{}: {e}", file.display())),
    };
    let mut problems = String::new();
    let (a, b) = (ours_dynsyms(&ours), theirs_dynsyms(&readelf(&["--dyn-syms", "-W"], file)));
    if a != b {
        let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        problems += &format!(
            "{}: dynsym differs ({} vs {} entries), first at {first}:\n  ours:    {:?}\n  readelf: {:?}\n",
            file.display(),
            a.len(),
            b.len(),
            a.get(first),
            b.get(first)
        );
    }
    let (a, b) = (ours_versions(&ours), theirs_versions(&readelf(&["-V", "-W"], file)));
    if a != b {
        problems += &format!("{}: versions differ:\n  ours:    {a:?}\n  readelf: {b:?}\n", file.display());
    }
    // The accessors agree with the table.
    for s in ours.imports() {
        assert!(ours.imports_name(s.name.as_bytes()));
        assert!(!s.is_defined());
    }
    (!problems.is_empty()).then_some(problems)
}

#[test]
fn dynamic_symbols_and_versions_match_readelf() {
    let files = corpus();
    assert!(files.len() > 200, "only {} ELF files found", files.len());
    let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2)).collect();
    let problems: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> =
            chunks.iter().map(|c| sc.spawn(|| c.iter().filter_map(|f| check(f)).collect::<Vec<_>>())).collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(problems.is_empty(), "{} of {} files differ:\n{}", problems.len(), files.len(), problems.join(""));
}

#[test]
fn hidden_versions_are_read() {
    let data = std::fs::read("/usr/lib/x86_64-linux-gnu/libc.so.6").expect("libc is installed");
    let s = symbols::read(&data).unwrap();
    // memcpy@GLIBC_2.2.5 (hidden, the old one) and memcpy@@GLIBC_2.14 (the default).
    let memcpy: Vec<_> = s.symbols.iter().filter(|x| x.name.as_bytes() == b"memcpy").collect();
    let names: Vec<(String, bool)> = memcpy
        .iter()
        .map(|m| (s.version_name(m).unwrap().to_string_lossy().into_owned(), m.is_hidden_version()))
        .collect();
    assert!(names.contains(&("GLIBC_2.2.5".into(), true)), "{names:?}");
    assert!(names.contains(&("GLIBC_2.14".into(), false)), "{names:?}");
}

#[test]
fn versioned_imports_name_their_versions() {
    let data = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").expect("zlib is installed");
    let s = symbols::read(&data).unwrap();
    let free = s.imports().find(|x| x.name.as_bytes() == b"free").expect("libz imports free");
    assert_eq!(s.version_name(free).map(|v| v.to_string_lossy().into_owned()).as_deref(), Some("GLIBC_2.2.5"));
    assert!(s.imports_name(b"free"));
    assert!(!s.imports_name(b"inflate"), "defined symbols are not imports");
    let inflate = s.symbols.iter().find(|x| x.name.as_bytes() == b"inflate").unwrap();
    assert!(inflate.is_defined());
    let zlib = s.verneed.iter().find(|n| n.file.as_bytes() == b"libc.so.6").expect("verneed libc.so.6");
    assert!(zlib.entries.iter().all(|a| a.hash == symbols::elf_hash(a.name.as_bytes())));
    assert!(s.verdef.iter().all(|d| d.names.first().is_some_and(|n| d.hash == symbols::elf_hash(n.as_bytes()))));
}

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use bodies::symgen;

/// What the sample library (`symgen::Spec::sample`) must read as, in any class and byte order.
fn check_sample(s: &DynSymbols, what: &str) {
    let names: Vec<String> = s.symbols.iter().map(|x| x.name.to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["", "puts", "f", "f", "g", "tls_var", "weak_ref"], "{what}");
    let v = |i: usize| s.version_name(&s.symbols[i]).map(|b| b.to_string_lossy().into_owned());
    assert_eq!(v(1).as_deref(), Some("GLIBC_2.2.5"), "{what}");
    assert_eq!((v(2).as_deref(), s.symbols[2].is_hidden_version()), (Some("V_2"), false), "{what}");
    assert_eq!((v(3).as_deref(), s.symbols[3].is_hidden_version()), (Some("V_1"), true), "{what}");
    assert_eq!(v(4), None, "{what}: VER_NDX_GLOBAL has no name");
    assert_eq!(s.symbols[5].kind, symbols::STT_TLS, "{what}");
    assert_eq!(s.symbols[6].bind, symbols::STB_WEAK, "{what}");
    assert_eq!((s.symbols[2].value, s.symbols[2].size, s.symbols[2].shndx), (0x1000, 8, 7), "{what}");
    let imports: Vec<&str> = s.imports().map(|x| std::str::from_utf8(x.name.as_bytes()).unwrap()).collect();
    assert_eq!(imports, ["puts", "weak_ref"], "{what}");
    assert!(s.imports_name(b"puts") && s.imports_name(b"weak_ref") && !s.imports_name(b"f"), "{what}");
    assert_eq!(s.verneed.len(), 1, "{what}");
    let aux: Vec<(String, bool, u16)> =
        s.verneed[0].entries.iter().map(|a| (a.name.to_string_lossy().into_owned(), a.is_weak(), a.other)).collect();
    assert_eq!(aux, [("GLIBC_2.2.5".to_string(), false, 4), ("GLIBC_2.34".to_string(), true, 5)], "{what}");
    assert_eq!(s.verneed_of(5).map(|(n, _)| n.file.as_bytes()), Some(&b"libc.so.6"[..]), "{what}");
    let defs: Vec<(u16, u16, Vec<String>)> = s
        .verdef
        .iter()
        .map(|d| (d.index, d.flags, d.names.iter().map(|n| n.to_string_lossy().into_owned()).collect()))
        .collect();
    assert_eq!(
        defs,
        [
            (1, 1, vec!["libv.so.1".to_string()]),
            (2, 0, vec!["V_1".to_string()]),
            (3, 0, vec!["V_2".to_string(), "V_1".to_string()])
        ],
        "{what}"
    );
    assert!(s.verdef.iter().all(|d| d.hash == symbols::elf_hash(d.names[0].as_bytes())), "{what}");
}

#[test]
fn both_classes_byte_orders_and_hash_tables_read_alike() {
    for c64 in [true, false] {
        for be in [false, true] {
            for gnu in [true, false] {
                let mut spec = symgen::Spec::sample();
                (spec.class64, spec.big_endian, spec.gnu_hash) = (c64, be, gnu);
                let data = symgen::build(&spec);
                let what = format!("class64={c64} big_endian={be} gnu_hash={gnu}");
                let s = symbols::read(&data).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_sample(&s, &what);
                let want = if gnu { symbols::HashTable::Gnu { symoffset: 1 } } else { symbols::HashTable::Sysv };
                assert_eq!(s.hash, want, "{what}");
                // Every truncation is an error or a success, never a panic.
                for n in 0..data.len() {
                    let _ = symbols::read(&data[..n]);
                }
            }
        }
    }
}

/// The generator is honest, and both byte orders and classes are read right: readelf
/// (through the dynamic section, `-D`, as there are no section headers) reads every variant
/// the same way.
#[test]
fn generated_libraries_match_readelf() {
    let dir = tempfile::tempdir().unwrap();
    for c64 in [true, false] {
        for be in [false, true] {
            for gnu in [true, false] {
                let mut spec = symgen::Spec::sample();
                (spec.class64, spec.big_endian, spec.gnu_hash) = (c64, be, gnu);
                spec.machine = if be { 22 } else { 62 };
                let path = dir.path().join(format!("libv-{c64}-{be}-{gnu}.so"));
                std::fs::write(&path, symgen::build(&spec)).unwrap();
                let ours = symbols::read(&std::fs::read(&path).unwrap()).unwrap();
                let text = readelf(&["-D", "-s", "-W"], &path);
                let theirs =
                    theirs_dynsyms(&text.replace("Symbol table for image contains", "Symbol table '.dynsym' contains"));
                assert_eq!(ours_dynsyms(&ours), theirs, "class64={c64} big_endian={be} gnu_hash={gnu}:\n{text}");
            }
        }
    }
}

#[test]
fn hostile_tables_fail_cleanly() {
    let (good, lay) = symgen::build_with_layout(&symgen::Spec::sample());
    let le32 = |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());

    // A GNU hash chain whose words never have the end bit: the walk stops at the segment.
    let mut b = good.clone();
    for i in 0..6 {
        b[lay.hash + 28 + 4 * i] &= !1;
    }
    let started = std::time::Instant::now();
    let _ = symbols::read(&b);
    assert!(started.elapsed().as_secs() < 5);

    // The same with the PT_LOAD segment ending where the chain does: an error, not a hang
    // and not a read past the segment.
    let mut b = good.clone();
    for i in 0..6 {
        b[lay.hash + 28 + 4 * i] &= !1;
    }
    let end = (lay.hash + 28 + 24) as u64;
    b[64 + 32..64 + 40].copy_from_slice(&end.to_le_bytes());
    assert_eq!(symbols::read(&b).unwrap_err().reason(), "DT_GNU_HASH chain runs past the file");

    // nchain far beyond the file.
    let mut spec = symgen::Spec::sample();
    spec.gnu_hash = false;
    let (mut b, l) = symgen::build_with_layout(&spec);
    le32(&mut b, l.hash + 4, u32::MAX);
    assert_eq!(symbols::read(&b).unwrap_err().reason(), "symbol count larger than the file");

    // A symbol name past the string table.
    let mut b = good.clone();
    le32(&mut b, lay.symtab + 24, 0x7fff_fff0);
    assert_eq!(symbols::read(&b).unwrap_err().reason(), "symbol string offset past the string table");

    // Overlapping Vernaux records (vna_next 1): bounded, an error or a finite answer.
    let mut b = good.clone();
    le32(&mut b, lay.verneed + 16 + 12, 1);
    if let Ok(s) = symbols::read(&b) {
        assert!(s.verneed[0].entries.len() <= b.len() / 16 + 1);
    }

    // Version indices out of range have no name, and do not panic.
    let mut spec = symgen::Spec::sample();
    spec.syms[0].versym = 0x7fff;
    spec.syms[1].versym = 0xffff;
    let s = symbols::read(&symgen::build(&spec)).unwrap();
    assert_eq!(s.version_name(&s.symbols[1]), None);
    assert_eq!(s.version_name(&s.symbols[2]), None);
    assert!(s.symbols[2].is_hidden_version());
    assert_eq!(s.symbols[2].version_index(), Some(0x7fff));

    // Limits: fewer symbols or string bytes than the file has is an error.
    let mut lim = symbols::SymbolLimits::default();
    lim.max_symbols = 3;
    assert!(symbols::read_with_limits(&good, &lim).is_err());
    let mut lim = symbols::SymbolLimits::default();
    lim.max_string_bytes = 8;
    assert!(symbols::read_with_limits(&good, &lim).is_err());

    // No DT_SYMTAB, no PT_DYNAMIC: no symbols, not an error.
    let plain = bodies::elfgen::build(&bodies::elfgen::Spec::lib("liba.so.1", &["libc.so.6"]));
    assert_eq!(symbols::read(&plain).unwrap(), DynSymbols::default());
    let stat = bodies::elfgen::build(&bodies::elfgen::Spec { dynamic: false, ..Default::default() });
    assert_eq!(symbols::read(&stat).unwrap(), DynSymbols::default());
}

/// `lookup_names` walks each file's own hash table as the loader does: every definition the
/// loader can find (hashed, defined, a value or TLS/ABS, a code or data type) is found under
/// its name, in real libraries (GNU hash) and in generated ones of every class, byte order
/// and hash style; names only imported or absent are not.
#[test]
fn hash_table_lookups_find_every_definition() {
    let mut checked = 0;
    let mut files: Vec<Vec<u8>> = corpus().iter().step_by(4).filter_map(|p| std::fs::read(p).ok()).collect();
    for c64 in [true, false] {
        for be in [false, true] {
            for gnu in [true, false] {
                let mut spec = symgen::Spec::sample();
                (spec.class64, spec.big_endian, spec.gnu_hash) = (c64, be, gnu);
                files.push(symgen::build(&spec));
            }
        }
    }
    for data in &files {
        let Ok(s) = symbols::read(data) else { continue };
        let first_hashed = match s.hash {
            symbols::HashTable::Gnu { symoffset } => symoffset as usize,
            symbols::HashTable::Sysv => 1,
            _ => continue,
        };
        let findable = |x: &Symbol| {
            x.is_defined()
                && (x.value != 0 || x.shndx == symbols::SHN_ABS || x.kind == symbols::STT_TLS)
                && matches!(x.kind, 0 | 1 | 2 | 5 | 6 | 10)
                && !x.name.is_empty()
        };
        let mut names: Vec<&[u8]> =
            s.symbols.iter().skip(first_hashed).filter(|x| findable(x)).map(|x| x.name.as_bytes()).collect();
        let absent: Vec<&[u8]> = s
            .imports()
            .map(|x| x.name.as_bytes())
            .filter(|n| !s.symbols.iter().any(|y| findable(y) && y.name.as_bytes() == *n))
            .collect();
        let n_defined = names.len();
        names.extend(&absent);
        names.push(b"surely not a symbol name");
        let found = symbols::lookup_names(data, &names).unwrap();
        for (k, (name, hit)) in names.iter().zip(&found).enumerate() {
            if k < n_defined {
                let i = hit.unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(name)));
                assert_eq!(s.symbols[i as usize].name.as_bytes(), *name);
                assert!(findable(&s.symbols[i as usize]));
            } else {
                assert_eq!(*hit, None, "{} found", String::from_utf8_lossy(name));
            }
        }
        checked += n_defined;
    }
    assert!(checked > 10_000, "only {checked} definitions looked up");
}
