#!/bin/sh
# redis.sh: redis-server under load on loopback, without zmm and then under LD_PRELOAD=$ZMM_LIB.
# Each run starts a server on a free 127.0.0.1 port (no persistence, debug command on), runs
# redis-benchmark over most command types (small and 20 KB values, pipelined), then a fixed
# workload through redis-cli --pipe (strings from 1 byte to 3 MB, lists, hashes, sets, sorted
# sets, appends, setrange, deletes), and reads DBSIZE and DEBUG DIGEST-VALUE of every key and
# DEBUG DIGEST of the whole data set. Both runs must have no error, and the same DBSIZE and
# digests; the server must exit cleanly on SHUTDOWN NOSAVE. Requests are bounded in number.
# Under zmm, proof that zmm served that server process (proof.py): LD_DEBUG=bindings shows
# redis-server binding malloc and free to $ZMM_LIB (Debian's redis-server links jemalloc, whose
# malloc zmm must interpose) and nothing binding the malloc family elsewhere; ZMM_STATS=1 makes
# the server write zmm's statistics at exit, whose bin table must count at least one allocation
# per benchmark request (each command's arguments are objects of their own). A libzmm.so
# without malloc fails both. Skips (77) when redis-server or redis-tools is missing.
set -u
lib=${ZMM_LIB:?ZMM_LIB must name libzmm.so}
for p in redis-server redis-cli redis-benchmark; do
	command -v "$p" >/dev/null 2>&1 || {
		echo "redis.sh: SKIP: $p is not installed (Debian packages redis-server, redis-tools; scripts/install-deps)"
		exit 77
	}
done
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
proof=$(dirname -- "$0")/proof.py
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmm-redis.XXXXXX") || exit 1
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The fixed workload, in Redis's protocol.
"$python" - "$tmp/workload.resp" <<'PY' || exit 1
import sys
out = open(sys.argv[1], "wb")
def cmd(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
x = 12345
def rnd():
    global x
    x = (x * 6364136223846793005 + 1442695040888963407) % 2**64
    return x >> 33
for i in range(6000):
    r = rnd()
    size = [1, 17, 300, 3000, 40000][r % 5] + r % 97
    if i % 997 == 0:
        size = 3 * 1024 * 1024 + r % 4096          # huge values
    val = bytes([(i + j) % 251 for j in range(min(size, 4096))]) * (size // 4096 + 1)
    val = val[:size]
    k = r % 1500
    op = i % 10
    if op == 0: cmd("SET", b"s:%d" % k, val)
    elif op == 1: cmd("APPEND", b"s:%d" % (k // 2), val[:200])
    elif op == 2: cmd("RPUSH", b"l:%d" % (k % 50), val[:1000])
    elif op == 3: cmd("LPOP", b"l:%d" % ((k + 7) % 50))
    elif op == 4: cmd("HSET", b"h:%d" % (k % 40), b"f%d" % (r % 300), val[:500])
    elif op == 5: cmd("SADD", b"set:%d" % (k % 30), b"m%d" % (r % 2000))
    elif op == 6: cmd("ZADD", b"z:%d" % (k % 30), r % 100000, b"m%d" % (r % 3000))
    elif op == 7: cmd("SETRANGE", b"r:%d" % (k % 100), r % 50000, val[:100])
    elif op == 8: cmd("DEL", b"s:%d" % ((k * 3) % 1500))
    else: cmd("INCRBY", b"n:%d" % (k % 64), r % 1000)
out.close()
PY

free_port() {
	"$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run() {  # run NAME [ENV]...: one server's life; writes $tmp/NAME.result
	name=$1
	shift
	port=$(free_port) || return 1
	mkdir -p "$tmp/$name/bind" || return 1
	env -u LD_PRELOAD -u LD_DEBUG -u LD_DEBUG_OUTPUT -u ZMM_STATS "$@" \
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$tmp/$name" --daemonize no --loglevel warning --enable-debug-command local \
		--logfile "$tmp/$name/server.log" 2>"$tmp/$name/stderr" &
	server=$!
	pid=$server
	cli="redis-cli -h 127.0.0.1 -p $port"
	i=0
	until [ "$($cli ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
			echo "redis.sh: $name: the server did not answer on port $port" >&2
			cat "$tmp/$name/server.log" >&2
			return 1
		fi
		sleep 0.1
	done
	t0=$(date +%s)
	bench="redis-benchmark -h 127.0.0.1 -p $port -q -c 20 -r 5000"
	requests=$((14 * 10000 + 4 * 20000 + 4 * 2000))
	{
		$bench -n 10000 -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset &&
		$bench -n 20000 -P 16 -t set,get,lpush,lpop &&
		$bench -n 2000 -d 20000 -t set,get,lpush,lpop
	} >"$tmp/$name.bench" 2>&1
	status=$?
	# -q still draws progress with carriage returns: keep the final line of each command
	tr '\r' '\n' <"$tmp/$name.bench" | grep -E 'requests per second|rror' | sed "s/^/$name: /"
	if [ "$status" != 0 ] || grep -qi 'error' "$tmp/$name.bench"; then
		echo "redis.sh: $name: redis-benchmark failed (status $status)" >&2
		return 1
	fi
	$cli flushall >/dev/null || return 1
	$cli --pipe <"$tmp/workload.resp" >"$tmp/$name.pipe" 2>&1 || { cat "$tmp/$name.pipe" >&2; return 1; }
	grep -q 'errors: 0, replies: 6000' "$tmp/$name.pipe" || { cat "$tmp/$name.pipe" >&2; return 1; }
	{
		echo "dbsize $($cli dbsize)"
		echo "digest $($cli debug digest)"
		$cli --scan | sort >"$tmp/$name.keys"
		sed 's/^/debug digest-value /' "$tmp/$name.keys" | $cli | paste -d ' ' "$tmp/$name.keys" - |
			cksum | sed 's/^/keys /'
		echo "key count $(wc -l <"$tmp/$name.keys")"
		echo "memory $($cli info memory | grep -c used_memory)"
	} >"$tmp/$name.result"
	$cli shutdown nosave >/dev/null 2>&1
	wait "$server"
	status=$?
	server=
	[ "$status" = 0 ] || { echo "redis.sh: $name: redis-server exited with status $status" >&2; cat "$tmp/$name/server.log" "$tmp/$name/stderr" >&2; return 1; }
	echo "$name: $(tr '\n' ' ' <"$tmp/$name.result")($(($(date +%s) - t0)) s)"
	if [ $# -gt 0 ]; then   # under zmm
		proven=1
		"$python" "$proof" bindings "$lib" "$tmp/$name/bind" redis-server || proven=
		"$python" "$proof" stats "$tmp/$name/stderr" "$pid" "$requests" || proven=
		[ -n "$proven" ] || { echo "redis.sh: $name: not proven that zmm was redis-server's allocator" >&2; return 1; }
	fi
}

run plain || { echo "redis.sh: the run without zmm failed: nothing to compare" >&2; exit 1; }
run zmm LD_PRELOAD="$lib" ZMM_STATS=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/zmm/bind/b" || { echo "redis.sh: the run under zmm failed" >&2; exit 1; }
cmp -s "$tmp/plain.result" "$tmp/zmm.result" || {
	echo "redis.sh: the data differ:" >&2
	diff "$tmp/plain.result" "$tmp/zmm.result" >&2
	exit 1
}
grep -q '^dbsize [1-9]' "$tmp/zmm.result" || { echo "redis.sh: the data set is empty" >&2; exit 1; }
