#!/bin/bash
# make.sh OUTDIR: builds the runtime-evidence programs into OUTDIR (not a loader case, so no
# build.sh: tests/fixtures.rs does not run it). Used by tests/notes.rs and tests/strings.rs.
set -euo pipefail
here=$(dirname "$0")
out=$1
gcc -O2 -o "$out/dlopen_note" "$here/dlopen_note.c" -ldl
gcc -O2 -o "$out/dlopen_literal" "$here/dlopen_literal.c" -ldl
