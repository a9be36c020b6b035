#!/bin/bash
# libi calls exe_fn, which only the executable defines: prog, linked against libi, exports
# it (GNU ld exports what linked libraries reference) and the library's reference binds to
# it. prog2 was linked against a stub that does not reference exe_fn, so prog2 does not
# export it and the reference stays unbound.
. "$(dirname "$0")/../common.sh" "$@"
printf 'extern int exe_fn(void);\nint lib_fn(void) { return exe_fn(); }\n' >i.c
printf 'int lib_fn(void) { return 0; }\n' >stub.c
shlib L/libi.so libi.so i.c
shlib stub/libi.so libi.so stub.c
printf 'extern int lib_fn(void);\nint exe_fn(void) { return 7; }\nint main(void) { return lib_fn(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -LL -li -Wl,-rpath,"$OUT/L"
$CC -o bin/prog2 main.c -Lstub -li -Wl,-rpath,"$OUT/L"
