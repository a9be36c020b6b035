//! Criterion benchmarks, one group per layer: ELF parse (bytes in memory), the read-only
//! strings scan and the dlopen-note reader (libc, libcrypto), `ld.so.cache`
//! parse and lookup, one closure with a warm resolver, one closure with a cold resolver, and
//! a batch over many programs.
//!
//! `cargo bench --bench layers`
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use depclose::ld_cache::{accepted_flags, LdCache, Lookup};
use depclose::{Bytes, Resolver};

/// A deep program present on the machine (python3 if installed, else bash).
fn deep_program() -> PathBuf {
    ["/usr/bin/python3", "/usr/bin/redis-server", "/usr/bin/git", "/usr/bin/bash"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("a program to resolve")
}

fn parse(c: &mut Criterion) {
    let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").expect("libc");
    c.bench_function("parse/libc.so.6", |b| b.iter(|| depclose::elf::parse(black_box(&libc)).unwrap()));
}

fn strings(c: &mut Criterion) {
    for path in ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"] {
        let Ok(data) = std::fs::read(path) else { continue };
        let name = path.rsplit('/').next().unwrap_or(path);
        c.bench_function(&format!("strings/{name}"), |b| b.iter(|| depclose::elf::strings::scan(black_box(&data))));
        c.bench_function(&format!("notes/{name}"), |b| b.iter(|| depclose::elf::notes::dlopen_notes(black_box(&data))));
    }
}

fn cache(c: &mut Criterion) {
    let data = std::fs::read("/etc/ld.so.cache").expect("/etc/ld.so.cache");
    c.bench_function("ld_cache/parse", |b| b.iter(|| LdCache::parse(black_box(&data), false).unwrap()));
    let cache = LdCache::parse(&data, false).unwrap();
    let hw = [Bytes::from("x86-64-v3"), Bytes::from("x86-64-v2")];
    let q = Lookup::new(accepted_flags(62, true, 0), &hw, None);
    c.bench_function("ld_cache/lookup libc.so.6", |b| b.iter(|| cache.lookup(black_box(b"libc.so.6"), &q)));
}

fn closure(c: &mut Criterion) {
    let prog = deep_program();
    let warm = Resolver::builder().build().unwrap();
    warm.closure(&prog).unwrap();
    c.bench_function("closure/warm", |b| b.iter(|| warm.closure(black_box(&prog)).unwrap()));
    c.bench_function("closure/cold", |b| {
        b.iter(|| Resolver::builder().build().unwrap().closure(black_box(&prog)).unwrap())
    });
}

fn batch(c: &mut Criterion) {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/usr/bin")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| std::fs::read(p).map(|d| d.starts_with(b"\x7fELF")).unwrap_or(false))
        .collect();
    files.sort();
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.bench_function(format!("usr_bin_{}_files_cold", files.len()), |b| {
        b.iter(|| Resolver::builder().build().unwrap().closures(black_box(&files)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = parse, strings, cache, closure, batch
}
criterion_main!(benches);
