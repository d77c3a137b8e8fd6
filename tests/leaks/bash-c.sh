# bash-c.sh: the script the leaks-bash test passes to `bash -c` (as a string, not a file) under
# ZMM_LEAKS=1: arrays, an associative array, string operations, a function, a here-string, and a
# command substitution (a forked subshell, which writes its own report if it leaks).
declare -a squares=()
declare -A seen=()
for ((i = 0; i < 2000; i++)); do
	squares+=($((i * i)))
	seen["k$((i % 37))"]+=x
done
words="alpha beta gamma delta epsilon"
upper=${words^^}
count=0
for w in $words; do count=$((count + ${#w})); done
f() { local s=$1; printf '%s:%s\n' "${s//a/A}" "${#s}"; }
f "$words"
read -r first rest <<< "$words"
sub=$(printf '%s\n' "${squares[@]:0:5}" | { while read -r n; do printf '%s,' "$n"; done; })
echo "squares ${#squares[@]} last ${squares[1999]} keys ${#seen[@]} upper $upper count $count first $first rest $rest sub $sub"
