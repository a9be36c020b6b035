//! Search path assembly: `LD_PRELOAD`, `DT_RPATH` of the object and its loaders, `LD_LIBRARY_PATH`,
//! `DT_RUNPATH`, and dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`) expanded as
//! elf/dl-load.c `fillin_rpath`/`_dl_dst_substitute` and elf/dl-origin.c do.

use super::*;

/// `is_dst`: length of the token (with braces) at the start of `s` (after the `$`).
pub(super) fn is_dst(s: &[u8], tok: &[u8]) -> Option<usize> {
    let (curly, body) = match s.first() {
        Some(b'{') => (true, &s[1..]),
        _ => (false, s),
    };
    if !body.starts_with(tok) {
        return None;
    }
    let next = body.get(tok.len()).copied();
    if curly {
        (next == Some(b'}')).then_some(tok.len() + 2)
    } else if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
        None
    } else {
        Some(tok.len())
    }
}

/// `_dl_dst_count`: how many known tokens `s` holds.
pub(crate) fn dst_count(s: &[u8]) -> usize {
    // Names are short: a plain scan beats a vectorised search here.
    if !s.contains(&b'$') {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while let Some(p) = s[i..].iter().position(|&b| b == b'$') {
        let at = i + p + 1;
        let rest = &s[at..];
        if let Some(l) = is_dst(rest, b"ORIGIN").or_else(|| is_dst(rest, b"PLATFORM")).or_else(|| is_dst(rest, b"LIB"))
        {
            n += 1;
            i = at + l;
        } else {
            i = at;
        }
    }
    n
}

impl Loader<'_> {
    /// LD_PRELOAD names (split on space and `:`), then the root's `/etc/ld.so.preload`.
    pub(super) fn preload_names(&mut self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = Vec::new();
        for p in &self.ctx.settings.preload {
            for part in p.as_bytes().split(|&b| b == b' ' || b == b':') {
                if !part.is_empty() && (!self.ctx.settings.secure || !part.contains(&b'/')) {
                    out.push(Bytes::from(part));
                }
            }
        }
        if self.target.libc == Libc::Glibc {
            if let Some(text) = self.shared.preload_file(self.ctx.files) {
                for line in text.split(|&b| b == b'\n') {
                    let line = line.split(|&b| b == b'#').next().unwrap_or_default();
                    for part in line.split(|&b| b == b' ' || b == b'\t' || b == b':') {
                        if !part.is_empty() {
                            out.push(Bytes::from(part));
                            self.used_preload_file = true;
                        }
                    }
                }
            }
        }
        out
    }

    /// A path string made absolute against the modelled cwd (`None` when unknown).
    pub(super) fn absolute(&self, p: &[u8]) -> Option<Vec<u8>> {
        if p.first() == Some(&b'/') {
            return Some(p.to_vec());
        }
        let cwd = self.ctx.settings.cwd.as_ref()?;
        Some(join_bytes(cwd.as_os_str().as_bytes(), p))
    }

    /// `l_origin` of map `m`.
    pub(super) fn origin_of(&self, m: usize) -> Option<Vec<u8>> {
        match &self.ns.maps[m].origin {
            Some(o) => o.clone(),
            None => self.absolute(self.ns.maps[m].name.as_bytes()).map(|a| dirname_bytes(&a)),
        }
    }

    /// Substitute DSTs in `s` for map `m`. `None` when a known token has no value (the
    /// whole string is discarded, as glibc does).
    pub(super) fn substitute(&self, m: usize, s: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        let mut check_trusted = false;
        while i < s.len() {
            if s[i] != b'$' {
                out.push(s[i]);
                i += 1;
                continue;
            }
            let rest = &s[i + 1..];
            let (len, repl): (usize, Option<Vec<u8>>) = if let Some(n) = is_dst(rest, b"ORIGIN") {
                let secure_ok = !self.ctx.settings.secure || i == 0 || s[i - 1] == b':';
                check_trusted = self.ctx.settings.secure && m == 0;
                (n, if secure_ok { self.origin_of(m) } else { None })
            } else if let Some(n) = is_dst(rest, b"PLATFORM") {
                (n, self.target.platform.as_ref().map(|p| p.to_vec()))
            } else if let Some(n) = is_dst(rest, b"LIB") {
                (n, Some(self.target.lib.to_vec()))
            } else {
                (0, None)
            };
            if len == 0 {
                out.push(b'$');
                i += 1;
                continue;
            }
            match repl {
                Some(r) => {
                    out.extend_from_slice(&r);
                    i += 1 + len;
                }
                None => return None,
            }
        }
        if check_trusted && !self.is_trusted(&out) {
            return None;
        }
        Some(out)
    }

    /// `is_trusted_path_normalize`: the lexically normalised directory lies in a system dir.
    pub(super) fn is_trusted(&self, p: &[u8]) -> bool {
        let mut parts: Vec<&[u8]> = Vec::new();
        for c in p.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut norm = Vec::new();
        for c in parts {
            norm.push(b'/');
            norm.extend_from_slice(c);
        }
        norm.push(b'/');
        self.target.system_dirs.iter().any(|d| norm.starts_with(d.as_bytes()))
    }

    /// `fillin_rpath`: split, expand each element, drop empty expansions, normalise trailing
    /// slashes, remove duplicates. A literally empty element stays "" (the cwd).
    pub(super) fn expand_path_list(&self, m: usize, list: &[u8], seps: &[u8]) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for el in list.split(|b| seps.contains(b)) {
            let mut d = if el.is_empty() {
                Vec::new()
            } else {
                let expanded = if dst_count(el) > 0 {
                    match self.substitute(m, el) {
                        Some(e) => e,
                        None => continue,
                    }
                } else {
                    el.to_vec()
                };
                if expanded.is_empty() {
                    continue;
                }
                expanded
            };
            crate::bytes::dir_with_slash(&mut d);
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// `cache_rpath`: the expanded DT_RPATH (`runpath` false) or DT_RUNPATH of map `m`. An
    /// object with DT_RUNPATH has no DT_RPATH at all (get-dynamic-info.h).
    pub(super) fn rpath_dirs(&mut self, m: usize, runpath: bool) -> Option<Dirs> {
        let d = self.ns.maps[m].info.dynamic.as_ref()?;
        // Nothing to cache for the common object without either.
        if d.rpath.is_none() && d.runpath.is_none() {
            return None;
        }
        if let Some(v) = self.paths.rpath_cache.get(&(m, runpath)) {
            return v.clone();
        }
        let s = if runpath {
            d.runpath.clone()
        } else if d.runpath.is_some() {
            None
        } else {
            d.rpath.clone()
        };
        let v = s.map(|s| Rc::new(self.expand_path_list(m, s.as_bytes(), b":")));
        self.paths.rpath_cache.insert((m, runpath), v.clone());
        v
    }

    /// The directory lists searched before the cache, in order (`_dl_map_object`, 2.36):
    /// the DT_RPATH of the requester and of each of its first loaders (unless the requester
    /// has DT_RUNPATH), the executable's if the chain missed it, `LD_LIBRARY_PATH`, the
    /// requester's DT_RUNPATH.
    pub(super) fn stages(&mut self, req: usize) -> Vec<Stage> {
        let mut stages = Vec::new();
        let has_runpath = self.ns.maps[req].info.dynamic.as_ref().is_some_and(|d| d.runpath.is_some());
        if !has_runpath {
            let mut did_main = false;
            let mut cur = Some(req);
            while let Some(i) = cur {
                if let Some(dirs) = self.rpath_dirs(i, false) {
                    stages.push((FoundVia::Rpath { owner: self.obj_of(i) }, dirs));
                    did_main |= i == 0;
                }
                cur = self.ns.maps[i].loader;
            }
            if !did_main {
                if let Some(dirs) = self.rpath_dirs(0, false) {
                    stages.push((FoundVia::Rpath { owner: 0 }, dirs));
                }
            }
        }
        if let Some(dirs) = self.paths.llp.clone() {
            stages.push((FoundVia::LdLibraryPath, dirs));
        }
        if has_runpath {
            if let Some(dirs) = self.rpath_dirs(req, true) {
                stages.push((FoundVia::Runpath, dirs));
            }
        }
        stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_tokens() {
        assert_eq!(is_dst(b"ORIGIN/x", b"ORIGIN"), Some(6));
        assert_eq!(is_dst(b"{ORIGIN}/x", b"ORIGIN"), Some(8));
        assert_eq!(is_dst(b"ORIGINX", b"ORIGIN"), None);
        assert_eq!(is_dst(b"{ORIGIN", b"ORIGIN"), None);
        assert_eq!(dst_count(b"$ORIGIN$ORIGIN/$LIB/$FOO"), 3);
        assert_eq!(dst_count(b"$$"), 0);
    }
}
