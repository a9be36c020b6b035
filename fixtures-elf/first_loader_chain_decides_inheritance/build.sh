#!/bin/bash
# RPATH inheritance follows l_loader, the requester of the *first* load (ldso-spec.md §1.1,
# §8 case 6). libA (RPATH=D) and libB both need libC; libC needs libD (only in D).
# prog_ab NEEDs [libA, libB]: libC is first loaded by libA, libD is found.
# prog_ba NEEDs [libB, libA]: libC is first loaded by libB, libD is not found.
. "$(dirname "$0")/../common.sh" "$@"
lib "$OUT/D/libD.so"
lib "$OUT/L/libC.so"
needs "$OUT/L/libC.so" libD.so
lib "$OUT/L/libA.so"
needs "$OUT/L/libA.so" libC.so
rpath "$OUT/L/libA.so" "$OUT/D"
lib "$OUT/L/libB.so"
needs "$OUT/L/libB.so" libC.so
exe "$OUT/bin/prog_ab"
needs "$OUT/bin/prog_ab" libA.so libB.so
rpath "$OUT/bin/prog_ab" "$OUT/L"
exe "$OUT/bin/prog_ba"
needs "$OUT/bin/prog_ba" libB.so libA.so
rpath "$OUT/bin/prog_ba" "$OUT/L"
