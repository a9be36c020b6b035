//! `depclose::elf::strings` on real libraries and gcc-built fixtures, checked against real tools:
//! the loader (`LD_TRACE_LOADED_OBJECTS` to find libc, `LD_DEBUG=libs` for the name a
//! `dlopen` searches), `openssl version -d -m` (OpenSSL's compiled-in directories),
//! `curl -v` (the CA file and directory it uses), `convert -list configure` (ImageMagick's
//! coder, filter and configuration directories), `readelf -p .rodata` (every path literal of
//! `.rodata` must be found) and `strings -a` (nothing is reported that is not a string of the
//! file).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::elf::strings::{self, is_path_literal, StringLimits};
use depclose::Bytes;

fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("depclose-strings")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
}

/// Compile `src` (C) with gcc and `args` into `dir/name`.
fn cc(dir: &Path, name: &str, src: &str, args: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let out = dir.join(name);
    let r = Command::new("gcc").args(["-O2", "-o"]).arg(&out).arg(&c).args(args).output().expect("cannot run gcc");
    assert!(r.status.success(), "gcc {args:?}: {}", String::from_utf8_lossy(&r.stderr));
    out
}

/// A library of `/bin/true`, as the real loader maps it.
fn loaded_library(prefix: &str) -> PathBuf {
    let out = Command::new("/bin/true").env("LD_TRACE_LOADED_OBJECTS", "1").output().expect("run /bin/true");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(prefix) {
            let path = line.split(" => ").nth(1).and_then(|r| r.split(" (").next()).expect("a path");
            return std::fs::canonicalize(path).unwrap();
        }
    }
    panic!("the loader maps no {prefix} for /bin/true:\n{text}");
}

fn scan_file(p: &Path) -> strings::Strings {
    strings::scan(&std::fs::read(p).unwrap())
}

fn has(list: &[Bytes], s: &str) -> bool {
    list.iter().any(|b| b == &s)
}

/// The strings `readelf -p SECTION` prints for `file` (an empty list without that section).
fn readelf_strings(file: &Path, section: &str) -> Vec<String> {
    let r = Command::new("readelf").args(["-W", "-p", section]).arg(file).output().expect("cannot run readelf");
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('[')?;
            let (_, s) = rest.split_once(']')?;
            Some(s.strip_prefix("  ").unwrap_or(s).to_string())
        })
        .collect()
}

/// Both oracles on one file: every path literal that readelf prints for `.rodata` is found,
/// and everything found is a string that `strings -a` prints (whole, or after a tab, which
/// `strings` counts as printable and depclose does not).
fn check_against_tools(file: &Path, found: &strings::Strings) {
    let found_paths: BTreeSet<&[u8]> = found.paths.iter().map(|b| b.as_bytes()).collect();
    let rodata = readelf_strings(file, ".rodata");
    let want: Vec<&String> = rodata.iter().filter(|s| is_path_literal(s.as_bytes())).collect();
    for w in want {
        assert!(found_paths.contains(w.as_bytes()), "{}: {w:?} of .rodata not found", file.display());
    }
    let r = Command::new("strings").args(["-a", "-n", "2"]).arg(file).output().expect("cannot run strings");
    let lines: BTreeSet<&[u8]> = r.stdout.split(|&b| b == b'\n').collect();
    let tabbed: Vec<&[u8]> = lines.iter().copied().filter(|l| l.contains(&b'\t')).collect();
    for s in found.paths.iter().chain(&found.sonames) {
        let s = s.as_bytes();
        let ok = lines.contains(s) || tabbed.iter().any(|l| l.ends_with(s) && l[l.len() - s.len() - 1] == b'\t');
        assert!(ok, "{}: {:?} is not a string of the file", file.display(), String::from_utf8_lossy(s));
    }
}

