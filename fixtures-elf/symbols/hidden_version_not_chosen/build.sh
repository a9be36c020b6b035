#!/bin/bash
# References without a version (prog was linked against an unversioned stub) meet a library
# with versions V_1 (index 2), V_2 (3), V_3 (4): h exists only as the hidden h@V_2 and is
# never chosen; g has the hidden g@V_2 and the default g@@V_3, the single non-hidden one, so
# g@@V_3 binds; o exists only as the hidden o@V_1, index 2, which an unversioned reference
# accepts (the "oldest" version).
. "$(dirname "$0")/../common.sh" "$@"
printf 'int h(void) { return 1; }\nint g(void) { return 2; }\nint o(void) { return 3; }\n' >stub.c
cat >v.c <<'C'
int h2(void) { return 1; }
int g2(void) { return 2; }
int g3(void) { return 3; }
int o1(void) { return 4; }
__asm__(".symver h2,h@V_2");
__asm__(".symver g2,g@V_2");
__asm__(".symver g3,g@@V_3");
__asm__(".symver o1,o@V_1");
C
printf 'V_1 { global: o; };\nV_2 { global: h; g; } V_1;\nV_3 { global: g; } V_2;\n' >v.map
shlib stub/libh.so libh.so stub.c
shlib L/libh.so libh.so v.c -Wl,--version-script=v.map
printf 'extern int h(void), g(void), o(void);\nint main(void) { return h() + g() + o(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lstub -lh -Wl,-rpath,"$OUT/L"
