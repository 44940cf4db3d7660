#!/usr/bin/python3
"""PyJWT side of jwtgate's token interop tests (tests/check_token.c).

  pyjwt_interop.py verify ALG KEYFILE TOKEN [AUD]
      verify TOKEN with PyJWT; print its claims as JSON; exit 1 if refused
  pyjwt_interop.py mint ALG KEYFILE SUB NOW ISS AUD [KID]
      print a PyJWT token for SUB issued at NOW (valid 600 s)

KEYFILE is a jwtgate key: an HMAC secret file (one trailing newline
stripped, as jwtgate does) or a PEM private key.
"""
import json
import sys

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def load_key(alg, path, public):
    with open(path, "rb") as f:
        data = f.read()
    if alg.startswith("HS"):
        return data[:-1] if data.endswith(b"\n") else data
    key = load_pem_private_key(data, password=None)
    return key.public_key() if public else key


def verify(alg, path, token, aud=None):
    claims = jwt.decode(token, load_key(alg, path, True), algorithms=[alg],
                        audience=aud,
                        options={"require": ["exp", "iat", "sub"]})
    print(json.dumps(claims))


def mint(alg, path, sub, now, iss, aud, kid=None):
    now = int(now)
    claims = {"sub": sub, "iat": now, "nbf": now, "exp": now + 600,
              "iss": iss, "aud": aud, "extras": {"roles": ["dev"]}}
    headers = {"kid": kid} if kid else None
    print(jwt.encode(claims, load_key(alg, path, False), algorithm=alg,
                     headers=headers))


def main(argv):
    try:
        if len(argv) in (4, 5) and argv[0] == "verify":
            verify(*argv[1:])
        elif len(argv) in (7, 8) and argv[0] == "mint":
            mint(*argv[1:])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except jwt.PyJWTError as e:
        print("pyjwt: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
