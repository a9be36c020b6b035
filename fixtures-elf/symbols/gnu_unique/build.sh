#!/bin/bash
# An STB_GNU_UNIQUE definition (C++ inline statics and templates use them) satisfies a
# reference like a global one; a reference to a second unique symbol nothing defines stays
# unbound.
. "$(dirname "$0")/../common.sh" "$@"
cat >u.s <<'S'
    .data
    .globl uobj
    .type uobj, @gnu_unique_object
    .size uobj, 4
uobj:
    .long 42
    .section .note.GNU-stack,"",@progbits
S
printf '    .data\n    .globl uobj\n    .type uobj, @gnu_unique_object\n    .size uobj, 4\nuobj:\n    .long 1\n    .globl gone\n    .type gone, @gnu_unique_object\n    .size gone, 4\ngone:\n    .long 2\n    .section .note.GNU-stack,"",@progbits\n' >stub.s
shlib L/libu.so libu.so u.s
shlib stub/libu.so libu.so stub.s
printf 'extern int uobj, gone;\nint main(void) { return uobj + gone; }\n' >main.c
mkdir -p bin
$CC -fPIE -o bin/prog main.c -Lstub -lu -Wl,-rpath,"$OUT/L"
readelf --dyn-syms -W L/libu.so | grep -q 'UNIQUE .* uobj'
