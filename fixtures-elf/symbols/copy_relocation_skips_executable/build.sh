#!/bin/bash
# A position-dependent prog reads dobj from libd through a copy relocation (R_X86_64_COPY):
# the lookup for a copy relocation skips the executable, whose copy is itself the
# definition, so when libd no longer defines dobj it is reported as unbound.
. "$(dirname "$0")/../common.sh" "$@"
printf 'int dobj = 5;\nint keep = 6;\n' >stub.c
printf 'int keep = 6;\n' >real.c
shlib stub/libd.so libd.so stub.c
shlib L/libd.so libd.so real.c
printf 'extern int dobj, keep;\nint main(void) { return dobj + keep; }\n' >main.c
mkdir -p bin
$CC -fno-pic -no-pie -o bin/prog main.c -Lstub -ld -Wl,-rpath,"$OUT/L"
readelf -r -W bin/prog | grep -q 'R_X86_64_COPY .* dobj'