#[test]
fn libc_names_its_gconv_directory_and_the_shell() {
    let libc = loaded_library("libc.so.6");
    let s = scan_file(&libc);
    assert!(!s.truncated);
    assert!(has(&s.paths, "/bin/sh"), "{:?}", s.paths);
    // glibc's GCONV_PATH default: <libdir>/gconv, where gconv-modules is installed.
    let gconv = libc.parent().unwrap().join("gconv");
    assert!(gconv.join("gconv-modules").exists() || gconv.join("gconv-modules.d").exists());
    assert!(has(&s.paths, gconv.to_str().unwrap()), "{} not in {:?}", gconv.display(), s.paths);
    // libc dlopens libgcc_s for unwinding by that name.
    assert!(has(&s.sonames, "libgcc_s.so.1"), "{:?}", s.sonames);
    // Nothing from the dynamic string table: no DT_SONAME, no versioned symbol names.
    assert!(!has(&s.sonames, "libc.so.6") && !has(&s.sonames, "ld-linux-x86-64.so.2"), "{:?}", s.sonames);
    check_against_tools(&libc, &s);
}

#[test]
fn libcrypto_names_openssldir_and_modulesdir() {
    if common::hermetic_skip_without(&["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/bin/openssl"]) {
        return;
    }
    let crypto = Path::new("/usr/lib/x86_64-linux-gnu/libcrypto.so.3");
    let s = scan_file(crypto);
    // The real tool says where this libcrypto looks.
    let out = Command::new("openssl").args(["version", "-d", "-m"]).output().expect("cannot run openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut dirs = Vec::new();
    for line in text.lines() {
        let (key, v) = line.split_once(": ").unwrap();
        dirs.push((key.to_string(), v.trim_matches('"').to_string()));
    }
    assert_eq!(dirs.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["OPENSSLDIR", "MODULESDIR"], "{text}");
    for (key, dir) in &dirs {
        assert!(has(&s.paths, dir), "{key} {dir} not in {:?}", s.paths);
    }
    assert!(Path::new(&dirs[1].1).join("legacy.so").exists(), "the modules directory holds the providers");
    check_against_tools(crypto, &s);
}

/// The library `prog` loads whose name starts with `prefix`, as the real loader maps it.
fn library_of(prog: &str, prefix: &str) -> PathBuf {
    let out = Command::new(prog).env("LD_TRACE_LOADED_OBJECTS", "1").output().expect("run the program in trace mode");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(prefix) {
            let path = line.split(" => ").nth(1).and_then(|r| r.split(" (").next()).expect("a path");
            return std::fs::canonicalize(path).unwrap();
        }
    }
    panic!("the loader maps no {prefix} for {prog}:\n{text}");
}

#[test]
fn libcurl_names_the_ca_file_and_directory_curl_uses() {
    if common::hermetic_skip_without(&["/usr/bin/curl"]) {
        return;
    }
    // curl -v prints where it looks for CAs once connected (here to a listener that hangs
    // up): the paths come from libcurl's build.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let _ = listener.accept();
    });
    let out = Command::new("curl")
        .args(["-sv", "--max-time", "20", &format!("https://127.0.0.1:{port}/")])
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("cannot run curl");
    t.join().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let mut used = Vec::new();
    for line in text.lines() {
        for key in ["CAfile: ", "CApath: "] {
            if let Some(v) = line.split(key).nth(1) {
                used.push(v.trim().to_string());
            }
        }
    }
    assert_eq!(used.len(), 2, "curl -v printed no CAfile/CApath:\n{text}");
    let lib = library_of("/usr/bin/curl", "libcurl.so");
    let s = scan_file(&lib);
    for u in &used {
        assert!(has(&s.paths, u), "{u} (curl's) not in {:?}", s.paths);
    }
    check_against_tools(&lib, &s);
}

#[test]
fn imagemagick_names_its_coder_and_filter_directories() {
    if common::hermetic_skip_without(&["/usr/bin/convert"]) {
        return;
    }
    let out = Command::new("convert").args(["-list", "configure"]).output().expect("cannot run convert");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).filter(|r| r.starts_with(' ')).map(|r| r.trim().to_string()))
            .unwrap_or_else(|| panic!("no {key} in convert -list configure"))
    };
    let convert = std::fs::canonicalize("/usr/bin/convert").expect("/usr/bin/convert");
    let lib = library_of(convert.to_str().unwrap(), "libMagickCore");
    let s = scan_file(&lib);
    let normalized: Vec<Bytes> = s.paths.iter().map(|p| strings::normalize_path(p)).collect();
    for key in ["CODER_PATH", "FILTER_PATH", "CONFIGURE_PATH"] {
        let want = value(key);
        let want = strings::normalize_path(want.as_bytes());
        assert!(normalized.contains(&want), "{key} {want} not among {:?}", s.paths);
    }
    // The coder directory holds the modules (ELF files) a plugin pack would add.
    let coders = value("CODER_PATH");
    assert!(std::fs::read_dir(&coders).unwrap().flatten().any(|e| e.path().extension().is_some_and(|x| x == "so")));
    check_against_tools(&lib, &s);
}

