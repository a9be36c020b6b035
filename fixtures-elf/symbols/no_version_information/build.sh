#!/bin/bash
# The provider has no DT_VERDEF at all (built without a version script): "no version
# information available (required by PROG)" once per required version, and the versioned
# references bind to its plain definitions. (It imports from libc, so it has a DT_VERSYM:
# without one glibc's check_match asserts.)
. "$(dirname "$0")/../common.sh" "$@"
cat >v.c <<'C'
int f1(void) { return 1; }
int f2(void) { return 2; }
__asm__(".symver f1,f@V_1");
__asm__(".symver f2,f@@V_2");
int g(void) { return 3; }
C
printf '#include <stdio.h>\nint f(void) { return puts("f"); }\nint g(void) { return 3; }\n' >plain.c
printf 'V_1 { global: f; g; };\nV_2 { global: f; } V_1;\n' >new.map
shlib new/libv.so.1 libv.so.1 v.c -Wl,--version-script=new.map
mkdir -p plain
$CC -shared -fPIC -Wl,-soname,libv.so.1 -o plain/libv.so.1 plain.c
printf 'extern int f(void), g(void);\nint main(void) { return f() + g(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lnew -l:libv.so.1 -Wl,-rpath,"$OUT/plain"
