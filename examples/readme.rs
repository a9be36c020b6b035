//! A complete program: `cargo add depclose`, paste this into src/main.rs, `cargo run`.
fn main() -> Result<(), depclose::Error> {
    // The closure of a program with this host's defaults.
    let closure = depclose::closure("/bin/sh")?;
    assert!(closure.is_complete());
    for file in closure.loaded_files() {
        println!("{}", file.display()); // the interpreter and every library, canonical paths
    }
    for edge in &closure.edges {
        let to = &closure.objects[edge.to];
        println!("{} => {} ({:?})", edge.name, to.location().path.display(), edge.via);
    }

    // Everything is an explicit setting: a root, LD_LIBRARY_PATH, the CPU level, ...
    let resolver = depclose::Resolver::builder()
        .root("/")
        .ld_library_path(Some("/opt/app/lib".as_ref()))
        .hwcaps(depclose::Hwcaps::X86_64Level(2))
        .build()?;
    // Many inputs at once, in parallel, sharing parsed files and search results.
    let all = resolver.closures(&["/bin/sh", "/usr/bin/env"]);
    assert!(all.iter().all(|c| c.is_ok()));
    Ok(())
}
