#!/bin/bash
# A weak version requirement (VER_FLG_WEAK, set here by hand: GNU ld does not) that the
# provider lacks is a warning, `weak version `V_2' not found`, not fatal.
. "$(dirname "$0")/../common.sh" "$@"
cat >v.c <<'C'
int f1(void) { return 1; }
int f2(void) { return 2; }
__asm__(".symver f1,f@V_1");
__asm__(".symver f2,f@@V_2");
int g(void) { return 3; }
C
printf 'int f(void) { return 1; }\nint g(void) { return 3; }\n' >v1.c
printf 'V_1 { global: f; g; };\nV_2 { global: f; } V_1;\n' >new.map
printf 'V_1 { global: f; g; };\n' >old.map
shlib new/libv.so.1 libv.so.1 v.c -Wl,--version-script=new.map
shlib old/libv.so.1 libv.so.1 v1.c -Wl,--version-script=old.map
printf 'extern int f(void) __attribute__((weak)); extern int g(void);\nint main(void) { return (f ? f() : 0) + g(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lnew -l:libv.so.1 -Wl,-rpath,"$OUT/old"
weaken bin/prog V_2