const DLOPEN_PROG: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
const char ro_path[] = "/opt/depclose-test/readonly/data";
char rw_path[] = "/opt/depclose-test/writable/only";
int main(int argc, char **argv) {
    void *h = dlopen("libz.so.1", RTLD_NOW);
    if (argc > 5) { rw_path[0] = argv[1][0]; puts(ro_path); }
    puts(rw_path);
    return h ? 0 : 1;
}
"#;

/// The same without headers, for a 32-bit shared library (no 32-bit libc needed).
const DLOPEN_LIB: &str = r#"
const char ro_path[] = "/opt/depclose-test/readonly/data";
char rw_path[] = "/opt/depclose-test/writable/only";
extern void *dlopen(const char *, int);
const char *f(int x) { rw_path[0] = x; dlopen("libz.so.1", 2); return x ? ro_path : rw_path; }
"#;

#[test]
fn dlopen_literal_and_writable_data() {
    let t = tmpdir();
    let layouts: [(&str, &[&str]); 3] = [
        ("separate-code", &["-ldl", "-Wl,-z,separate-code"]),
        ("noseparate-code", &["-ldl", "-Wl,-z,noseparate-code"]),
        ("m32", &["-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-z,noseparate-code"]),
    ];
    for (name, args) in layouts {
        let prog = cc(t.path(), name, if name == "m32" { DLOPEN_LIB } else { DLOPEN_PROG }, args);
        let s = scan_file(&prog);
        assert_eq!(s.sonames, [Bytes::from("libz.so.1")], "{name}");
        assert!(has(&s.paths, "/opt/depclose-test/readonly/data"), "{name}: {:?}", s.paths);
        // The fixture does what it says: the writable copy is in .data, the other in .rodata.
        assert!(readelf_strings(&prog, ".data").iter().any(|x| x == "/opt/depclose-test/writable/only"), "{name}");
        assert!(readelf_strings(&prog, ".rodata").iter().any(|x| x == "/opt/depclose-test/readonly/data"));
        assert!(!has(&s.paths, "/opt/depclose-test/writable/only"), "{name}: a writable string was reported");
        check_against_tools(&prog, &s);
        if name == "m32" {
            continue; // a library, and no 32-bit libc to run with
        }
        // The real dlopen searches for exactly the literal.
        let r = Command::new(&prog).env("LD_DEBUG", "libs").output().unwrap();
        let debug = String::from_utf8_lossy(&r.stderr);
        let searched: BTreeSet<&str> = debug
            .lines()
            .filter_map(|l| l.split("find library=").nth(1))
            .filter_map(|l| l.split(" [").next())
            .collect();
        assert!(searched.contains("libz.so.1"), "{name}: dlopen searched {searched:?}");
        assert!(r.status.success(), "{name}: dlopen(\"libz.so.1\") failed");
    }
}

#[test]
fn limits_mark_the_scan_truncated() {
    let data = std::fs::read(loaded_library("libc.so.6")).unwrap();
    let full = strings::scan(&data);
    let few = strings::scan_with_limits(&data, &StringLimits::new(u64::MAX, 3));
    assert!(few.truncated);
    assert_eq!(few.paths.len() + few.sonames.len(), 3);
    let short = strings::scan_with_limits(&data, &StringLimits::new(4096, 1 << 16));
    assert!(short.truncated);
    assert!(short.paths.len() < full.paths.len());
    assert!(short.paths.iter().all(|p| full.paths.contains(p)));
    // Not ELF: nothing.
    let none = strings::scan(b"#!/bin/sh\n/bin/true\0");
    assert!(none.paths.is_empty() && none.sonames.is_empty());
}

