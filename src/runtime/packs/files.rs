//! The files of the packs: from a closure's facts and the root's paths to runtime items.

use super::*;

// ---------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Acc {
    items: BTreeMap<PathBuf, Item>,
    hints: Vec<Hint>,
    required: Vec<RequiredMiss>,
}

impl Acc {
    fn add(&mut self, path: &[u8], kind: ItemKind, ev: Evidence) {
        let p = as_path(path).to_path_buf();
        let it = self.items.entry(p.clone()).or_insert_with(|| Item { path: p, kind, evidence: Vec::new() });
        if !it.evidence.contains(&ev) {
            it.evidence.push(ev);
        }
    }

    fn hint(&mut self, pack: Pack, message: String) {
        self.hints.push(Hint { pack, message });
    }
}

pub(in crate::runtime) fn files(rt: &Runtime<'_>, closures: &[&Closure], brought: &[&Closure]) -> RuntimeFiles {
    let mut acc = Acc::default();
    let opts = &rt.opts;
    let all = closures.iter().map(|c| (*c, false)).chain(brought.iter().map(|c| (*c, true)));
    for (c, brought) in all {
        let v = View::new(rt, c, brought);
        users(&v, &mut acc);
        services(&v, &mut acc);
        ca(&v, &mut acc);
        tzdata(&v, &mut acc);
        gconv(&v, &mut acc);
        locale(&v, &mut acc);
        shell(&v, &mut acc);
        strings_packs(&v, &mut acc);
        dlopen_outcomes(&v, &mut acc);
        for (i, f) in v.facts.iter().enumerate() {
            for p in &f.problems {
                acc.hint(Pack::Dlopen, format!("{}: {p}", v.path(i).display()));
            }
        }
    }
    if opts.is_enabled(Pack::Dirs) && !closures.is_empty() {
        for (p, mode, why) in [
            ("/tmp", 0o1777, "temporary files (mktemp, tmpfile)"),
            ("/var/tmp", 0o1777, "temporary files that outlive a run"),
            ("/run", 0o755, "run-time state"),
            ("/dev", 0o755, "mount point a container runtime fills"),
            ("/proc", 0o555, "mount point a container runtime fills"),
            ("/sys", 0o555, "mount point a container runtime fills"),
        ] {
            let ev = Evidence::new(Pack::Dirs, None, Seen::Default { why: why.into() });
            acc.add(p.as_bytes(), ItemKind::Directory { mode, uid: 0, gid: 0 }, ev);
        }
    }
    acc.hints.sort();
    acc.hints.dedup();
    RuntimeFiles { items: acc.items.into_values().collect(), hints: acc.hints, required_missing: acc.required }
}

