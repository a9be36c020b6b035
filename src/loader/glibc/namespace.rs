//! The namespace list (`struct link_map` entries in load order) and its indexes: what
//! `_dl_map_object`'s "already loaded" step matches (elf/dl-load.c, elf/dl-object.c,
//! elf/rtld.c for the interpreter's map).

use super::*;

/// One entry of the loader's namespace list (`struct link_map`, the parts that matter).
pub(super) struct Map {
    /// `l_name`: the path string it was opened under ("" for the executable).
    pub(super) name: Bytes,
    /// `DT_SONAME`, until it has been matched as a name (`l_soname_added`).
    pub(super) soname_pending: Option<Bytes>,
    pub(super) file_id: Option<FileId>,
    pub(super) info: Arc<ElfInfo>,
    /// `l_loader`.
    pub(super) loader: Option<usize>,
    /// `l_origin` when fixed at creation (the executable); `None`: the directory of the
    /// absolute form of `name`, computed when a `$ORIGIN` needs it. Inside: `None` = unknown
    /// (elements using `$ORIGIN` are dropped).
    pub(super) origin: Option<Option<Vec<u8>>>,
    /// Index in `Closure::objects`; `None` for the lazily materialised rtld of an input
    /// without `PT_INTERP`.
    pub(super) object: Option<usize>,
    /// Materialisation data for the lazy rtld.
    pub(super) lazy: Option<Box<Object>>,
}

impl Loader<'_> {
    /// Append a map to the namespace list and index its names: `l_name` and the name it was
    /// requested under.
    pub(super) fn push_map(&mut self, m: Map, libname: Option<&Bytes>) {
        let i = self.ns.maps.len();
        if let Some(s) = &m.soname_pending {
            self.ns.by_soname.entry(s.clone()).or_insert(i);
        }
        if let Some(id) = m.file_id {
            self.ns.by_id.entry(id).or_insert(i);
        }
        let name = m.name.clone();
        self.ns.maps.push(m);
        self.ns.queued.push(false);
        self.register_name(i, &name);
        if let Some(n) = libname {
            self.register_name(i, n);
        }
    }

    pub(super) fn register_name(&mut self, i: usize, name: &Bytes) {
        match self.ns.by_name.get_mut(name.as_bytes()) {
            Some(e) => *e = (*e).min(i),
            None => {
                self.ns.by_name.insert(name.clone(), i);
            }
        }
    }

    /// Queue map `m` for the breadth-first walk unless it already was.
    pub(super) fn enqueue(&mut self, queue: &mut Vec<usize>, m: usize) {
        if !self.ns.queued[m] {
            self.ns.queued[m] = true;
            queue.push(m);
        }
    }

    pub(super) fn obj_of(&self, m: usize) -> usize {
        self.ns.maps[m].object.unwrap_or(0)
    }

    /// Index in `objects` of map `m`, creating the lazy rtld object on first use.
    pub(super) fn materialise(&mut self, m: usize) -> usize {
        if let Some(o) = self.ns.maps[m].object {
            return o;
        }
        let obj = self.ns.maps[m].lazy.take().map(|b| *b).unwrap_or_else(|| self.out.objects[0].clone());
        self.out.objects.push(obj);
        let o = self.out.objects.len() - 1;
        self.ns.maps[m].object = Some(o);
        o
    }

    pub(super) fn add_rtld(&mut self, interp: &Bytes) {
        let files = self.ctx.files;
        let path = self.absolute(interp.as_bytes());
        let located = path.as_ref().and_then(|p| files.locate_cached(p));
        let Some(located) = located else {
            if self.target.interp_from_input {
                self.out.missing.push(Missing {
                    from: 0,
                    name: interp.clone(),
                    tried: vec![Attempt {
                        path: PathBuf::from(OsStr::from_bytes(interp.as_bytes())),
                        via: FoundVia::Interpreter,
                        rejection: Rejection::NotFound,
                    }],
                });
            }
            return;
        };
        let (info, file) = match located.object_file() {
            Ok(x) => x,
            Err(e) => {
                self.diag(None, format!("interpreter {interp}: {}", e.message()));
                return;
            }
        };
        let obj = Object::new(Role::Interpreter, None, file);
        let soname = info.dynamic.as_ref().and_then(|d| d.soname.clone());
        let (object, lazy) = if self.target.interp_from_input {
            self.out.objects.push(obj);
            let o = self.out.objects.len() - 1;
            self.out.edges.push(Edge { from: 0, name: interp.clone(), to: o, via: FoundVia::Interpreter });
            (Some(o), None)
        } else {
            (None, Some(Box::new(obj)))
        };
        self.push_map(
            Map {
                name: interp.clone(),
                soname_pending: None,
                file_id: None,
                info,
                loader: None,
                origin: Some(path.as_deref().map(dirname_bytes)),
                object,
                lazy,
            },
            soname.as_ref(),
        );
    }
}