/// An arm64 Debian root (`scripts/make-foreign-root.sh`, as tests/foreign_roots.rs builds
/// it): there read-only data lives in the read-and-execute segment. Its own programs, run
/// under qemu in a chroot, say where they look. Skipped loudly when the root cannot be built,
/// a failure with `DEPCLOSE_REQUIRE_FOREIGN=1`.
#[test]
fn arm64_root_libraries_name_their_own_directories() {
    if common::hermetic_skip("downloaded Debian arm64 packages (network) and qemu-user-static") {
        return;
    }
    let cache = common::roots_cache();
    let root = cache.join("roots/arm64");
    let built = common::make_foreign_root("arm64", &root).expect("run make-foreign-root.sh");
    if !built.status.success() {
        let why = String::from_utf8_lossy(&built.stderr).into_owned();
        if std::env::var_os("DEPCLOSE_REQUIRE_FOREIGN").is_some_and(|v| v == "1") {
            panic!("arm64 root cannot be built and DEPCLOSE_REQUIRE_FOREIGN=1: {why}");
        }
        eprintln!("\n**********\n*** SKIPPED arm64 strings: the root cannot be built:\n{why}\n**********\n");
        return;
    }
    let in_root = |argv: &[&str]| {
        let out = Command::new("/usr/sbin/chroot")
            .arg(&root)
            .arg("/.depclose/qemu-aarch64-static")
            .args(argv)
            .env_clear()
            .output()
            .expect("chroot");
        assert!(out.status.success(), "{argv:?} in the root: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The root's loader says which libcrypto and libc openssl gets.
    let list = in_root(&["/lib/ld-linux-aarch64.so.1", "--list", "/usr/bin/openssl"]);
    let lib = |name: &str| {
        let line = list.lines().find(|l| l.trim().starts_with(name)).unwrap_or_else(|| panic!("{name}: {list}"));
        let p = line.split(" => ").nth(1).and_then(|r| r.split(" (").next()).unwrap();
        root.join(p.trim_start_matches('/'))
    };
    let crypto = scan_file(&lib("libcrypto.so.3"));
    for line in in_root(&["/usr/bin/openssl", "version", "-d", "-m"]).lines() {
        let (key, v) = line.split_once(": ").unwrap();
        let v = v.trim_matches('"');
        assert!(has(&crypto.paths, v), "arm64 libcrypto: {key} {v} not in {:?}", crypto.paths);
    }
    let libc = scan_file(&lib("libc.so.6"));
    assert!(has(&libc.paths, "/bin/sh"));
    let gconv = libc
        .paths
        .iter()
        .find(|p| {
            p.ends_with(b"/gconv")
                && root.join(p.to_string_lossy().trim_start_matches('/')).join("gconv-modules").exists()
        })
        .unwrap_or_else(|| panic!("no gconv directory of the root in {:?}", libc.paths));
    assert_eq!(gconv, &"/usr/lib/aarch64-linux-gnu/gconv");
    // The interpreter (PT_INTERP of arm64 libc.so.6) is left out, as on x86-64.
    assert!(!has(&libc.paths, "/lib/ld-linux-aarch64.so.1"), "{:?}", libc.paths);
}

/// `fixtures-elf/runtime/dlopen_literal`: the soname literal is found, and it is exactly what
/// the real `dlopen` searches for.
#[test]
fn runtime_fixture_named_by_a_literal() {
    let t = tmpdir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-elf/runtime/make.sh");
    let r = Command::new("bash").arg(&script).arg(t.path()).output().expect("cannot run bash");
    assert!(r.status.success(), "make.sh: {}", String::from_utf8_lossy(&r.stderr));
    let prog = t.path().join("dlopen_literal");
    let s = scan_file(&prog);
    check_against_tools(&prog, &s);
    let run = Command::new(&prog).env("LD_DEBUG", "libs").output().unwrap();
    assert!(run.status.success(), "the fixture could not dlopen libz.so.1");
    let debug = String::from_utf8_lossy(&run.stderr);
    let searched: BTreeSet<Bytes> = debug
        .lines()
        .filter_map(|l| l.split("find library=").nth(1))
        .filter_map(|l| l.split(" [").next())
        .filter(|n| *n != "libc.so.6")
        .map(Bytes::from)
        .collect();
    assert_eq!(s.sonames.iter().cloned().collect::<BTreeSet<_>>(), searched);
}
