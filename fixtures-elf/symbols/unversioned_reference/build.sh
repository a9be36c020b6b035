#!/bin/bash
# An unversioned reference to f meets f@V_1 (hidden) and f@@V_2, and one to n meets only
# n@@V_2: both bind (the base or oldest version, else the single default one). A versioned
# reference to v@V_1 meets only an unversioned definition in a library that has versions
# (index 1, VER_NDX_GLOBAL): accepted too.
. "$(dirname "$0")/../common.sh" "$@"
printf 'int f(void) { return 1; }\nint n(void) { return 2; }\n' >stub.c
cat >v.c <<'C'
int f1(void) { return 1; }
int f2(void) { return 2; }
int n2(void) { return 3; }
__asm__(".symver f1,f@V_1");
__asm__(".symver f2,f@@V_2");
__asm__(".symver n2,n@@V_2");
C
printf 'V_1 { global: f; };\nV_2 { global: f; n; } V_1;\n' >v.map
shlib stub/libu.so libu.so stub.c
shlib L/libu.so libu.so v.c -Wl,--version-script=v.map
printf 'int vv(void) { return 1; }\n' >w1.c
printf 'int vv(void) { return 1; }\nint other(void) { return 2; }\n' >w2.c
printf 'V_1 { global: vv; };\n' >w1.map
printf 'V_1 { global: other; };\n' >w2.map
shlib stub/libw.so libw.so w1.c -Wl,--version-script=w1.map
shlib L/libw.so libw.so w2.c -Wl,--version-script=w2.map
printf 'extern int f(void), n(void), vv(void);\nint main(void) { return f() + n() + vv(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lstub -lu -lw -Wl,-rpath,"$OUT/L"
