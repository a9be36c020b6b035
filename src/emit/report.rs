//! Reports over closures: `ldd`-style text, a tree, why-chains, a path list, JSON.
//!
//! Text writers return `io::Result` (only the sink can fail), so a caller can tell a closed
//! pipe (`ErrorKind::BrokenPipe`) from anything else.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::model::{Closure, Edge, FoundVia, Linkage, Missing, Object, Rejection, Role};
use crate::root::errno_text;
use crate::symcheck::SymbolReport;

use super::manifest::{manifest_doc, ManifestDoc};
use super::plan::Rootfs;

/// The load address printed in [`write_ldd`] output. Nothing is mapped, so there is no
/// address; a fixed all-zero one keeps the line layout that scripts parsing `ldd` expect.
pub const LDD_ADDRESS: &str = "(0x0000000000000000)";

/// The `schema` value of [`write_json`] output.
pub const JSON_SCHEMA: &str = "depclose/2";

/// How text reports escape names taken from ELF files and the filesystem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextOptions {
    /// The output is a terminal: besides control characters (always escaped, since a
    /// newline or an escape sequence in a name would forge output lines or drive the
    /// terminal), also escape bytes that are not UTF-8 and bidirectional-override
    /// characters. Default: false (non-UTF-8 bytes are written as they are, so paths
    /// survive a pipe unchanged).
    pub terminal: bool,
}

impl TextOptions {
    /// Every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set [`TextOptions::terminal`].
    pub fn terminal(&mut self, yes: bool) -> &mut Self {
        self.terminal = yes;
        self
    }
}

