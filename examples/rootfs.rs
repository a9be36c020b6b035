//! A rootfs tarball of `/bin/sh` that runs in a `FROM scratch` container: `cargo run
//! --example rootfs [OUT.tar.gz]` (default: `depclose-example-rootfs.tar.gz` in the
//! temporary directory).
//!
//! [`emit::assemble`] plans the closure and the runtime files the program's evidence asks for
//! (users, time zones, ...); [`emit::write_tar`] writes the plan reproducibly (members dated
//! 0, gzip level 9 by default) into an [`emit::AtomicFile`], which appears whole or not at all.

use depclose::emit::{self, AssembleOptions, TarOptions};

fn main() -> Result<(), depclose::Error> {
    let out = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("depclose-example-rootfs.tar.gz"));
    let resolver = depclose::Resolver::builder().build()?;
    let closure = resolver.closure("/bin/sh")?;
    let assembled = emit::assemble(&resolver, vec![closure], &AssembleOptions::default())?;
    let plan = &assembled.rootfs;

    let mut file = emit::AtomicFile::create(&out)?;
    emit::write_tar(plan, &mut file, &TarOptions::default())?;
    file.commit()?;
    println!(
        "{}: {} entries, {} bytes of file content, {} missing",
        out.display(),
        plan.entries().len(),
        plan.content_bytes(),
        plan.missing().len()
    );
    Ok(())
}
