# bindings.awk: proof from LD_DEBUG=bindings logs that a run was interposed by zmm.
#   awk -v lib=LIBZMM -v binds='PROG<newline>PROG<newline>' -f bindings.awk LOG...
# LOG: the files LD_DEBUG_OUTPUT=DIR/b wrote (DIR/b.PID, one per process image chain). Requires:
#   - each PROG of binds (a newline-terminated list) ran: a process whose `transferring control'
#     line names it (PROG matches the whole path or its last component), and its process(es)
#     bound `malloc' and `free' to LIB;
#   - no object in any process bound a member of the malloc family to anything but LIB or a main
#     program (a canonical PLT entry of a non-PIE executable), e.g. to libc: a second heap.
# allow (optional, newline-terminated "OBJECT SYMBOL" lines, OBJECT a basename) lists bindings
# that are not a second heap, such as a dlsym(handle, "malloc") a program makes on purpose.
# Prints one line per PROG and per offending binding; exit status 0 proven, 3 not proven.
# Shared by compare.sh (programs suite) and tests/modes/run.py (modes suite).
BEGIN {
	nwant = split(binds, want, "\n") - 1
	split("malloc free calloc realloc memalign posix_memalign aligned_alloc valloc pvalloc " \
	      "malloc_usable_size __libc_malloc __libc_free __libc_calloc __libc_realloc " \
	      "__libc_memalign __libc_valloc __libc_pvalloc", f, " ")
	for (i in f) family[f[i]] = 1
	nallow = split(allow, al, "\n") - 1
	for (i = 1; i <= nallow; i++)
		allowed[al[i]] = 1
}
FNR == 1 { procs++ }
# ld.so writes a binding line in two writes (the text, then " [VERSION]" and the newline), so the
# lines of two threads of one process can run into each other: each "PID:<tab>" that does not
# start the line starts another record.
{
	rest = $0
	while (match(substr(rest, 2), / *[0-9]+:\t/)) {
		record(substr(rest, 1, RSTART))
		rest = substr(rest, RSTART + 1)
	}
	record(rest)
}
function record(line,    prog, i, src, dst, sym, base) {
	if (line ~ /transferring control: /) {
		prog = line
		sub(/^.*transferring control: /, "", prog)
		sub(/[ \t]+$/, "", prog)
		main[FILENAME, prog] = 1
		started[FILENAME] = 1
		for (i = 1; i <= nwant; i++)
			if (prog == want[i] || substr(prog, length(prog) - length(want[i])) == "/" want[i])
				ran[i, FILENAME] = 1
		return
	}
	if (line !~ /binding file / || line !~ / symbol `/)
		return
	sub(/^[^:]*:[ \t]*binding file /, "", line)
	if (!match(line, / \[[0-9]+\] to /))
		return
	src = substr(line, 1, RSTART - 1)
	dst = substr(line, RSTART + RLENGTH)
	sym = dst
	sub(/ \[[0-9]+\]: [a-z]+ symbol `.*$/, "", dst)
	sub(/^.* symbol `/, "", sym)
	sub(/'.*$/, "", sym)
	if (!(sym in family) || src == lib)
		return
	base = src
	sub(/^.*\//, "", base)
	if ((base " " sym) in allowed)
		return
	if (dst == lib) {
		if (sym == "malloc" || sym == "free")
			tolib[FILENAME, sym] = 1
		return
	}
	n++
	bfile[n] = FILENAME; bsrc[n] = src; bdst[n] = dst; bsym[n] = sym
}
END {
	status = 0
	for (i = 1; i <= nwant; i++) {
		np = 0; m = 0; fr = 0
		for (k in ran) {
			split(k, part, SUBSEP)
			if (part[1] != i)
				continue
			np++
			if ((part[2], "malloc") in tolib) m++
			if ((part[2], "free") in tolib) fr++
		}
		if (np == 0) {
			printf "FAIL: no process of %s ran under LD_DEBUG (argv[0] of the %d processes did not match)\n", want[i], procs
			status = 3
		} else if (m == 0 || fr == 0) {
			miss = m ? "" : "malloc"
			if (!fr)
				miss = miss (miss == "" ? "" : " and ") "free"
			printf "FAIL: %s (%d process(es)): %s not bound to %s\n", want[i], np, miss, lib
			status = 3
		} else {
			printf "ok: %s: malloc and free bound to zmm (%d process(es))\n", want[i], np
		}
	}
	bad = 0
	for (j = 1; j <= n; j++) {
		if ((bfile[j], bdst[j]) in main)
			continue
		# a process that never reached its program (killed while ld.so relocated it, as
		# test_subprocess does): its main program is not known, nor did any of its code run
		if (!(bfile[j] in started)) {
			if (!(bfile[j] in unstarted))
				nunstarted++
			unstarted[bfile[j]] = 1
			continue
		}
		if (bad++ < 10)
			printf "FAIL: %s bound `%s' to %s, not to zmm\n", bsrc[j], bsym[j], bdst[j]
		status = 3
	}
	if (bad > 10)
		printf "FAIL: ... %d such bindings in all\n", bad
	if (nunstarted)
		printf "%d process(es) ended before their program started: not audited\n", nunstarted
	printf "%d process(es) in the binding log\n", procs
	exit status
}
