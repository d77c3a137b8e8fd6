# cmake under zmm: the script workload.cmake (cmake -P), then cmake -E tar reading a pax archive
# whose extended headers hold 100 KiB and 900 KiB attributes (libarchive grows its header string
# with realloc: large blocks), written by GNU tar. Runs in the current directory (a fresh one).
set -eu
script=$1
cmake -P "$script" 2>&1
i=0
while [ $i -lt 30 ]; do
	echo "file $i" > "f$i.txt"
	i=$((i + 1))
done
small=$(awk 'BEGIN { for (i = 0; i < 10240; i++) printf "0123456789" }')
tar --format=pax --pax-option="comment=$small" -cf small.tar f1.txt f2.txt
awk -v s="$small" 'BEGIN { printf "comment="; for (i = 0; i < 90; i++) printf "%s", s; printf "\n" }' > opt
# 900 KiB does not fit an argument (MAX_ARG_STRLEN is 128 KiB): tar reads no option files, so the
# big header comes from many attributes of 100 KiB each instead
set -- --format=pax
for k in 1 2 3 4 5 6 7 8 9; do
	set -- "$@" --pax-option="comment$k=$small"
done
tar "$@" -cf big.tar f*.txt
mkdir x y
cmake -E chdir x cmake -E tar xf ../small.tar
cmake -E chdir y cmake -E tar xf ../big.tar
cmake -E tar tf big.tar | sort | cksum
cat x/* | cksum
cat y/* | cksum
