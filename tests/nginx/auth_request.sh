#!/usr/bin/env bash
# A real nginx in front of a static upstream, protected by jwtgate through
# auth_request: allowed, 401, 403, and Remote-User reaching the upstream.
# Everything listens on 127.0.0.1; only the processes started here are
# stopped, by PID.
set -u
. "$(dirname "$0")/../lib.sh"

NGINX=${NGINX:-/usr/sbin/nginx}

if [ ! -x "$NGINX" ]; then
	echo "FAIL: nginx not found at $NGINX (make deps installs nginx-light)"
	echo "0 passed, 1 failed"
	exit 1
fi

dir=$(mktemp -d /tmp/jwtgate-nginx.XXXXXX)
jg_pid=
ng_pid=
cleanup() {
	[ -n "$ng_pid" ] && kill "$ng_pid" 2>/dev/null && wait "$ng_pid" 2>/dev/null
	[ -n "$jg_pid" ] && kill "$jg_pid" 2>/dev/null && wait "$jg_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# jwtgate
jg_files "$dir"
cat > "$dir/jwtgate.ini" <<INI
[server]
listen = 127.0.0.1:0
[token]
secret_file = secret.key
[store]
driver = memory
[oauth2]
scopes = read, write
[auth]
exclude = ^/public/
[route /admin]
require_roles = admin
INI
jg_serve "$dir/jwtgate.ini" "$dir/jwtgate.log" || { echo "FAIL: jwtgate did not start"; cat "$dir/jwtgate.log"; echo "0 passed, 1 failed"; exit 1; }

# nginx: the front on $front, the upstream on $up
front=$(free_port)
up=$(free_port)
mkdir -p "$dir/nginx/logs"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $dir/nginx/logs/error.log;
pid $dir/nginx/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
	server {
		listen 127.0.0.1:$up;
		location / { return 200 "upstream user=\$http_remote_user groups=\$http_remote_groups\n"; }
	}
	server {
		listen 127.0.0.1:$front;
		location = /_jwtgate {
			internal;
			proxy_pass http://127.0.0.1:$jg_port/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URI \$request_uri;
			proxy_set_header X-Original-Method \$request_method;
			proxy_set_header X-Original-URL "";
			proxy_set_header X-Forwarded-Method "";
			proxy_set_header X-Forwarded-Uri "";
		}
		location / {
			auth_request /_jwtgate;
			auth_request_set \$user \$upstream_http_remote_user;
			auth_request_set \$groups \$upstream_http_remote_groups;
			proxy_set_header Remote-User \$user;
			proxy_set_header Remote-Groups \$groups;
			proxy_pass http://127.0.0.1:$up;
		}
	}
}
CONF
"$NGINX" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" 2> "$dir/nginx/stderr" &
ng_pid=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$front/public/x" && break
	sleep 0.05
done

token() { # USER PASSWORD
	curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	    -d "{\"username\":\"$1\",\"password\":\"$2\"}" \
	    "http://127.0.0.1:$jg_port/login" | sed -n 's/^Authorization: Bearer \(.*\)\r$/\1/p'
}
status() { # PATH [TOKEN]
	if [ -n "${2:-}" ]; then
		curl -s --path-as-is -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "http://127.0.0.1:$front$1"
	else
		curl -s --path-as-is -o /dev/null -w '%{http_code}' "http://127.0.0.1:$front$1"
	fi
}

alice=$(token alice alice-password)
carol=$(token carol carol-password)
check "alice logged in" yes "$([ -n "$alice" ] && echo yes || echo no)"
check "no token: 401" 401 "$(status /app)"
check "bad token: 401" 401 "$(status /app not.a.token)"
check "excluded path without token: 200" 200 "$(status /public/page)"
check "a user name is not a token: 401" 401 "$(status /app alice)"
check "alice on /app: 200" 200 "$(status /app "$alice")"
check "carol on /admin (no admin role): 403" 403 "$(status /admin/x "$carol")"
check "alice on /admin: 200" 200 "$(status /admin/x "$alice")"
check "dot segments cannot reach /admin: 403" 403 "$(status '/public/../admin/x' "$carol")"
check "a client's X-Forwarded-Uri cannot make /admin public" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Uri: /public/x' "http://127.0.0.1:$front/admin/x")"
check "a client's X-Original-URL cannot either" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Original-URL: http://x/public/x' "http://127.0.0.1:$front/admin/x")"
check "a client's X-Forwarded-Method cannot either" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Method: OPTIONS' "http://127.0.0.1:$front/admin/x")"
check "Remote-User reaches the upstream" "upstream user=alice groups=admin,dev" \
    "$(curl -s -H "Authorization: Bearer $alice" "http://127.0.0.1:$front/app")"
check "public request carries no identity" "upstream user= groups=" \
    "$(curl -s "http://127.0.0.1:$front/public/x")"

finish
