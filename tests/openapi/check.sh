#!/usr/bin/env bash
# GET /openapi.json for each backend, validated by an independent OpenAPI 3.1
# validator (npm @seriousme/openapi-schema-validator, installed by make deps),
# and the BearerToken security scheme checked against what Litestar emits.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

export OPENAPI_NODE_MODULES=${OPENAPI_NODE_MODULES:-$here/node_modules}
if [ ! -d "$OPENAPI_NODE_MODULES/@seriousme/openapi-schema-validator" ]; then
	echo "FAIL: validator not installed: run 'make deps' (npm ci in tests/openapi)"
	echo "0 passed, 1 failed"
	exit 1
fi

dir=$(mktemp -d /tmp/jwtgate-openapi.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

jg_files "$dir"

# BACKEND EXPECTED-SCHEME-JSON
for case in \
    'jwt|{"type":"http","scheme":"bearer","bearerFormat":"JWT"}' \
    'jwt_cookie|{"type":"apiKey","in":"cookie","name":"session"}' \
    'oauth2_password_bearer|{"type":"oauth2","flows":{"password":{"tokenUrl":"/auth/token","scopes":{"read":"read","write":"write"}}}}'
do
	backend=${case%%|*}
	want=${case#*|}
	cat > "$dir/jwtgate.ini" <<INI
[server]
listen = 127.0.0.1:0
[token]
secret_file = secret.key
[auth]
backend = $backend
[cookie]
name = session
[oauth2]
scopes = read, write
token_url = /auth/token
[store]
driver = memory
INI
	jg_serve "$dir/jwtgate.ini" "$dir/log"
	pid=$jg_pid
	port=$jg_port
	curl -s "http://127.0.0.1:$port/openapi.json" > "$dir/openapi.json"
	if out=$(node "$here/validate.mjs" "$dir/openapi.json" 2>&1); then
		pass=$((pass + 1)); echo "ok: $backend: $out"
	else
		fail=$((fail + 1)); echo "FAIL: $backend: $out"
	fi
	if node -e '
		const fs = require("fs");
		const assert = require("assert");
		const doc = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
		const got = doc.components.securitySchemes.BearerToken;
		assert.ok(typeof got.description === "string" && got.description !== "");
		delete got.description;
		assert.deepStrictEqual(got, JSON.parse(process.argv[2]));
	' "$dir/openapi.json" "$want"; then
		pass=$((pass + 1)); echo "ok: $backend: security scheme"
	else
		fail=$((fail + 1)); echo "FAIL: $backend: security scheme is $(node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1])).components.securitySchemes))' "$dir/openapi.json")"
	fi
	kill "$pid"; wait "$pid" 2>/dev/null; pid=
done

finish
