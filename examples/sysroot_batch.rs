//! Every ELF file of one directory of a root, closed over in one batch: `cargo run --example
//! sysroot_batch [ROOT [DIR]]` (default root `/`, directory `/usr/bin`).
//!
//! The resolver reads the root's own `etc/ld.so.cache` and loader, resolves symlinks inside
//! the root, and shares parsed files and search results between the inputs;
//! [`Resolver::closures_in_root`](depclose::Resolver::closures_in_root) runs them on its
//! thread pool and answers in input order. Prints one line per incomplete closure and a count.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "/".into()));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/usr/bin".into()));
    let resolver = depclose::Resolver::builder().root(&root).build()?;

    // The regular files of DIR (symlinks left out: they name files counted already) that
    // start with the ELF magic, as paths inside the root.
    let host_dir = resolver.host_path(&dir);
    let mut inputs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&host_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && starts_with_elf_magic(&entry.path()) {
            inputs.push(dir.join(entry.file_name()));
        }
    }
    inputs.sort();

    let closures = resolver.closures_in_root(&inputs);
    let (mut complete, mut incomplete, mut unusable) = (0, 0, 0);
    for (input, result) in inputs.iter().zip(&closures) {
        match result {
            Ok(c) if c.is_complete() => complete += 1,
            Ok(c) => {
                incomplete += 1;
                let names: Vec<String> = c.missing.iter().map(|m| m.name.to_string()).collect();
                println!("{}: not found: {}", input.display(), names.join(", "));
            }
            // Static programs, object files and other ELF files no loader maps.
            Err(_) => unusable += 1,
        }
    }
    println!(
        "{}: {} ELF files in {}: {complete} complete, {incomplete} with a missing library, {unusable} not loadable",
        root.display(),
        inputs.len(),
        dir.display()
    );
    Ok(())
}

fn starts_with_elf_magic(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && depclose::elf::is_elf(&head)
}
