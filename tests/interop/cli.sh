#!/usr/bin/env bash
# `jwtgate keygen` and `jwtgate token` through the real binary: for each of
# the nine algorithms a key is generated (mode 0600, never overwritten), a
# token is minted with -s -t -a -C, and PyJWT verifies it. Then the exit
# statuses of bad usage. Only files under a fresh temporary directory are
# written.
set -u

JWTGATE_BIN=${JWTGATE_BIN:-build/jwtgate}
PYTHON=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

dir=$(mktemp -d /tmp/jwtgate-cli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/users.ini" <<'USERS'
[alice]
password = $6$q6BIxIkrpORsz66B$VJnrdsa4QsmCS5dcfAGYRxmQ6zf7tRsp6MZi9Wrt1ShRg1aYxa.ldeSnHON0ZoWcWS0pdUhiwP4ljtNYeS0i7/
email    = alice@example.com
roles    = admin, dev
scopes   = read
USERS

config() { # ALG KEYFILE
	case $1 in
	HS*) keykey=secret_file ;;
	*) keykey=private_key_file ;;
	esac
	cat >"$dir/$1.ini" <<-INI
	[token]
	algorithm = $1
	$keykey = $2
	issuer = https://auth.example
	audience = api
	[oauth2]
	scopes = read, write
	[users]
	file = users.ini
	[store]
	driver = memory
	INI
}

for alg in HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384 ES512; do
	key=$dir/$alg.key
	if ! "$JWTGATE_BIN" keygen -a "$alg" -o "$key"; then
		bad "keygen -a $alg"
		continue
	fi
	mode=$(stat -c %a "$key")
	if [ "$mode" = 600 ]; then ok; else bad "keygen -a $alg: mode $mode"; fi
	if "$JWTGATE_BIN" keygen -a "$alg" -o "$key" 2>/dev/null; then
		bad "keygen -a $alg overwrote $key"
	else
		ok
	fi
	config "$alg" "$key"
	if ! tok=$("$JWTGATE_BIN" token -c "$dir/$alg.ini" -s alice -t 5m \
	    -a web -C team=42 -C 'name=Alice L'); then
		bad "token with $alg"
		continue
	fi
	if ! claims=$("$PYTHON" "$here/pyjwt_interop.py" verify "$alg" "$key" \
	    "$tok" web); then
		bad "PyJWT refused the $alg token of jwtgate token"
		continue
	fi
	if "$PYTHON" -c '
import json, sys
c = json.loads(sys.argv[1])
assert c["sub"] == "alice" and c["aud"] == "web", c
assert c["iss"] == "https://auth.example", c
assert c["exp"] - c["iat"] == 300, c
assert c["team"] == 42 and c["name"] == "Alice L", c
assert len(c["jti"]) == 22, c
# alice of the user file: what /login would put in her token
assert c["extras"] == {"roles": ["admin", "dev"], "name": None,
                       "email": "alice@example.com"}, c
assert c["scope"] == "read", c
' "$claims"; then ok; else bad "claims of the $alg token: $claims"; fi
done

# A subject outside the user file: a token all the same, and a warning that
# require_known_user (the default) will refuse it.
if tok=$("$JWTGATE_BIN" token -c "$dir/HS256.ini" -s nobody 2>"$dir/err") &&
    [ -n "$tok" ] && grep -q 'nobody is not in' "$dir/err"
then ok; else bad "token for an unknown subject: $(cat "$dir/err")"; fi

# -C scope=: the given scopes, one space apart; empty: no scope claim (not
# the user's); one outside [oauth2] scopes is warned about.
payload() { # TOKEN: its payload as JSON
	"$PYTHON" -c 'import base64, sys
p = sys.argv[1].split(".")[1]
print(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$1"
}
tok=$("$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice -C 'scope=read   write')
case $(payload "$tok") in *'"scope":"read write"'*) ok ;;
*) bad "-C scope=read   write: $(payload "$tok")" ;; esac
tok=$("$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice -C 'scope= ')
case $(payload "$tok") in *'"scope"'*) bad "-C 'scope= ': $(payload "$tok")" ;;
*) ok ;; esac
if tok=$("$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice -C scope=admin \
    2>"$dir/err") && grep -q 'scope admin is not in \[oauth2\] scopes' "$dir/err"
then ok; else bad "-C scope=admin: no warning: $(cat "$dir/err")"; fi

# Usage errors exit 2, and say why.
expect_status() { # STATUS DESCRIPTION COMMAND...
	want=$1 what=$2
	shift 2
	"$@" >/dev/null 2>"$dir/err"
	got=$?
	if [ "$got" = "$want" ] && [ -s "$dir/err" ]; then
		ok
	else
		bad "$what: exit $got (want $want): $(cat "$dir/err")"
	fi
}
expect_status 2 "keygen -a hs256" "$JWTGATE_BIN" keygen -a hs256
expect_status 2 "keygen without -a" "$JWTGATE_BIN" keygen
expect_status 1 "keygen into a missing directory" \
	"$JWTGATE_BIN" keygen -a ES256 -o "$dir/none/key"
expect_status 2 "token without -s" "$JWTGATE_BIN" token -c "$dir/HS256.ini"
expect_status 2 "token -s ''" "$JWTGATE_BIN" token -c "$dir/HS256.ini" -s ''
expect_status 2 "token -C sub=root" \
	"$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice -C sub=root
expect_status 2 "token -C without =" \
	"$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice -C team
expect_status 2 "token -t 0" "$JWTGATE_BIN" token -c "$dir/HS256.ini" -s a -t 0
printf 'tooShortSecretValue\n' >"$dir/short.secret"
config HS256 "$dir/short.secret"
expect_status 2 "token with a short secret" \
	"$JWTGATE_BIN" token -c "$dir/HS256.ini" -s alice
if grep -q short.secret "$dir/err" && ! grep -q tooShortSecretValue "$dir/err"
then ok; else bad "short secret message: $(cat "$dir/err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
