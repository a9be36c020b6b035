#!/bin/bash
# Built here, run there: prog is linked against libv.so.1 with versions V_1 and V_2 (new/)
# and finds one with V_1 only (old/) at run time: a missing non-weak version is fatal,
# `PROG: LIB: version `V_2' not found (required by PROG)`, and f@V_2 stays unbound.
. "$(dirname "$0")/../common.sh" "$@"
cat >v.c <<'C'
int f1(void) { return 1; }
int f2(void) { return 2; }
int g(void) { return 3; }
__asm__(".symver f1,f@V_1");
__asm__(".symver f2,f@@V_2");
C
cat >v1.c <<'C'
int f(void) { return 1; }
int g(void) { return 3; }
C
printf 'V_1 { global: f; g; };\nV_2 { global: f; } V_1;\n' >new.map
printf 'V_1 { global: f; g; };\n' >old.map
shlib new/libv.so.1 libv.so.1 v.c -Wl,--version-script=new.map
shlib old/libv.so.1 libv.so.1 v1.c -Wl,--version-script=old.map
printf 'extern int f(void), g(void);\nint main(void) { return f() + g(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lnew -l:libv.so.1 -Wl,-rpath,"$OUT/old"
