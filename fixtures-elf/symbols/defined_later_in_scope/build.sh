#!/bin/bash
# liba references b_sym, which only libb defines; liba does not need libb, but prog needs
# both, so libb is in the global scope and b_sym binds. nowhere_sym is defined by nothing.
. "$(dirname "$0")/../common.sh" "$@"
printf 'extern int b_sym(void), nowhere_sym(void);\nint a_fn(void) { return b_sym() + nowhere_sym(); }\n' >a.c
printf 'int b_sym(void) { return 2; }\n' >b.c
shlib L/liba.so liba.so a.c
shlib L/libb.so libb.so b.c
printf 'extern int a_fn(void);\nint main(void) { return a_fn(); }\n' >main.c
mkdir -p bin
$CC -o bin/prog main.c -LL -la -lb -Wl,-rpath,"$OUT/L" -Wl,--allow-shlib-undefined
