#!/bin/bash
# bash workload: indexed and associative arrays, string operations in loops, functions, subshells.
set -u
declare -a list=()
declare -A count=()
declare -A first=()

seed=4242
rnd() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); r=$(( seed / 65536 )); }

letters=abcdefghijklmnopqrstuvwxyz
for ((i = 0; i < 20000; i++)); do
	rnd; n=$(( 1 + r % 8 ))
	w=
	for ((j = 0; j < n; j++)); do
		rnd; w+=${letters:r % 26:1}
	done
	list+=("$w")
	count[$w]=$(( ${count[$w]:-0} + 1 ))
	[[ -n ${first[$w]:-} ]] || first[$w]=$i
done
echo "words ${#list[@]} distinct ${#count[@]}"

# string operations: case changes, substitutions, substrings, concatenation
joined=
upper=0 sub=0
for w in "${list[@]:0:5000}"; do
	u=${w^^}
	[[ $u == *[AEIOU]* ]] && upper=$((upper + 1))
	s=${w//a/xyz}
	sub=$((sub + ${#s}))
	joined+="${w:0:2}-"
done
echo "upper $upper sub $sub joined ${#joined}"

# delete from and rebuild an associative array
for k in "${!count[@]}"; do
	(( ${#k} % 2 == 0 )) && unset "count[$k]"
done
echo "odd-length keys ${#count[@]}"
top=$(for k in "${!count[@]}"; do printf '%s %s\n' "${count[$k]}" "$k"; done | LC_ALL=C sort -k1,1nr -k2 | head -n 5 | tr '\n' ' ')
echo "top $top"

# arrays of arrays by name, splitting with IFS, read loops
IFS=- read -r -a parts <<< "$joined"
echo "parts ${#parts[@]} first ${parts[0]} last ${parts[${#parts[@]}-1]}"
declare -A bylen=()
for w in "${list[@]}"; do bylen[${#w}]+="$w "; done
for len in $(printf '%s\n' "${!bylen[@]}" | sort -n); do
	# shellcheck disable=SC2086 # split the words on purpose
	set -- ${bylen[$len]}
	echo "len $len: $# words, first $1"
done
sum=0
while read -r a b; do sum=$((sum + a * ${#b})); done < <(for ((i = 0; i < 3000; i++)); do echo "$i ${list[i]}"; done)
echo "sum $sum"
