//! `--format json` against its published JSON Schema (`schema/depclose-2.schema.json`), on
//! real output of this machine's programs, validated by the `jsonschema` Python package
//! (Debian `python3-jsonschema`, installed by scripts/test.sh); and the values against the
//! tools that read the same fields: `stat` (modes), pyelftools (`e_machine`), `readelf -d`
//! (`DT_FLAGS_1`).
//!
//! Run with `cargo test --all-features --test json_schema`.
#![cfg(feature = "cli")]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use common::cli;

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/depclose-2.schema.json");

fn json_of(args: &[&std::ffi::OsStr]) -> (Output, Value) {
    let o = cli().args(args).arg("--format").arg("json").output().unwrap();
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o, v)
}

/// Every error the JSON Schema validator finds in `doc` (none is the empty list).
fn schema_errors(doc: &Value) -> Vec<String> {
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
doc = json.load(sys.stdin)
for e in v.iter_errors(doc):
    print("/".join(str(p) for p in e.absolute_path), e.message[:300])
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script, SCHEMA])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    serde_json::to_writer(child.stdin.take().unwrap(), doc).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "the validator did not run (apt-get install python3-jsonschema): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// A copy of `/bin/true` needing a library nowhere to be found, under a name that is not UTF-8.
fn exe_needing_missing_lib(dir: &Path) -> PathBuf {
    let exe = dir.join("needs-missing");
    fs::copy("/bin/true", &exe).unwrap();
    let st = Command::new("patchelf").arg("--add-needed").arg("libnotthere.so.1").arg(&exe).status();
    assert!(st.map(|s| s.success()).unwrap_or(false), "patchelf is needed");
    exe
}

#[test]
fn real_output_validates_against_the_schema() {
    if common::hermetic_skip("python3-jsonschema, patchelf and curl") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let missing = exe_needing_missing_lib(t.path());
    let script = t.path().join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let cases: Vec<Vec<&std::ffi::OsStr>> = vec![
        // TLS, dlopen'd libraries, runtime packs, the symbol checks.
        vec![os("/usr/bin/curl"), os("-r")],
        // Several inputs, setuid, a static-pie, the bare closure.
        vec![os("/usr/bin/su"), os("/sbin/ldconfig"), os("/usr/bin/ls")],
        vec![os("/usr/bin/ls"), os("--runtime"), os("none")],
        // A miss (with --allow-missing the manifest lists it), a script.
        vec![missing.as_os_str(), os("--allow-missing")],
        vec![script.as_os_str()],
        vec![os("/usr/bin/python3"), os("--dlopen"), os("all")],
    ];
    for args in &cases {
        let (_, doc) = json_of(args);
        assert_eq!(doc["schema"], "depclose/2");
        let errors = schema_errors(&doc);
        assert!(errors.is_empty(), "{args:?}: {errors:#?}");
    }
    // The schema is not vacuous: what depclose/1 wrote is refused.
    let (_, mut doc) = json_of(&[os("/bin/true")]);
    doc["closures"][0]["objects"][0]["mode"] = Value::from(493);
    doc["closures"][0]["objects"][0]["file_id"] = serde_json::json!({"dev": 1, "ino": 2});
    doc["closures"][0]["objects"][1]["machine"] = Value::from(62);
    let errors = schema_errors(&doc);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn one_representation_per_value_and_no_host_identifiers() {
    if common::hermetic_skip("python3-pyelftools") {
        return;
    }
    let (o, doc) = json_of(&[os("/usr/bin/ls"), os("/usr/bin/su"), os("/sbin/ldconfig")]);
    assert_eq!(o.status.code(), Some(0));
    let text = doc.to_string();
    assert!(!text.contains("file_id") && !text.contains("\"ino\"") && !text.contains("\"dev\""), "{text}");
    let mut flags_seen = 0;
    for c in doc["closures"].as_array().unwrap() {
        for obj in c["objects"].as_array().unwrap() {
            let path = obj["location"]["realpath"].as_str().unwrap();
            // Mode: as stat has it, in the manifest's form.
            let mode = fs::metadata(path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(obj["mode"], format!("{mode:04o}"), "{path}");
            // Machine: as pyelftools names it.
            let py = Command::new("/usr/bin/python3")
                .args(["-c", "import sys; from elftools.elf.elffile import ELFFile; print(ELFFile(open(sys.argv[1],'rb'))['e_machine'])", path])
                .output()
                .unwrap();
            assert!(py.status.success(), "pyelftools (python3-pyelftools): {}", String::from_utf8_lossy(&py.stderr));
            assert_eq!(obj["machine"]["name"], String::from_utf8_lossy(&py.stdout).trim(), "{path}");
            assert_eq!(obj["machine"]["value"], 62, "{path}");
            // DT_FLAGS_1: the names readelf prints, and the raw value beside them.
            let re = Command::new("readelf").args(["-dW", path]).output().unwrap();
            let re = String::from_utf8_lossy(&re.stdout).into_owned();
            let readelf: Vec<String> = re
                .lines()
                .find(|l| l.contains("(FLAGS_1)"))
                .and_then(|l| l.split_once("Flags:"))
                .map(|(_, f)| f.split_whitespace().map(|n| format!("DF_1_{n}")).collect())
                .unwrap_or_default();
            let ours: Vec<String> =
                obj["flags_1"]["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
            assert_eq!(ours, readelf, "{path}");
            let value = obj["flags_1"]["value"].as_u64().unwrap();
            assert!(value.count_ones() as usize >= ours.len(), "{path}: {value:#x}");
            flags_seen += usize::from(!ours.is_empty());
        }
    }
    assert!(flags_seen >= 2, "PIE executables carry DT_FLAGS_1");
    // The manifest writes modes the same way (su is set-user-ID).
    let su = doc["manifest"]["entries"].as_array().unwrap().iter().find(|e| e["path"] == "/usr/bin/su").unwrap();
    let o = doc["closures"][1]["objects"][0]["mode"].clone();
    assert_eq!(su["mode"], o);
    assert_eq!(o, "4755");
}

/// The library reads back what it writes: a real closure through `depclose/2` JSON is the
/// same closure, but for the host identifiers JSON leaves out.
#[test]
fn closures_round_trip_through_json() {
    for prog in ["/usr/bin/ls", "/usr/bin/su", "/sbin/ldconfig"] {
        let mut c = depclose::closure(prog).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        let back: depclose::Closure = serde_json::from_str(&text).unwrap();
        for o in &mut c.objects {
            o.file_id = None;
        }
        assert_eq!(back, c, "{prog}");
    }
}
