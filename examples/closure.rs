//! The closure of one program, as the loader would map it: `cargo run --example closure
//! [PROGRAM]` (default `/bin/sh`).
//!
//! Prints every file the loader maps (the interpreter and each library, canonical paths), how
//! each `DT_NEEDED` name was found, and what is missing.

use std::process::ExitCode;

fn main() -> ExitCode {
    let program = std::env::args_os().nth(1).unwrap_or_else(|| "/bin/sh".into());
    let closure = match depclose::closure(&program) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("{}:", closure.input.display());
    for file in closure.loaded_files() {
        println!("    maps {}", file.display());
    }
    for edge in &closure.edges {
        let to = &closure.objects[edge.to];
        println!("    {} => {} ({:?})", edge.name, to.location().path.display(), edge.via);
    }
    for miss in &closure.missing {
        println!("    {} => not found", miss.name);
    }
    if closure.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
