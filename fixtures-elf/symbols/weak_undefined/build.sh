#!/bin/bash
# prog references wf weakly and sf strongly; at run time nothing defines either: only the
# strong reference is reported.
. "$(dirname "$0")/../common.sh" "$@"
printf 'int wf(void) { return 1; }\nint sf(void) { return 2; }\n' >stub.c
printf 'int other(void) { return 3; }\n' >real.c
shlib stub/libw.so libw.so stub.c
shlib L/libw.so libw.so real.c
printf 'extern int wf(void) __attribute__((weak)); extern int sf(void);\nint main(void) { return (wf ? wf() : 0) + sf(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -Lstub -lw -Wl,-rpath,"$OUT/L"
