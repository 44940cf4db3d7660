# Shared by the shell tests: assertions with a pass/fail count, free
# loopback ports, and a jwtgate started in the background. Source it, then
# end with `finish`, which prints "N passed, N failed" and sets the status.

JWTGATE_BIN=${JWTGATE_BIN:-build/jwtgate}
FIXTURES=${FIXTURES:-tests/fixtures}
pass=0
fail=0

check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		pass=$((pass + 1))
		echo "ok: $1"
	else
		fail=$((fail + 1))
		echo "FAIL: $1: expected '$2', got '$3'"
	fi
}

finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# An unused TCP port on 127.0.0.1.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The test directory's secret and the fixture users, for configs that name
# secret.key and users.ini.
jg_files() { # DIR
	printf '0123456789abcdef0123456789abcdef0123456789abcdef\n' > "$1/secret.key"
	cp "$FIXTURES/users.ini" "$1/users.ini"
}

# Start `jwtgate serve -c CONF` logging to LOG; sets jg_pid, and jg_port
# from the "listening on" line (empty if it did not come within 10 s).
jg_serve() { # CONF LOG
	"$JWTGATE_BIN" serve -c "$1" > /dev/null 2> "$2" &
	jg_pid=$!
	jg_port=
	for _ in $(seq 1 200); do
		jg_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2")
		[ -n "$jg_port" ] && return 0
		sleep 0.05
	done
	return 1
}
