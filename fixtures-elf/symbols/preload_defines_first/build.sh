#!/bin/bash
# prog references pre_fn, which its library no longer defines; a preloaded library does:
# with the preload it binds (and the preload's definition of lib_fn interposes the
# library's), without it pre_fn is unbound.
. "$(dirname "$0")/../common.sh" "$@"
printf 'int pre_fn(void) { return 1; }\nint lib_fn(void) { return 2; }\n' >stub.c
printf 'int lib_fn(void) { return 2; }\n' >real.c
printf 'int pre_fn(void) { return 1; }\nint lib_fn(void) { return 3; }\n' >pre.c
shlib stub/libl.so libl.so stub.c
shlib L/libl.so libl.so real.c
shlib P/libpre.so libpre.so pre.c
printf 'extern int pre_fn(void), lib_fn(void);\nint main(void) { return pre_fn() + lib_fn(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lstub -ll -Wl,-rpath,"$OUT/L"
