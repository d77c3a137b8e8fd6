# gcc under zmm: compile hello.c (cc1, as, collect2 and ld run under the same LD_PRELOAD), run the
# result, and print a checksum of the binary (code generation must not depend on the allocator).
set -eu
src=$1
gcc -O2 -Wall -o hello "$src"
./hello
gcc -O2 -S -o hello.s "$src"
cksum < hello.s
