#!/bin/sh
# Compile and run the pure-C unit tests of the CQL temporal and quantity
# modules (src/engine/cql_temporal.c, src/engine/cql_quantity.c).  They
# include no PostgreSQL headers, so gcc alone builds them, with the same
# strict warnings the extension build uses.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -std=c99 -O1 -g -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wpointer-arith -Wdeclaration-after-statement -Werror=vla \
	-Wimplicit-fallthrough=3 -fwrapv \
	-I"$root/src/engine" \
	"$here/test_cql_temporal.c" "$here/test_cql_quantity.c" "$here/test_main.c" \
	"$root/src/engine/cql_temporal.c" "$root/src/engine/cql_quantity.c" \
	-lm -o "$out/test_cql"
"$out/test_cql"
