#!/bin/bash
# libp defines pf with protected visibility and calls it itself; prog calls pf too. A
# protected definition is exported (unlike a hidden one, which is never found: hf).
. "$(dirname "$0")/../common.sh" "$@"
cat >p.c <<'C'
__attribute__((visibility("protected"))) int pf(void) { return 1; }
__attribute__((visibility("hidden"))) int hf(void) { return 2; }
int use(void) { return pf() + hf(); }
C
printf 'int pf(void) { return 1; }\nint hf(void) { return 2; }\nint use(void) { return 3; }\n' >stub.c
shlib L/libp.so libp.so p.c
shlib stub/libp.so libp.so stub.c
printf 'extern int pf(void), hf(void), use(void);\nint main(void) { return pf() + hf() + use(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lstub -lp -Wl,-rpath,"$OUT/L"
