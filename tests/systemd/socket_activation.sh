#!/usr/bin/env bash
# Socket activation and the sd_notify protocol, as jwtgate.service and
# jwtgate.socket use them: systemd-socket-activate(1) owns a listening socket
# on 127.0.0.1 and starts jwtgate on the first connection; jwtgate must take
# that socket (not [server] listen), answer on it, and tell a NOTIFY_SOCKET
# READY=1, then RELOADING=1 + READY=1 on SIGHUP, then STOPPING=1 on SIGTERM,
# and exit 0. Every wait is bounded; only the processes started here are
# stopped, by PID. Exit 0 PASS, 1 FAIL, 77 SKIP (a tool is missing).
set -u

JWTGATE_BIN=${JWTGATE_BIN:-$PWD/jwtgate}
ACTIVATE=${ACTIVATE:-$(command -v systemd-socket-activate || true)}
PYTHON=${PYTHON:-$(command -v python3 || true)}
pass=0
fail=0

skip() {
	echo "SKIP: $*"
	exit 77
}
[ -x "$JWTGATE_BIN" ] || { echo "FAIL: no jwtgate binary at $JWTGATE_BIN"; exit 1; }
[ -n "$ACTIVATE" ] || skip "systemd-socket-activate not found (Debian package systemd)"
command -v curl > /dev/null || skip "curl not found"
[ -n "$PYTHON" ] || skip "python3 not found (it receives the sd_notify messages)"

dir=$(mktemp -d /tmp/jwtgate-sockact.XXXXXX)
jg_pid=
nt_pid=
cleanup() {
	[ -n "$jg_pid" ] && kill "$jg_pid" 2> /dev/null && wait "$jg_pid" 2> /dev/null
	[ -n "$nt_pid" ] && kill "$nt_pid" 2> /dev/null && wait "$nt_pid" 2> /dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

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
	echo "socket_activation: $pass passed, $fail failed"
	if [ "$fail" -eq 0 ]; then
		echo "PASS: socket activation"
		exit 0
	fi
	echo "--- jwtgate log"
	cat "$dir/jwtgate.log" 2> /dev/null
	echo "FAIL: socket activation"
	exit 1
}

# wait_for FILE PATTERN: up to 10 s for an extended regexp to appear in FILE.
wait_for() {
	local i
	for i in $(seq 1 200); do
		grep -Eq "$2" "$1" 2> /dev/null && return 0
		sleep 0.05
	done
	return 1
}

# A configuration whose own listen address is unused: answers can only come
# through the socket systemd-socket-activate passes.
printf '0123456789abcdef0123456789abcdef0123456789abcdef\n' > "$dir/secret.key"
chmod 600 "$dir/secret.key"
cat > "$dir/users.ini" << 'INI'
[alice]
password = $y$j9T$BadxTS9EVebOCOeh9JXk/0$2.ShXPi4XQaktPb2oyr08w57GSJs6rth4gOHsm5xco7
roles    = admin
scopes   = read, write
INI
cat > "$dir/jwtgate.ini" << 'INI'
[server]
listen = 127.0.0.1:1
[token]
secret_file = secret.key
[oauth2]
scopes = read, write
[store]
driver = memory
INI

# The NOTIFY_SOCKET a service manager would read: one line per datagram.
cat > "$dir/notify.py" << 'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    print("bound", file=out)
    while True:
        try:
            msg = s.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            break
        for line in msg.splitlines():
            print(line, file=out)
PY
"$PYTHON" "$dir/notify.py" "$dir/notify.sock" "$dir/notify.log" &
nt_pid=$!
wait_for "$dir/notify.log" '^bound$' || { check "notify listener starts" yes no; finish; }

# systemd-socket-activate needs a real port; try a few random ones.
port=
for _ in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 40000))
	: > "$dir/jwtgate.log"
	# systemd-socket-activate passes on only the environment given by -E.
	"$ACTIVATE" -l "127.0.0.1:$p" -E "NOTIFY_SOCKET=$dir/notify.sock" \
	    "$JWTGATE_BIN" serve -c "$dir/jwtgate.ini" \
	    2>> "$dir/jwtgate.log" &
	jg_pid=$!
	if wait_for "$dir/jwtgate.log" "Listening on 127\.0\.0\.1:$p|Address already in use|Failed"; then
		if grep -q "Listening on 127.0.0.1:$p" "$dir/jwtgate.log"; then
			port=$p
			break
		fi
	fi
	kill "$jg_pid" 2> /dev/null
	wait "$jg_pid" 2> /dev/null
	jg_pid=
done
check "systemd-socket-activate listens" yes "$([ -n "$port" ] && echo yes || echo no)"
[ -n "$port" ] || finish

# The first connection starts jwtgate (same PID: systemd-socket-activate execs).
body=$(curl -s --max-time 10 "http://127.0.0.1:$port/healthz")
check "GET /healthz on the passed socket" '{"status":"ok"}' "$body"
wait_for "$dir/jwtgate.log" 'using the socket passed by systemd'
check "log: using the socket passed by systemd" yes \
    "$(grep -q 'using the socket passed by systemd' "$dir/jwtgate.log" && echo yes || echo no)"
check "log: listening on the passed port" yes \
    "$(grep -q "listening on 127.0.0.1:$port" "$dir/jwtgate.log" && echo yes || echo no)"
check "[server] listen is ignored" 000 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:1/healthz)"
wait_for "$dir/notify.log" '^READY=1$'
check "sd_notify READY=1 at start" 1 "$(grep -c '^READY=1$' "$dir/notify.log")"

# A login through the passed socket: the whole daemon is behind it.
status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"alice-password"}' \
    "http://127.0.0.1:$port/login")
check "POST /login" 201 "$status"

# SIGHUP: RELOADING=1, then READY=1 again; the socket keeps serving.
kill -HUP "$jg_pid"
wait_for "$dir/jwtgate.log" 'configuration reloaded'
wait_for "$dir/notify.log" '^RELOADING=1$'
for _ in $(seq 1 100); do
	[ "$(grep -c '^READY=1$' "$dir/notify.log")" -ge 2 ] && break
	sleep 0.05
done
check "SIGHUP: RELOADING=1 then READY=1" "READY=1 RELOADING=1 READY=1" \
    "$(grep -E '^(READY|RELOADING)=1$' "$dir/notify.log" | tr '\n' ' ' | sed 's/ $//')"
check "GET /healthz after reload" '{"status":"ok"}' \
    "$(curl -s --max-time 10 "http://127.0.0.1:$port/healthz")"

# SIGTERM: STOPPING=1 and exit status 0, within the 10 s grace (plus margin).
kill -TERM "$jg_pid"
rc=timeout
for _ in $(seq 1 300); do
	if ! kill -0 "$jg_pid" 2> /dev/null; then
		wait "$jg_pid"
		rc=$?
		break
	fi
	sleep 0.05
done
[ "$rc" = timeout ] || jg_pid=
check "SIGTERM: exit status 0" 0 "$rc"
wait_for "$dir/notify.log" '^STOPPING=1$'
check "sd_notify STOPPING=1" 1 "$(grep -c '^STOPPING=1$' "$dir/notify.log")"
finish
