# sort under zmm: `sort -n` of 200k generated numbers, or `sort -u` of a file of words with repeats.
# The input is generated in the current directory (a fresh one per run) by awk.
set -eu
case $1 in
numbers)
	awk 'BEGIN { x = 1; for (i = 0; i < 200000; i++) { x = (x * 48271) % 2147483647; print x % 1000000 - 500000 } }' > input
	sort -n input > sorted
	;;
unique)
	awk 'BEGIN { x = 7; for (i = 0; i < 200000; i++) { x = (x * 48271) % 2147483647; w = ""
		for (n = x % 7 + 1; n > 0; n--) w = w substr("abcdefgh", (x / n) % 8 + 1, 1); print w } }' > input
	sort -u input > sorted
	;;
*)
	echo "usage: sort.sh numbers|unique" >&2
	exit 2
	;;
esac
wc -l < sorted
head -n 3 sorted
tail -n 3 sorted
cksum < sorted
