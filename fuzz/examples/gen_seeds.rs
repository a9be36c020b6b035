//! Writes the synthetic seeds of `fuzz/corpus/{parse_elf,resolve_small_root,symbols}` (the real-file
//! seeds are copied by `fuzz/seed.sh`). Run from `fuzz/`: `cargo run --example gen_seeds`.

use depclose_fuzz::elfgen::{build, Spec, ET_EXEC};
use depclose_fuzz::symgen;

fn put(dir: &str, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(format!("{dir}/{name}"), bytes).expect("write");
}

fn main() {
    let d = "corpus/parse_elf";
    put(d, "gen-lib64", &build(&Spec::lib("liba.so.1", &["libb.so.1", "libc.so.6"])));
    put(d, "gen-exe64", &build(&Spec::exe("/lib64/ld-linux-x86-64.so.2", &["liba.so.1"])));
    let mut s = Spec::lib("libm32.so", &["libc.so.6"]);
    s.class64 = false;
    s.machine = 3;
    s.rpath = Some(b"$ORIGIN/../lib".to_vec());
    put(d, "gen-lib32", &build(&s));
    let mut s = Spec::lib("libbe.so", &["libc.so.6"]);
    s.big_endian = true;
    s.machine = 21;
    s.runpath = Some(b"/opt/lib:$LIB".to_vec());
    put(d, "gen-lib64be", &build(&s));
    let mut s = Spec::exe("/lib/ld.so.1", &["libc.so.6"]);
    s.class64 = false;
    s.big_endian = true;
    s.machine = 20;
    s.e_type = ET_EXEC;
    s.flags_1 = 0;
    put(d, "gen-exe32be", &build(&s));
    let s = Spec { dynamic: false, ..Spec::default() };
    put(d, "gen-static", &build(&s));

    // resolve_small_root: see depclose_fuzz::build_tree for the encoding. Dictionary indices:
    // 1 liba.so.1, 2 libb.so.1, 4 ld-linux-x86-64.so.2, 8 $ORIGIN, 14 ../../../../../../etc/passwd,
    // 15 /etc/passwd, 22 /lib/liba.so.1, 28 ld.so.cache, 34 loop. Directories: 1 lib, 2 lib64.
    let d = "corpus/resolve_small_root";
    #[rustfmt::skip]
    let seeds: &[(&str, &[u8])] = &[
        // prog needs liba, libb; lib/liba needs libb; lib/libb; lib64/ld-linux.
        ("basic", &[0, 0, 2, 1, 2,
            0, 1, 1, 16, 1, 1, 2,
            0, 1, 2, 16, 2, 0,
            0, 2, 4, 16, 4, 0]),
        // Symlinks out of the root (relative and absolute), a self loop, an interpreter loop.
        ("escape", &[0, 0, 3, 1, 2, 34,
            2, 1, 1, 14,
            2, 1, 2, 15,
            2, 2, 4, 5,
            2, 0, 34, 34]),
        // A FIFO, a socket and a directory where libraries are expected.
        ("special", &[0, 0, 3, 1, 2, 4,
            4, 1, 1,
            5, 1, 2,
            3, 2, 4]),
        // A cycle and a library that needs itself, found through $ORIGIN rpaths.
        ("cycle", &[0, 32, 8, 1, 1,
            0, 7, 1, 48, 1, 8, 2, 2, 1,
            0, 7, 2, 48, 2, 8, 2, 1, 2]),
        // A truncated library and a corrupted one.
        ("damaged", &[0, 0, 2, 1, 2,
            6, 1, 1, 16, 1, 0, 100, 0, 0,
            6, 1, 2, 16, 2, 0, 20, 0, 0xff]),
        // A raw ld.so.cache and ld.so.preload, secure mode, no interpreter.
        ("raw", &[0x17, 22, 1, 0, 1, 1,
            1, 6, 28, 20, b'g', b'l', b'i', b'b', b'c', b'-', b'l', b'd', b'.', b's', b'o', b'.',
            b'c', b'a', b'c', b'h', b'e', b'1', b'.', b'1',
            1, 6, 29, 4, b'l', b'i', b'b', b'x']),
    ];
    for (name, bytes) in seeds {
        put(d, name, bytes);
    }

    // symbols: every class, byte order and hash table; and the hostile shapes the reader
    // must survive (a GNU hash chain without an end, version indices out of range, a
    // string offset past the table, overlapping version records, a huge nchain).
    let d = "corpus/symbols";
    for c64 in [true, false] {
        for be in [false, true] {
            for gnu in [true, false] {
                let mut s = symgen::Spec::sample();
                (s.class64, s.big_endian, s.gnu_hash) = (c64, be, gnu);
                s.machine = match (c64, be) {
                    (true, false) => 62,
                    (false, false) => 3,
                    (true, true) => 22,
                    (false, true) => 20,
                };
                let name = format!(
                    "gen-{}{}-{}",
                    if c64 { 64 } else { 32 },
                    if be { "be" } else { "le" },
                    if gnu { "gnu" } else { "sysv" }
                );
                put(d, &name, &symgen::build(&s));
            }
        }
    }
    let (bytes, lay) = symgen::build_with_layout(&symgen::Spec::sample());
    // GNU hash chain words all even: no end bit.
    let mut b = bytes.clone();
    for i in 0..6 {
        b[lay.hash + 28 + 4 * i] &= !1;
    }
    put(d, "hostile-chain-no-end", &b);
    // Version indices 0x7fff and 0xffff.
    let mut s = symgen::Spec::sample();
    s.syms[0].versym = 0x7fff;
    s.syms[1].versym = 0xffff;
    put(d, "hostile-versym-range", &symgen::build(&s));
    // st_name past the string table.
    let mut b = bytes.clone();
    b[lay.symtab + 24..lay.symtab + 28].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    put(d, "hostile-name-past", &b);
    // vna_next of 1: overlapping records.
    let mut b = bytes.clone();
    b[lay.verneed + 16 + 12..lay.verneed + 16 + 16].copy_from_slice(&1u32.to_le_bytes());
    put(d, "hostile-vna-overlap", &b);
    // DT_HASH with nchain 0xffffffff.
    let mut s = symgen::Spec::sample();
    s.gnu_hash = false;
    let (mut b, lay) = symgen::build_with_layout(&s);
    b[lay.hash + 4..lay.hash + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    put(d, "hostile-nchain", &b);
}