/// Escape a name for a line-oriented report: control characters (C0, DEL, C1) become
/// `\xNN` or `\u{NNNN}`; with [`TextOptions::terminal`], invalid UTF-8 bytes become `\xNN`
/// and bidirectional controls `\u{NNNN}` too. Everything else is unchanged.
pub fn escape<'a>(bytes: &'a [u8], opts: &TextOptions) -> Cow<'a, [u8]> {
    let clean = match std::str::from_utf8(bytes) {
        Ok(s) => !s.chars().any(|c| needs_escape(c, opts)),
        Err(_) => false,
    };
    if clean {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if needs_escape(c, opts) {
                let code = c as u32;
                if code < 0x80 {
                    out.extend_from_slice(format!("\\x{code:02x}").as_bytes());
                } else {
                    out.extend_from_slice(format!("\\u{{{code:04x}}}").as_bytes());
                }
            } else {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        for &b in chunk.invalid() {
            if opts.terminal {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            } else {
                out.push(b);
            }
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char, opts: &TextOptions) -> bool {
    c.is_control()
        || (opts.terminal && matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

struct Out<'o, W: Write> {
    w: W,
    opts: &'o TextOptions,
}

impl<W: Write> Out<'_, W> {
    fn s(&mut self, s: &str) -> io::Result<()> {
        self.w.write_all(s.as_bytes())
    }

    /// An ELF- or filesystem-derived name, escaped.
    fn name(&mut self, b: &[u8]) -> io::Result<()> {
        let e = escape(b, self.opts);
        self.w.write_all(&e)
    }

    fn path(&mut self, p: &Path) -> io::Result<()> {
        self.name(p.as_os_str().as_bytes())
    }
}

fn pb(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// Per-closure lookups made once, so that printing stays linear in the closure's size (a
/// search per name would be quadratic in the number of `DT_NEEDED` entries).
struct Index<'c> {
    /// `(object, name)` to the first position of `name` among the object's `DT_NEEDED`.
    needed: HashMap<(usize, &'c [u8]), usize>,
    /// Edges by destination object, in edge order.
    edges_to: Vec<Vec<&'c Edge>>,
}

impl<'c> Index<'c> {
    fn new(c: &'c Closure) -> Index<'c> {
        let mut needed = HashMap::default();
        for (i, o) in c.objects.iter().enumerate() {
            for (k, n) in o.file.needed.iter().enumerate() {
                needed.entry((i, n.as_bytes())).or_insert(k);
            }
        }
        let mut edges_to: Vec<Vec<&Edge>> = vec![Vec::new(); c.objects.len()];
        for e in &c.edges {
            if let Some(v) = edges_to.get_mut(e.to) {
                v.push(e);
            }
        }
        Index { needed, edges_to }
    }

    /// Position of `name` among `objects[from].needed` (requests are made in that order).
    fn request_key(&self, from: usize, name: &[u8]) -> (usize, usize) {
        (from, self.needed.get(&(from, name)).copied().unwrap_or(usize::MAX - 1))
    }

    fn edges_to(&self, j: usize) -> &[&'c Edge] {
        self.edges_to.get(j).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The edge through which object `j` was loaded (its first loader's request), if any.
    fn loading_edge(&self, c: &Closure, j: usize) -> Option<&'c Edge> {
        let parent = c.objects[j].loaded_by;
        let loads = |e: &&&Edge| !matches!(e.via, FoundVia::AlreadyLoaded | FoundVia::SameFile);
        let to = self.edges_to(j);
        to.iter()
            .filter(|e| Some(e.from) == parent)
            .find(loads)
            .or_else(|| to.iter().filter(|e| e.from != j).find(loads))
            .copied()
    }
}

/// Write closures the way glibc's `ldd` prints them, minus what only a real load knows:
///
/// ```text
/// <TAB>libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x0000000000000000)
/// <TAB>libfoo.so.1 => not found
/// <TAB>/lib64/ld-linux-x86-64.so.2 (0x0000000000000000)
/// ```
///
/// - one line per object the loader maps besides the input, in load order, each
///   `\tNAME => PATH ADDRESS` where NAME is the name it was first requested under and PATH
///   the path the loader opened (not the canonical path), or `\tPATH ADDRESS` when the two are
///   the same (the interpreter, names with a `/`);
/// - ADDRESS is always [`LDD_ADDRESS`];
/// - no `linux-vdso.so.1` line: the vDSO is not a file;
/// - a name nothing satisfied is `\tNAME => not found`, where the loader's link map would
///   have its placeholder;
/// - a statically linked input (or static-pie) is `\tstatically linked`;
/// - with several closures, each starts with a `INPUT:` line, as `ldd a b` does.
///
/// # Errors
/// Writing fails.
pub fn write_ldd<W: Write>(closures: &[Closure], out: W, opts: &TextOptions) -> io::Result<()> {
    let mut o = Out { w: out, opts };
    for c in closures {
        if closures.len() > 1 {
            o.path(&c.input)?;
            o.s(":\n")?;
        }
        if matches!(c.linkage, Linkage::Static | Linkage::StaticPie) {
            o.s("\tstatically linked\n")?;
            continue;
        }
        // The loader prints its link map, which is in request order (breadth first, each
        // object's DT_NEEDED in order); a name nothing satisfied has a placeholder where it
        // was requested; the interpreter sits where it was first requested, else last.
        let ix = Index::new(c);
        let mut items: Vec<((u8, usize, usize, usize), LddItem<'_>)> = Vec::new();
        for (j, obj) in c.objects.iter().enumerate().skip(1) {
            let first_request = ix
                .edges_to(j)
                .iter()
                .filter(|e| e.from != j && e.via != FoundVia::Interpreter)
                .map(|e| ix.request_key(e.from, e.name.as_bytes()))
                .min();
            let key = match (obj.role, first_request) {
                (Role::Preload, _) => (0, 0, 0, j),
                (_, Some((from, idx))) => (1, from, idx, j),
                (_, None) => (2, 0, 0, j),
            };
            items.push((key, LddItem::Object(obj)));
        }
        for m in &c.missing {
            let (from, idx) = ix.request_key(m.from, m.name.as_bytes());
            items.push(((1, from, idx, usize::MAX), LddItem::Missing(m)));
        }
        items.sort_by_key(|(k, _)| *k);
        for (_, item) in items {
            match item {
                LddItem::Missing(m) => {
                    o.s("\t")?;
                    o.name(m.name.as_bytes())?;
                    o.s(" => not found\n")?;
                }
                LddItem::Object(obj) => {
                    let path = pb(&obj.file.location.path);
                    let name = obj.names.first().map(|n| n.as_bytes()).unwrap_or(path);
                    o.s("\t")?;
                    if obj.role == Role::Interpreter || name == path {
                        o.name(path)?;
                    } else {
                        o.name(name)?;
                        o.s(" => ")?;
                        o.name(path)?;
                    }
                    o.s(" ")?;
                    o.s(LDD_ADDRESS)?;
                    o.s("\n")?;
                }
            }
        }
    }
    o.w.flush()
}

enum LddItem<'c> {
    Object(&'c Object),
    Missing(&'c Missing),
}

/// Write every file the loader maps, one absolute path per line: for each closure the
/// interpreter and every library, at their canonical in-root paths (every symlink
/// resolved, as `readlink -f` of `ldd`'s output gives on the host), in load order, each path
/// once over all closures; the inputs themselves and the vDSO are not listed. Then each
/// name nothing satisfied, as `NAME => not found`.
///
/// # Errors
/// Writing fails.
pub fn write_paths<W: Write>(closures: &[Closure], out: W, opts: &TextOptions) -> io::Result<()> {
    let mut o = Out { w: out, opts };
    // Bytes, not `Path`: hashing a `Path` walks its components, slow over thousands.
    // Closures of one batch share their object records: a record met before is skipped by
    // its address before its path is hashed.
    let mut seen: HashSet<&[u8]> = HashSet::default();
    let mut seen_files: HashSet<*const crate::model::ObjectFile> = HashSet::default();
    for c in closures {
        for obj in c.objects.iter().skip(1) {
            if !seen_files.insert(std::sync::Arc::as_ptr(&obj.file)) {
                continue;
            }
            let p = obj.file.location.realpath.as_path();
            if seen.insert(p.as_os_str().as_bytes()) {
                o.path(p)?;
                o.s("\n")?;
            }
        }
    }
    let mut seen_missing: HashSet<&[u8]> = HashSet::default();
    for c in closures {
        for m in &c.missing {
            if seen_missing.insert(m.name.as_bytes()) {
                o.name(m.name.as_bytes())?;
                o.s(" => not found\n")?;
            }
        }
    }
    o.w.flush()
}

/// libtree-style label of how a library was found.
fn via_label(c: &Closure, from: usize, via: &FoundVia) -> String {
    #[allow(unreachable_patterns)]
    match via {
        FoundVia::Interpreter => "[interpreter]".into(),
        FoundVia::AlreadyLoaded => "[already loaded]".into(),
        FoundVia::SameFile => "[same file as a loaded object]".into(),
        FoundVia::Path => "[path]".into(),
        FoundVia::Rpath { owner } if *owner == from => "[rpath]".into(),
        FoundVia::Rpath { owner } => match c.objects.get(*owner) {
            Some(o) => format!("[rpath of {}]", o.file.location.path.to_string_lossy()),
            None => "[rpath]".into(),
        },
        FoundVia::LdLibraryPath => "[LD_LIBRARY_PATH]".into(),
        FoundVia::Runpath => "[runpath]".into(),
        FoundVia::LdCache => "[ld.so.cache]".into(),
        FoundVia::DefaultDir => "[default path]".into(),
        FoundVia::MuslReserved => "[musl: the loader itself]".into(),
        FoundVia::MuslSystemPath => "[musl path file]".into(),
        _ => "[other]".into(),
    }
}

fn rejection_text(r: &Rejection) -> String {
    #[allow(unreachable_patterns)]
    match r {
        Rejection::NotFound => "no such file".into(),
        Rejection::NotDirectory => "not a directory".into(),
        Rejection::SymlinkLoop => "too many levels of symbolic links".into(),
        Rejection::PermissionDenied => "permission denied".into(),
        Rejection::OpenError(e) => errno_text(*e).to_lowercase(),
        Rejection::WrongClass => "wrong ELF class".into(),
        Rejection::WrongMachine => "wrong machine".into(),
        Rejection::NoDefaultLib => "skipped (DF_1_NODEFLIB)".into(),
        Rejection::NotInCache => "no entry in the cache".into(),
        _ => "rejected".into(),
    }
}

enum Child<'c> {
    Obj { j: usize, label: String, name: &'c [u8] },
    Missing(&'c Missing),
}

fn tree_children(c: &Closure) -> Vec<Vec<((usize, usize), Child<'_>)>> {
    let n = c.objects.len();
    let mut kids: Vec<Vec<((usize, usize), Child<'_>)>> = (0..n).map(|_| Vec::new()).collect();
    let ix = Index::new(c);
    for (j, obj) in c.objects.iter().enumerate().skip(1) {
        let name = obj.names.first().map(|b| b.as_bytes()).unwrap_or_else(|| pb(&obj.file.location.path));
        let edge = ix.loading_edge(c, j);
        // Children sort by request order: preloads first, then the requester's DT_NEEDED
        // order, the interpreter (requested by no one) last.
        let (parent, key, label) = match (obj.role, edge) {
            (Role::Preload, _) => (0, (0, j), "[preload]".to_string()),
            (Role::Interpreter, None) => (0, (usize::MAX, j), "[interpreter]".to_string()),
            (_, Some(e)) if e.from < n => {
                (e.from, (ix.request_key(e.from, e.name.as_bytes()).1, j), via_label(c, e.from, &e.via))
            }
            _ => (obj.loaded_by.filter(|p| *p < n).unwrap_or(0), (usize::MAX - 1, j), String::new()),
        };
        let name = match edge {
            Some(e) if obj.role != Role::Interpreter => e.name.as_bytes(),
            _ => name,
        };
        kids[parent].push((key, Child::Obj { j, label, name }));
    }
    for m in &c.missing {
        if m.from < n {
            let key = ix.request_key(m.from, m.name.as_bytes());
            kids[m.from].push(((key.1, usize::MAX), Child::Missing(m)));
        }
    }
    for k in &mut kids {
        k.sort_by_key(|(key, _)| *key);
    }
    kids
}

/// Write each closure as a dependency tree, libtree style: every object appears once, under
/// the object whose request loaded it, with how the loader found it (`[rpath]`,
/// `[rpath of X]`, `[LD_LIBRARY_PATH]`, `[runpath]`, `[ld.so.cache]`, `[default path]`,
/// `[interpreter]`, `[preload]`). Requests that found an object already loaded are not
/// repeated. A name nothing satisfied is shown with every path the loader tried.
///
/// ```text
/// /usr/bin/curl
/// ├── libcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 [ld.so.cache]
/// │   └── libnghttp2.so.14 => /lib/x86_64-linux-gnu/libnghttp2.so.14 [ld.so.cache]
/// └── /lib64/ld-linux-x86-64.so.2 [interpreter]
/// ```
///
/// # Errors
/// Writing fails.
pub fn write_tree<W: Write>(closures: &[Closure], out: W, opts: &TextOptions) -> io::Result<()> {
    write_tree_with_symbols(closures, None, out, opts)
}

/// [`write_tree`] with the symbol checks' reports (one per closure, in the same order):
/// after each tree, a `needs:` line with the highest version of each prefix the closure
/// requires, then one `! ` line per problem in `ldd -r`'s words.
///
/// # Errors
/// Writing fails.
pub fn write_tree_with_symbols<W: Write>(
    closures: &[Closure],
    symbols: Option<&[SymbolReport]>,
    out: W,
    opts: &TextOptions,
) -> io::Result<()> {
    let mut o = Out { w: out, opts };
    for (ci, c) in closures.iter().enumerate() {
        let report = symbols.and_then(|s| s.get(ci));
        if let Some(r) = report {
            // The tree first, as without the checks; the symbol lines after it.
            write_tree_one(&mut o, c)?;
            let needs: Vec<String> = r.highest_versions().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            if !needs.is_empty() {
                o.s("needs: ")?;
                o.name(needs.join(", ").as_bytes())?;
                o.s("\n")?;
            }
            for line in r.ldd_lines(c) {
                o.s("! ")?;
                o.name(line.replace('\t', " ").as_bytes())?;
                o.s("\n")?;
            }
            continue;
        }
        write_tree_one(&mut o, c)?;
    }
    o.w.flush()
}

fn write_tree_one<W: Write>(o: &mut Out<'_, W>, c: &Closure) -> io::Result<()> {
    o.path(&c.input)?;
    if matches!(c.linkage, Linkage::Static | Linkage::StaticPie) {
        return o.s(" (statically linked)\n");
    }
    o.s("\n")?;
    let kids = tree_children(c);
    let mut visited = vec![false; c.objects.len()];
    visited[0] = true;
    tree_node(o, c, &kids, 0, "", &mut visited)?;
    if let Some(f) = &c.fatal {
        o.s("error: ")?;
        o.name(f.name.as_bytes())?;
        o.s(": ")?;
        o.path(&f.path)?;
        o.s(": ")?;
        o.name(f.message.as_bytes())?;
        o.s(" (the loader would stop here)\n")?;
    }
    Ok(())
}

fn tree_node<W: Write>(
    o: &mut Out<'_, W>,
    c: &Closure,
    kids: &[Vec<((usize, usize), Child<'_>)>],
    i: usize,
    prefix: &str,
    visited: &mut [bool],
) -> io::Result<()> {
    let list = &kids[i];
    for (k, (_, child)) in list.iter().enumerate() {
        let last = k + 1 == list.len();
        let (branch, more) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
        o.s(prefix)?;
        o.s(branch)?;
        match child {
            Child::Obj { j, label, name } => {
                let obj: &Object = &c.objects[*j];
                let path = pb(&obj.file.location.path);
                if *name != path {
                    o.name(name)?;
                    o.s(" => ")?;
                }
                o.name(path)?;
                if !label.is_empty() {
                    o.s(" ")?;
                    o.s(label)?;
                }
                o.s("\n")?;
                if !visited[*j] {
                    visited[*j] = true;
                    tree_node(o, c, kids, *j, &format!("{prefix}{more}"), visited)?;
                }
            }
            Child::Missing(m) => {
                o.name(m.name.as_bytes())?;
                o.s(" not found\n")?;
                if m.tried.is_empty() {
                    o.s(prefix)?;
                    o.s(more)?;
                    o.s("    (no directory to search)\n")?;
                }
                for a in &m.tried {
                    o.s(prefix)?;
                    o.s(more)?;
                    o.s("    tried ")?;
                    o.path(&a.path)?;
                    o.s(": ")?;
                    o.s(&rejection_text(&a.rejection))?;
                    o.s(" ")?;
                    o.s(&via_label(c, m.from, &a.via))?;
                    o.s("\n")?;
                }
            }
        }
    }
    Ok(())
}

/// True when [`write_why`] finds something for `query` in `closure`: an object whose
/// requested name, `DT_SONAME`, path, canonical path or file name is `query`, or a missing
/// name equal to it.
pub fn why_matches(closure: &Closure, query: &[u8]) -> bool {
    closure.objects.iter().any(|o| object_matches(o, query))
        || closure.missing.iter().any(|m| m.name.as_bytes() == query)
}

fn object_matches(o: &Object, q: &[u8]) -> bool {
    let file_name = |p: &Path| p.file_name().map(|f| f.as_bytes() == q).unwrap_or(false);
    o.names.iter().any(|n| n.as_bytes() == q)
        || o.file.soname.as_ref().map(|s| s.as_bytes() == q).unwrap_or(false)
        || pb(&o.file.location.path) == q
        || pb(&o.file.location.realpath) == q
        || file_name(&o.file.location.path)
        || file_name(&o.file.location.realpath)
}

const MAX_CHAINS: usize = 32;

/// Write, for each closure, why objects matching `query` are in it: every chain of
/// requests from the input to each object whose requested name, `DT_SONAME`, path,
/// canonical path or file name equals `query` (at most 32 chains per object), and the same
/// for names nothing satisfied:
///
/// ```text
/// libcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3
///     /usr/bin/curl -> libcurl.so.4 -> libssl.so.3 -> libcrypto.so.3
///     /usr/bin/curl -> libcurl.so.4 -> libcrypto.so.3
/// ```
///
/// A closure with no match prints `INPUT: nothing matches QUERY`.
///
/// # Errors
/// Writing fails.
pub fn write_why<W: Write>(closures: &[Closure], query: &[u8], out: W, opts: &TextOptions) -> io::Result<()> {
    let mut o = Out { w: out, opts };
    for c in closures {
        if closures.len() > 1 {
            o.path(&c.input)?;
            o.s(":\n")?;
        }
        let n = c.objects.len();
        // Request graph: edges, plus the input's PT_INTERP when no edge names the interpreter.
        let mut adj: Vec<Vec<(usize, &[u8])>> = vec![Vec::new(); n];
        let mut requested = vec![false; n];
        for e in &c.edges {
            if e.to < n {
                requested[e.to] = true;
            }
            if e.from < n && e.to < n && e.from != e.to {
                adj[e.from].push((e.to, e.name.as_bytes()));
            }
        }
        for (j, obj) in c.objects.iter().enumerate().skip(1) {
            if matches!(obj.role, Role::Interpreter | Role::Preload) && !requested[j] {
                adj[0].push((j, pb(&obj.file.location.path)));
            }
        }
        let mut any = false;
        for (t, obj) in c.objects.iter().enumerate() {
            if !object_matches(obj, query) {
                continue;
            }
            any = true;
            let name = obj.names.first().map(|b| b.as_bytes()).unwrap_or_else(|| pb(&obj.file.location.path));
            o.name(name)?;
            o.s(" => ")?;
            o.path(&obj.file.location.path)?;
            o.s("\n")?;
            why_chains(&mut o, c, &adj, t, None)?;
        }
        for m in &c.missing {
            if m.name.as_bytes() != query {
                continue;
            }
            any = true;
            o.name(m.name.as_bytes())?;
            o.s(" => not found\n")?;
            why_chains(&mut o, c, &adj, m.from, Some(m.name.as_bytes()))?;
        }
        if !any {
            o.path(&c.input)?;
            o.s(": nothing matches ")?;
            o.name(query)?;
            o.s("\n")?;
        }
    }
    o.w.flush()
}

fn why_chains<W: Write>(
    o: &mut Out<'_, W>,
    c: &Closure,
    adj: &[Vec<(usize, &[u8])>],
    target: usize,
    missing: Option<&[u8]>,
) -> io::Result<()> {
    let n = adj.len();
    // Nodes from which `target` is reachable (a search backwards over the edges): only they
    // are worth exploring.
    let mut back: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, out) in adj.iter().enumerate() {
        for (w, _) in out {
            back[*w].push(v);
        }
    }
    let mut reaches = vec![false; n];
    reaches[target] = true;
    let mut todo = vec![target];
    while let Some(w) = todo.pop() {
        for &v in &back[w] {
            if !reaches[v] {
                reaches[v] = true;
                todo.push(v);
            }
        }
    }
    let mut chains: Vec<Vec<&[u8]>> = Vec::new();
    let mut truncated = false;
    if reaches[0] {
        let mut on_path = vec![false; n];
        let mut names: Vec<&[u8]> = Vec::new();
        dfs(adj, &reaches, 0, target, &mut on_path, &mut names, &mut chains, &mut truncated);
    }
    for chain in &chains {
        o.s("    ")?;
        o.path(&c.input)?;
        for name in chain {
            o.s(" -> ")?;
            o.name(name)?;
        }
        if let Some(m) = missing {
            o.s(" -> ")?;
            o.name(m)?;
            o.s(" (not found)")?;
        }
        o.s("\n")?;
    }
    if truncated {
        o.s(&format!("    (more than {MAX_CHAINS} chains; the rest are not shown)\n"))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn dfs<'a>(
    adj: &[Vec<(usize, &'a [u8])>],
    reaches: &[bool],
    v: usize,
    target: usize,
    on_path: &mut [bool],
    names: &mut Vec<&'a [u8]>,
    chains: &mut Vec<Vec<&'a [u8]>>,
    truncated: &mut bool,
) {
    if v == target {
        if chains.len() == MAX_CHAINS {
            *truncated = true;
        } else {
            chains.push(names.clone());
        }
        return;
    }
    on_path[v] = true;
    for (w, name) in &adj[v] {
        if *truncated {
            break;
        }
        if reaches[*w] && !on_path[*w] {
            names.push(name);
            dfs(adj, reaches, *w, target, on_path, names, chains, truncated);
            names.pop();
        }
    }
    on_path[v] = false;
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    schema: &'static str,
    closures: &'a [Closure],
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<ManifestDoc<'a>>,
    /// One report per closure, present only when the symbol checks ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    symbols: Option<&'a [SymbolReport]>,
}

/// Write closures (objects with roles and locations, edges with how each name was found,
/// missing names with every path tried, diagnostics) and, given a plan, its manifest (as
/// [`write_manifest`](super::write_manifest) writes it), as one pretty-printed JSON document
/// with `"schema": "depclose/2"`, followed by a newline. Paths are byte-exact: a path that
/// is not UTF-8 is its lossy display string plus a sibling field `FIELD_bytes` with its exact
/// bytes in base64 (see [`path_from_json`](super::path_from_json)).
///
/// # Errors
/// A file of the plan cannot be read for hashing; writing fails.
pub fn write_json<W: Write>(closures: &[Closure], plan: Option<&Rootfs>, out: W) -> Result<(), Error> {
    write_json_with_symbols(closures, plan, None, out)
}

/// [`write_json`] with the symbol checks' reports (`symbols`, one per closure, in the same
/// order) as a top-level `"symbols"` array; without them the output is exactly
/// [`write_json`]'s.
///
/// # Errors
/// See [`write_json`].
pub fn write_json_with_symbols<W: Write>(
    closures: &[Closure],
    plan: Option<&Rootfs>,
    symbols: Option<&[SymbolReport]>,
    mut out: W,
) -> Result<(), Error> {
    let manifest = plan.map(manifest_doc).transpose()?;
    let doc = JsonDoc { schema: JSON_SCHEMA, closures, manifest, symbols };
    let werr = |e: io::Error| Error::io("<json>", e);
    crate::serde_path::to_writer_exact(&mut out, &doc, true).map_err(|e| werr(e.into()))?;
    out.write_all(b"\n").map_err(werr)?;
    out.flush().map_err(werr)
}
