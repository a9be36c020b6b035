//! The source tree keeps its layers: every `crate::` reference in `src/` points to the same
//! layer or one below, the modules' dependency graph has no cycle, and no source file is over
//! 900 lines. The layers, bottom to top, are those `src/lib.rs` describes.
//!
//! A unit is a top-level module, except under `loader/`, where the context (`loader/mod.rs`),
//! each loader and the target profile are units of their own. References between a folder's
//! `mod.rs` and its own files (`super::`) stay inside one unit.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Units and their layer, bottom (0) to top.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("bytes", 0),
    ("elf", 1),
    ("script", 1),
    ("ld_cache", 2),
    ("ld_so_conf", 2),
    ("root", 2),
    ("model", 2),
    ("serde_path", 2),
    ("settings", 3),
    ("files", 4),
    ("loader::target", 5),
    ("loader", 6),
    ("loader::glibc", 7),
    ("loader::musl", 7),
    ("resolver", 8),
    ("symcheck", 9),
    ("runtime", 9),
    ("emit", 10),
    ("bin", 11),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The unit a file of `src/` belongs to; `None` for `lib.rs` (it re-exports every layer).
fn unit_of_file(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    match parts.as_slice() {
        [only] if only == "lib" => None,
        [first, second, ..] if first == "loader" && second != "mod" => Some(format!("loader::{second}")),
        [first, ..] => Some(first.clone()),
        [] => None,
    }
}

/// The unit a `crate::a::b` path names.
fn unit_of_path(first: &str, second: Option<&str>) -> String {
    match (first, second) {
        ("loader", Some(s)) if ["glibc", "musl", "target"].contains(&s) => format!("loader::{s}"),
        _ => first.to_string(),
    }
}

/// The `crate::` references of a source text (comments dropped): each as its first two path
/// segments; `use crate::{a, b::c}` gives `a` and `b::c`.
fn references(text: &str) -> Vec<(String, Option<String>)> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `depclose_crate::` and the like
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let mut segs = item.trim().split("::").map(|s| s.trim().to_string());
                if let Some(first) = segs.next().filter(|s| !s.is_empty()) {
                    out.push((first, segs.next().filter(|s| s.chars().all(|c| c.is_lowercase() || c == '_'))));
                }
            }
            continue;
        }
        let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
        let first = ident(rest);
        let after = &rest[first.len()..];
        let second = after.strip_prefix("::").map(ident).filter(|s| s.chars().all(|c| c.is_lowercase() || c == '_'));
        if !first.is_empty() {
            out.push((first, second));
        }
    }
    out
}

#[test]
fn layers_point_down_and_files_stay_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let text = fs::read_to_string(f).unwrap();
        let lines = text.lines().count();
        if lines > 900 {
            problems.push(format!("{}: {lines} lines (at most 900)", rel.display()));
        }
        let Some(from) = unit_of_file(rel) else { continue };
        let Some(&from_layer) = layer.get(from.as_str()) else {
            problems.push(format!("{}: unit `{from}` has no layer in LAYERS", rel.display()));
            continue;
        };
        for (first, second) in references(&text) {
            let to = unit_of_path(&first, second.as_deref());
            if to == from {
                continue;
            }
            // Items re-exported at the crate root (`crate::Error`, `crate::Closure`) are
            // named by their type, not a module: they are looked up by what defines them.
            let Some(&to_layer) = layer.get(to.as_str()) else { continue };
            if to_layer > from_layer {
                problems.push(format!(
                    "{}: refers to `crate::{first}` (layer {to_layer}) from layer {from_layer}",
                    rel.display()
                ));
            }
            graph.entry(from.clone()).or_default().insert(to);
        }
    }
    // No cycle between units (same-layer references included).
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        problems: &mut Vec<String>,
    ) {
        match state.get(n) {
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap();
                problems.push(format!("import cycle: {} -> {n}", stack[at..].join(" -> ")));
                return;
            }
            Some(_) => return,
            None => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            visit(m, graph, state, stack, problems);
        }
        stack.pop();
        state.insert(n.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        visit(n, &graph, &mut state, &mut Vec::new(), &mut problems);
    }
    assert!(problems.is_empty(), "layering problems:\n{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_references() {
    let r = references("use crate::root::{join_bytes, Root};\nuse crate::{elf::Source, model};\nlet x = crate::loader::glibc::run(); // crate::emit\n");
    let names: Vec<String> = r.iter().map(|(a, b)| format!("{a}:{}", b.as_deref().unwrap_or(""))).collect();
    assert_eq!(names, ["root:", "elf:", "model:", "loader:glibc"]);
    assert_eq!(unit_of_file(Path::new("loader/glibc/open.rs")).as_deref(), Some("loader::glibc"));
    assert_eq!(unit_of_file(Path::new("loader/mod.rs")).as_deref(), Some("loader"));
    assert_eq!(unit_of_file(Path::new("emit/plan.rs")).as_deref(), Some("emit"));
    assert_eq!(unit_of_file(Path::new("lib.rs")), None);
}