fn users(v: &View<'_>, acc: &mut Acc) {
    let opts = &v.rt.opts;
    let users_ev = v.trigger(Pack::Users, USERS);
    let hosts_ev = v.trigger(Pack::Hosts, HOSTS);
    if let Some(ev) = &users_ev {
        let mut list = User::defaults();
        if let Some(u) = &opts.user {
            if !list.iter().any(|k| k.uid == u.uid || k.name == u.name) {
                list.push(u.clone());
            }
        }
        let mut passwd = String::new();
        let mut group = String::new();
        for u in &list {
            passwd.push_str(&format!("{}:x:{}:{}:{}:{}:/sbin/nologin\n", u.name, u.uid, u.gid, u.name, u.home));
        }
        let mut groups: Vec<(String, u32)> =
            vec![("root".into(), 0), ("tty".into(), 5), ("staff".into(), 50), ("nobody".into(), 65534)];
        groups.push(("nonroot".into(), 65532));
        for u in &list {
            if !groups.iter().any(|(_, g)| *g == u.gid) {
                groups.push((u.name.clone(), u.gid));
            }
        }
        for (n, g) in &groups {
            group.push_str(&format!("{n}:x:{g}:\n"));
        }
        let file = |d: String| ItemKind::Generated { data: Bytes::from(d.into_bytes()), mode: 0o644, uid: 0, gid: 0 };
        acc.add(b"/etc/passwd", file(passwd), ev.clone());
        acc.add(b"/etc/group", file(group), ev.clone());
        for u in &list {
            if u.home == "/nonexistent" {
                continue;
            }
            if let Some(parent) = Path::new(&u.home).parent().filter(|p| *p != Path::new("/")) {
                let kind = ItemKind::Directory { mode: 0o755, uid: 0, gid: 0 };
                acc.add(parent.as_os_str().as_bytes(), kind, ev.clone());
            }
            let kind = ItemKind::Directory { mode: 0o700, uid: u.uid, gid: u.gid };
            acc.add(u.home.as_bytes(), kind, ev.clone());
        }
    }
    if let Some(ev) = &hosts_ev {
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
        let kind = ItemKind::Generated { data: Bytes::from(hosts), mode: 0o644, uid: 0, gid: 0 };
        acc.add(b"/etc/hosts", kind, ev.clone());
    }
    let services_ev = v.trigger(Pack::Services, SERVICES);
    let any = users_ev.as_ref().or(hosts_ev.as_ref()).or(services_ev.as_ref());
    let names_nsswitch = v.libc.map(|l| v.facts[l].strings.paths.iter().any(|s| s.as_bytes() == b"/etc/nsswitch.conf"));
    if let (Some(ev), true, Some(true)) = (any, opts.is_enabled(Pack::Nss), names_nsswitch) {
        // files and dns are built into libc since glibc 2.34; an older libc dlopens
        // libnss_files.so.2 and libnss_dns.so.2 for them (see `requests`).
        let conf =
            "passwd: files\ngroup: files\nshadow: files\ngshadow: files\n\nhosts: files dns\nnetworks: files\n\n\
                    protocols: files\nservices: files\nethers: files\nrpc: files\n\nnetgroup: files\n";
        let kind = ItemKind::Generated { data: Bytes::from(conf), mode: 0o644, uid: 0, gid: 0 };
        let l = v.libc.unwrap_or(0);
        let ev = Evidence::new(Pack::Nss, ev.object.as_deref(), ev.seen.clone())
            .located(v.path(l), &Bytes::from("/etc/nsswitch.conf"));
        acc.add(b"/etc/nsswitch.conf", kind, ev);
    }
}

/// Files the C library names (`/etc/services`) taken from the root.
fn services(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Services, SERVICES) else { return };
    let l = v.libc.unwrap_or(0);
    for name in ["/etc/services", "/etc/protocols"] {
        let named = v.facts[l].strings.paths.iter().find(|s| s.as_bytes() == name.as_bytes());
        let Some(s) = named else { continue };
        match v.rt.paths.get(v.rt.resolver.root(), name.as_bytes()) {
            Some(info) if matches!(info.kind, Kind::File { .. }) => {
                acc.add(name.as_bytes(), ItemKind::Path, ev.clone().located(v.path(l), s));
            }
            _ => acc.hint(Pack::Services, format!("{name} (named by {}) is not in the root", v.path(l).display())),
        }
    }
}

fn ca(v: &View<'_>, acc: &mut Acc) {
    if !v.rt.opts.is_enabled(Pack::Ca) {
        return;
    }
    let tls = v.c.objects.iter().find(|o| {
        let n = o.file.location.realpath.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let s = o.file.soname.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
        TLS.iter().any(|t| n.starts_with(t.as_bytes()) || s.starts_with(t.as_bytes()))
    });
    let ev = match tls {
        Some(o) => {
            let lib = Bytes::from(o.file.location.realpath.file_name().map(|n| n.as_bytes()).unwrap_or_default());
            Evidence::new(Pack::Ca, Some(&o.file.location.realpath), Seen::Library { library: lib })
        }
        None if v.rt.opts.is_forced(Pack::Ca) => Evidence::new(Pack::Ca, None, Seen::Flag { flag: "--with ca".into() }),
        None => return,
    };
    let root = v.rt.resolver.root();
    let mut found = false;
    for i in 0..v.c.objects.len() {
        for (p, s) in v.path_strings(i) {
            let Some(info) = v.rt.paths.get(root, p) else { continue };
            if !info.readable || p.windows(7).any(|w| w == b"private") {
                continue;
            }
            let name = p.rsplit(|&b| b == b'/').next().unwrap_or_default();
            let take = match info.kind {
                Kind::File { elf: false, .. } => name.ends_with(b".crt") || name.ends_with(b".pem"),
                Kind::Dir => name == b"certs",
                _ => false,
            };
            if take {
                found = true;
                acc.add(p, ItemKind::Path, ev.clone().located(v.path(i), s));
            }
            if info.kind == Kind::Dir {
                let mut cnf = p.clone();
                cnf.extend_from_slice(b"/openssl.cnf");
                if matches!(v.rt.paths.get(root, &cnf).map(|i| i.kind.clone()), Some(Kind::File { .. })) {
                    acc.add(&cnf, ItemKind::Path, ev.clone().located(v.path(i), s));
                }
            }
        }
    }
    if !found {
        acc.hint(Pack::Ca, "a TLS library is in the closure but no CA bundle it names is in the root".into());
    }
}

