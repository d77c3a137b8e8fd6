# git under zmm: init a repository in the current directory (a fresh one per run, also $HOME),
# commit a few files, then log and diff. Names and dates are fixed so the hashes are too.
set -eu
export GIT_AUTHOR_NAME='Zmm Test' GIT_AUTHOR_EMAIL='zmm@example.invalid'
export GIT_COMMITTER_NAME='Zmm Test' GIT_COMMITTER_EMAIL='zmm@example.invalid'
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE

commit() {  # commit N MESSAGE
	GIT_AUTHOR_DATE="2024-01-0$1T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0$1T12:00:00Z" \
		git -c core.autocrlf=false commit -q -m "$2"
}

git init -q -b main repo
cd repo
i=0
while [ $i -lt 200 ]; do
	echo "line $i of the first file" >> one.txt
	i=$((i + 1))
done
printf 'int main(void) { return 0; }\n' > main.c
git add one.txt main.c
commit 1 'first commit: one.txt and main.c'

mkdir -p dir/sub
seq 1 500 > dir/numbers
echo 'nested file' > dir/sub/nested.txt
sed 's/first/FIRST/' one.txt > one.new && mv one.new one.txt
git add -A
commit 2 'second commit: a directory, an edit'

seq 1 3 500 > dir/numbers
git rm -q main.c
echo 'another' > two.txt
git add -A
commit 3 'third commit: remove main.c, thin numbers'

git log --format=%s
git log --format='%H %an %ad' --date=iso-strict
git diff HEAD~1 --stat
git diff HEAD~2 HEAD --numstat
git rev-parse 'HEAD^{tree}'
git count-objects
git gc -q
git fsck --no-progress 2>&1
git log --oneline --all | wc -l
