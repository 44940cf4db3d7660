#!/usr/bin/env bash
# Two jwtgate nodes sharing one Redis (SPEC section 9): a logout, a refresh
# rotation and a ban on one node hold on the other at once. A real
# redis-server is started here on 127.0.0.1; only the processes started
# here are stopped, by PID.
set -u
. "$(dirname "$0")/../lib.sh"

REDIS=${REDIS:-/usr/bin/redis-server}

if [ ! -x "$REDIS" ]; then
	echo "FAIL: redis-server not found at $REDIS (make deps installs redis-server)"
	echo "0 passed, 1 failed"
	exit 1
fi

dir=$(mktemp -d /tmp/jwtgate-redis.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

rport=$(free_port)
"$REDIS" --bind 127.0.0.1 --port "$rport" --save '' --appendonly no \
    --dir "$dir" < /dev/null > "$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$rport)).close()" 2>/dev/null && break
	sleep 0.05
done

jg_files "$dir"
cat > "$dir/jwtgate.ini" <<INI
[server]
listen = 127.0.0.1:0
[token]
secret_file = secret.key
[oauth2]
scopes = read, write
[login]
max_retries = 3
[store]
driver = redis
url = redis://127.0.0.1:$rport/0
INI

jg_serve "$dir/jwtgate.ini" "$dir/a.log"; pids+=("$jg_pid"); a=${jg_port:-0}
jg_serve "$dir/jwtgate.ini" "$dir/b.log"; pids+=("$jg_pid"); b=${jg_port:-0}
check "both nodes started" yes "$([ "$a" != 0 ] && [ "$b" != 0 ] && echo yes || echo no)"

login() { # PORT USER PASSWORD -> token
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	    -d "{\"username\":\"$2\",\"password\":\"$3\"}" \
	    "http://127.0.0.1:$1/login" | sed -n 's/^Authorization: Bearer \(.*\)\r$/\1/p'
}
verify() { # PORT TOKEN -> status
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" \
	    "http://127.0.0.1:$1/verify"
}
json() { # KEY
	/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin).get('$1',''))"
}

live=$(login "$a" alice alice-password) # for the end, before any ban
tok=$(login "$a" alice alice-password)
check "token from node A verifies on B" 200 "$(verify "$b" "$tok")"
check "logout on A" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $tok" "http://127.0.0.1:$a/logout")"
check "the same token is refused on B at once" 401 "$(verify "$b" "$tok")"
check "readyz with redis up" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$b/readyz")"

# Refresh rotation: use on B, reuse of the old one on A kills the family.
rt1=$(curl -s -d 'grant_type=password&username=alice&password=alice-password' \
    "http://127.0.0.1:$a/token" | json refresh_token)
rt2=$(curl -s -d "grant_type=refresh_token&refresh_token=$rt1" \
    "http://127.0.0.1:$b/token" | json refresh_token)
check "refresh on B gives a new token" yes "$([ -n "$rt2" ] && [ "$rt2" != "$rt1" ] && echo yes || echo no)"
check "reuse of the old one on A" invalid_grant "$(curl -s \
    -d "grant_type=refresh_token&refresh_token=$rt1" "http://127.0.0.1:$a/token" | json error)"
check "the family is dead on B too" invalid_grant "$(curl -s \
    -d "grant_type=refresh_token&refresh_token=$rt2" "http://127.0.0.1:$b/token" | json error)"

# A ban taken on A is honoured by B, even with the right password.
for _ in 1 2 3; do
	curl -s -o /dev/null -H 'Content-Type: application/json' \
	    -d '{"username":"carol","password":"wrong"}' "http://127.0.0.1:$a/login"
done
check "banned on B after failures on A" 429 "$(curl -s -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d '{"username":"carol","password":"carol-password"}' \
    "http://127.0.0.1:$b/login")"

# Redis down: readiness fails and nothing is let in on a revocation check.
check "a live token before redis goes down" 200 "$(verify "$b" "$live")"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
check "verify with redis down is 503, never 200" 503 "$(verify "$b" "$live")"
check "readyz with redis down" 503 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$a/readyz")"
tok=$(curl -s -d 'grant_type=refresh_token&refresh_token=x' "http://127.0.0.1:$a/token" | json error)
check "a refresh with redis down" temporarily_unavailable "$tok"

finish