/// Directories named by the closure's strings whose last component is `leaf`.
fn named_dirs(v: &View<'_>, leaf: &[u8]) -> Vec<(usize, Vec<u8>, Bytes)> {
    let root = v.rt.resolver.root();
    let mut out = Vec::new();
    let order: Vec<usize> = v.libc.into_iter().chain((0..v.c.objects.len()).filter(|i| Some(*i) != v.libc)).collect();
    for i in order {
        for (p, s) in v.path_strings(i) {
            if p.rsplit(|&b| b == b'/').next() != Some(leaf) || out.iter().any(|(_, q, _)| *q == *p) {
                continue;
            }
            if matches!(v.rt.paths.get(root, p).map(|x| x.kind.clone()), Some(Kind::Dir)) {
                out.push((i, p.clone(), s.clone()));
            }
        }
    }
    out
}

fn tzdata(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Tzdata, TIME) else { return };
    let dirs = named_dirs(v, b"zoneinfo");
    if dirs.is_empty() {
        acc.hint(
            Pack::Tzdata,
            "time functions are imported but no zoneinfo directory named by the closure is in the root".into(),
        );
    }
    let root = v.rt.resolver.root();
    for (i, d, s) in dirs.iter().take(1) {
        match &v.rt.opts.tz {
            None => acc.add(d, ItemKind::Path, ev.clone().located(v.path(*i), s)),
            Some(zones) => {
                for z in zones {
                    let mut p = d.clone();
                    p.push(b'/');
                    p.extend_from_slice(z.as_bytes());
                    match normalise(&p).and_then(|n| v.rt.paths.get(root, &n).map(|_| n)) {
                        Some(n) => {
                            let e = Evidence::new(Pack::Tzdata, None, Seen::Flag { flag: format!("--tz {z}") });
                            acc.add(&n, ItemKind::Path, e.located(v.path(*i), s));
                        }
                        None => acc.hint(Pack::Tzdata, format!("--tz {z}: no such zone in {}", as_path(d).display())),
                    }
                }
            }
        }
    }
    if let Some(l) = v.libc {
        if let Some(s) = v.facts[l].strings.paths.iter().find(|s| s.as_bytes() == b"/etc/localtime") {
            if v.rt.paths.get(root, s.as_bytes()).is_some() {
                acc.add(s.as_bytes(), ItemKind::Path, ev.clone().located(v.path(l), s));
            }
        }
    }
}

