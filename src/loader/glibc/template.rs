//! Closures shared between inputs: an input that contributes only its `DT_NEEDED` list and
//! `DT_SONAME` to the loading gets the closure of the first such input with the same key.

use super::*;

/// A computed closure kept as the pattern for every input with the same [`template_key`].
pub(crate) struct Template {
    pub(super) closure: Closure,
    /// How many of its diagnostics came with the input (they are the input's own).
    pub(super) initial_diagnostics: usize,
}

/// The key under which the closure of `input` may be shared with other inputs, `None` when
/// the input itself can steer the loading.
///
/// What the loader does after mapping the executable depends on the executable only
/// through its `DT_NEEDED` list, its `DT_SONAME` (a dependency may name it) and
/// `DF_1_NODEFLIB`, unless it has `DT_RPATH`/`DT_RUNPATH` (searched for its dependencies,
/// `$ORIGIN` relative to it), filters, a dynamic string token in a name, or is mapped by
/// explicit invocation (then its path and file identity are registered). Those inputs,
/// inputs without `PT_INTERP` and inputs outside the root are computed alone.
pub(super) fn template_key(ctx: &Context<'_>, input: &Input, info: &ElfInfo) -> Option<Box<[u8]>> {
    let d = info.dynamic.as_ref()?;
    let explicit = ctx.settings.origin == crate::settings::OriginMode::AsGiven;
    if explicit
        || !input.dlopen.is_empty()
        || info.interp.is_none()
        || !ctx.target.interp_from_input
        || input.origin.is_none()
        || d.rpath.is_some()
        || d.runpath.is_some()
        || !d.filter.is_empty()
        || !d.auxiliary.is_empty()
        || d.needed.iter().any(|n| dst_count(n) > 0)
    {
        return None;
    }
    let mut k = Vec::with_capacity(64);
    k.extend_from_slice(&(u64::from(ctx.target.id.0)).to_le_bytes());
    k.push(u8::from(d.flags_1 & elf::DF_1_NODEFLIB != 0));
    k.extend_from_slice(&(input.diagnostics.len() as u64).to_le_bytes());
    match &d.soname {
        Some(s) => {
            k.push(1);
            k.extend_from_slice(&(s.len() as u64).to_le_bytes());
            k.extend_from_slice(s);
        }
        None => k.push(0),
    }
    for n in &d.needed {
        k.extend_from_slice(&(n.len() as u64).to_le_bytes());
        k.extend_from_slice(n);
    }
    Some(k.into_boxed_slice())
}

/// The closure of `input` from a template made for another input with the same key: the
/// input object and the input's own diagnostics are this input's, the rest is shared.
pub(super) fn instantiate(t: &Template, input: &Input, info: &ElfInfo) -> Closure {
    let c = &t.closure;
    let mut objects = Vec::with_capacity(c.objects.len());
    let file = Arc::new(object_file(input.location.clone(), info, input.facts.mode, input.facts.size));
    let mut exe = Object::new(Role::Input, None, file);
    exe.names = c.objects[0].names.clone();
    objects.push(exe);
    objects.extend(c.objects[1..].iter().cloned());
    let mut diagnostics: Vec<Diagnostic> =
        input.diagnostics.iter().map(|m| Diagnostic { object: None, message: m.clone() }).collect();
    diagnostics.extend(c.diagnostics.iter().skip(t.initial_diagnostics).cloned());
    Closure {
        input: input.host_path.clone(),
        root: c.root.clone(),
        libc: c.libc,
        linkage: c.linkage,
        interpreter: c.interpreter.clone(),
        objects,
        edges: c.edges.clone(),
        missing: c.missing.clone(),
        fatal: c.fatal.clone(),
        diagnostics,
        loader_files: c.loader_files.clone(),
        dlopened: Vec::new(),
    }
}
