#!/bin/bash
# A loaded file that defines both __libc_start_main and stdin is a C library: musl unmaps it
# and uses itself instead (dynlink.c load_library, ldso-spec.md §7 "libc substitution").
#   libfakec.so defines both: replaced by the loader.
#   libhalf.so defines only __libc_start_main: kept.
#   NEEDED /usr/lib/x86_64-linux-musl/libc.so (the loader's own file, by another path):
#   replaced (prog_path).
. "$(dirname "$0")/../common.sh" "$@"
cat > "$OBJ/fakec.c" <<'C'
int __libc_start_main(void) { return 0; }
void *stdin = 0;
C
cat > "$OBJ/half.c" <<'C'
int __libc_start_main(void) { return 0; }
C
SRC=$OBJ/fakec.c lib "$OUT/A/libfakec.so"
SRC=$OBJ/half.c lib "$OUT/A/libhalf.so"
exe "$OUT/bin/prog"
needs "$OUT/bin/prog" libfakec.so libhalf.so
rpath "$OUT/bin/prog" "$OUT/A"
exe "$OUT/bin/prog_path"
needs "$OUT/bin/prog_path" "$(readlink -f "$LOADER")"