fn gconv(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Gconv, ICONV) else { return };
    let dirs = named_dirs(v, b"gconv");
    let Some((i, d, s)) = dirs.first() else {
        if v.libc.is_some_and(|l| v.facts[l].exports(b"__gconv_open") || v.facts[l].exports(b"iconv_open")) {
            acc.hint(
                Pack::Gconv,
                "iconv is imported but no gconv directory named by the C library is in the root".into(),
            );
        }
        return;
    };
    let ev = ev.located(v.path(*i), s);
    let Some(list) = &v.rt.opts.gconv else {
        acc.add(d, ItemKind::Path, ev);
        return;
    };
    let root = v.rt.resolver.root();
    let host = root.host_path(as_path(d));
    let names: Vec<std::ffi::OsString> =
        std::fs::read_dir(&host).map(|r| r.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    for n in &names {
        let b = n.as_bytes();
        let module = b.strip_suffix(b".so");
        let keep = b.starts_with(b"gconv-modules")
            || module.is_some_and(|m| {
                list.iter().any(|w| {
                    let w: Vec<u8> =
                        w.bytes().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
                    let m: Vec<u8> =
                        m.iter().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
                    w == m
                })
            });
        if keep {
            let mut p = d.clone();
            p.push(b'/');
            p.extend_from_slice(b);
            acc.add(&p, ItemKind::Path, ev.clone());
        }
    }
}

fn locale(v: &View<'_>, acc: &mut Acc) {
    let Some(ev) = v.trigger(Pack::Locale, LOCALE) else { return };
    let Some(l) = v.libc else { return };
    let root = v.rt.resolver.root();
    let dir = v.facts[l].strings.paths.iter().find(|s| {
        let b = s.as_bytes();
        b.ends_with(b"/locale") && matches!(v.rt.paths.get(root, b).map(|x| x.kind.clone()), Some(Kind::Dir))
    });
    let Some(s) = dir else { return };
    let mut wanted = vec!["C.utf8".to_string()];
    for w in &v.rt.opts.locales {
        // glibc normalises the codeset: en_US.UTF-8 is looked up as en_US.utf8.
        let n = match w.split_once('.') {
            Some((lang, cs)) => {
                format!(
                    "{lang}.{}",
                    cs.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
                )
            }
            None => w.clone(),
        };
        wanted.push(n);
    }
    for (k, w) in wanted.iter().enumerate() {
        let mut p = s.to_vec();
        p.push(b'/');
        p.extend_from_slice(w.as_bytes());
        let e = if k == 0 {
            ev.clone()
        } else {
            Evidence::new(Pack::Locale, None, Seen::Flag { flag: format!("--locale {w}") })
        };
        if v.rt.paths.get(root, &p).is_some() {
            acc.add(&p, ItemKind::Path, e.located(v.path(l), s));
        } else if k > 0 {
            let mut archive = s.to_vec();
            archive.extend_from_slice(b"/locale-archive");
            if v.rt.paths.get(root, &archive).is_some() {
                acc.add(&archive, ItemKind::Path, e.located(v.path(l), s));
            } else {
                acc.hint(Pack::Locale, format!("--locale {w}: not in {}", s));
            }
        }
    }
}

fn shell(v: &View<'_>, acc: &mut Acc) {
    if !v.rt.opts.is_enabled(Pack::Shell) {
        return;
    }
    let root = v.rt.resolver.root();
    let sh = |f: &Facts| f.strings.paths.iter().find(|s| s.as_bytes() == b"/bin/sh").cloned();
    let mut ev = None;
    if let (Some((i, sym)), Some(l)) = (v.importer(SHELL), v.libc) {
        if let Some(s) = sh(&v.facts[l]) {
            ev = Some(Evidence::new(Pack::Shell, Some(v.path(i)), Seen::Symbol { symbol: sym }).located(v.path(l), &s));
        }
    }
    if ev.is_none() {
        for (i, f) in v.facts.iter().enumerate() {
            if let (Some(sym), Some(s)) = (f.imports_any(EXEC), sh(f)) {
                ev = Some(
                    Evidence::new(Pack::Shell, Some(v.path(i)), Seen::Symbol { symbol: sym }).located(v.path(i), &s),
                );
                break;
            }
        }
    }
    if ev.is_none() && v.rt.opts.is_forced(Pack::Shell) {
        ev = Some(Evidence::new(Pack::Shell, None, Seen::Flag { flag: "--with shell".into() }));
    }
    let Some(ev) = ev else { return };
    if v.c.objects[0].file.location.realpath == Path::new("/bin/sh") {
        return;
    }
    match v.rt.paths.get(root, b"/bin/sh") {
        Some(_) => acc.add(b"/bin/sh", ItemKind::Program, ev),
        None => acc.hint(Pack::Shell, "the program runs commands through /bin/sh, which is not in the root".into()),
    }
}

/// Plugin directories, data files and directories, helper programs: what the objects'
/// path strings name in the root.
fn strings_packs(v: &View<'_>, acc: &mut Acc) {
    let opts = &v.rt.opts;
    let (plugins, data, helpers) =
        (opts.is_enabled(Pack::Plugins), opts.is_enabled(Pack::Data), opts.is_enabled(Pack::Helpers));
    let root = v.rt.resolver.root();
    // Directories that hold objects of the closure are library directories, not plugins.
    let mut lib_dirs: HashSet<Vec<u8>> = HashSet::default();
    let mut ancestors: HashSet<Vec<u8>> = HashSet::default();
    for o in &v.c.objects {
        for p in [&o.file.location.realpath, &o.file.location.path] {
            let mut cur = p.parent();
            if let Some(d) = cur {
                lib_dirs.insert(d.as_os_str().as_bytes().to_vec());
            }
            while let Some(d) = cur {
                ancestors.insert(d.as_os_str().as_bytes().to_vec());
                cur = d.parent();
            }
        }
    }
    let own_paths: HashSet<&[u8]> =
        v.c.objects.iter().map(|o| o.file.location.realpath.as_os_str().as_bytes()).collect();
    for i in 0..v.strong {
        // The C library and the loader name the system's own files, which the packs above
        // handle; their other strings are no evidence about this program.
        if Some(i) == v.libc || v.c.objects[i].role == Role::Interpreter {
            continue;
        }
        let loader = v.loads_plugins(i);
        for (p, s) in v.path_strings(i) {
            if SYSTEM_DIRS.iter().any(|d| d.as_bytes() == p.as_slice())
                || lib_dirs.contains(p)
                || ancestors.contains(p)
                // Nothing under the excluded trees is data, a plugin or a helper: not looked at.
                || under(p, NOT_DATA)
                // A file at the top of the tree (`/.dockerenv`) marks the host's kind.
                || !p[1..].contains(&b'/')
            {
                continue;
            }
            let Some(info) = v.rt.paths.get(root, p) else { continue };
            let real = info.realpath.as_os_str().as_bytes();
            if SYSTEM_DIRS.iter().any(|d| d.as_bytes() == real) || lib_dirs.contains(real) || ancestors.contains(real) {
                continue;
            }
            if !info.readable || own_paths.contains(real) {
                continue;
            }
            let excluded = under(p, NOT_DATA) || under(real, NOT_DATA);
            let ev = |pack: Pack| Evidence::new(pack, Some(v.path(i)), Seen::String { string: s.clone() });
            let tree = (info.kind == Kind::Dir && !excluded && (data || loader && plugins)).then(|| info.tree());
            match (&info.kind, tree) {
                (Kind::Dir, Some(Tree { bytes, has_elf: true, .. })) if loader && plugins => {
                    if bytes <= MAX_PLUGIN_TREE {
                        acc.add(p, ItemKind::Path, ev(Pack::Plugins));
                    } else {
                        acc.hint(
                            Pack::Plugins,
                            format!(
                                "{}: plugin directory {} is too large to ship on a guess (add it with --add)",
                                v.path(i).display(),
                                as_path(p).display()
                            ),
                        );
                    }
                }
                // A data directory holds data: one with programs or libraries (which need a
                // loader's evidence), or with links out of it (to host configuration, keys),
                // is only reported.
                (Kind::Dir, Some(Tree { bytes, has_elf, has_program, escapes })) if data => {
                    if has_elf || has_program || escapes {
                        acc.hint(
                            Pack::Data,
                            format!(
                                "{}: names the directory {}, which holds {} (add it with --add)",
                                v.path(i).display(),
                                as_path(p).display(),
                                if has_elf || has_program { "programs or libraries" } else { "links out of it" }
                            ),
                        );
                    } else if bytes <= MAX_DATA_TREE {
                        acc.add(p, ItemKind::Path, ev(Pack::Data));
                    } else {
                        acc.hint(
                            Pack::Data,
                            format!(
                                "{}: data directory {} is too large to ship on a guess (add it with --add)",
                                v.path(i).display(),
                                as_path(p).display()
                            ),
                        );
                    }
                }
                (&Kind::File { elf, exec, script }, _) if (elf || script) && exec && !excluded => {
                    if helpers {
                        acc.add(p, ItemKind::Program, ev(Pack::Helpers));
                    } else if p != b"/bin/sh" {
                        acc.hint(
                            Pack::Helpers,
                            format!(
                                "{} names the program {} (add it with --with helpers or --add)",
                                v.path(i).display(),
                                as_path(p).display()
                            ),
                        );
                    }
                }
                (Kind::File { elf: false, .. }, _) if data && !excluded && info_size_ok(root, &info.realpath) => {
                    acc.add(p, ItemKind::Path, ev(Pack::Data));
                }
                _ => {}
            }
            // A compiled-in name is often the stem of the file read (libmagic opens
            // "/usr/share/misc/magic" + ".mgc"): data files beside it named STEM.SUFFIX come too.
            if data
                && !excluded
                && (matches!(info.kind, Kind::File { elf: false, .. })
                    || matches!(tree, Some(Tree { has_elf: false, has_program: false, escapes: false, .. })))
            {
                for sib in suffixed_siblings(v, p) {
                    acc.add(&sib, ItemKind::Path, ev(Pack::Data));
                }
            }
        }
    }
}

/// Data files `STEM.SUFFIX` in the directory of `stem` (an in-root path), regular files or
/// links to them, not ELF, world-readable, within the data size limit.
fn suffixed_siblings(v: &View<'_>, stem: &[u8]) -> Vec<Vec<u8>> {
    let root = v.rt.resolver.root();
    let Some(cut) = stem.iter().rposition(|&b| b == b'/') else { return Vec::new() };
    let (dir, base) = (&stem[..cut.max(1)], &stem[cut + 1..]);
    let names = v.rt.paths.read_dir(root, dir);
    let mut out = Vec::new();
    for n in names.iter() {
        let n = n.as_bytes();
        if n.len() <= base.len() + 1 || !n.starts_with(base) || n[base.len()] != b'.' {
            continue;
        }
        let mut p = if dir == b"/" { Vec::new() } else { dir.to_vec() };
        p.push(b'/');
        p.extend_from_slice(n);
        if let Some(info) = v.rt.paths.get(root, &p) {
            if info.readable && matches!(info.kind, Kind::File { elf: false, .. }) && info_size_ok(root, &info.realpath)
            {
                out.push(p);
            }
        }
    }
    out
}

fn info_size_ok(root: &Root, p: &Path) -> bool {
    std::fs::metadata(root.host_path(p)).map(|m| m.len() <= MAX_DATA_TREE).unwrap_or(false)
}

/// Hints for dlopen requests that found nothing, and misses for `required` notes.
fn dlopen_outcomes(v: &View<'_>, acc: &mut Acc) {
    for d in &v.c.dlopened {
        if d.to.is_none() || d.error.is_some() {
            let from = v.c.objects.get(d.request.from).map(|o| o.file.location.realpath.display().to_string());
            acc.hint(
                Pack::Dlopen,
                format!(
                    "{}: dlopen(\"{}\") would fail: {} ({})",
                    from.unwrap_or_default(),
                    d.request.name,
                    d.error.as_deref().unwrap_or("not found"),
                    d.request.reason
                ),
            );
        }
    }
    if !v.rt.opts.is_enabled(Pack::Dlopen) {
        return;
    }
    let loaded = v.names_loaded(v.c.objects.len());
    for (i, f) in v.facts.iter().enumerate() {
        for e in &f.notes.entries {
            if e.priority == Priority::Required && !e.sonames.iter().any(|s| loaded.contains(s.as_bytes())) {
                acc.required.push(RequiredMiss {
                    object: v.path(i).to_path_buf(),
                    sonames: e.sonames.clone(),
                    feature: e.feature.clone(),
                });
            }
        }
    }
}
