#!/usr/bin/env python3
"""Mints an HS256 JWT for the gateway example: mint_jwt.py USER [PLAN] [SECONDS].
The secret comes from $JWT_SECRET; standard library only."""
import base64, hashlib, hmac, json, os, sys, time

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

user = sys.argv[1]
plan = sys.argv[2] if len(sys.argv) > 2 else None
ttl = int(sys.argv[3]) if len(sys.argv) > 3 else 3600
claims = {"sub": user, "iss": "https://auth.example", "aud": "shop-api", "exp": int(time.time()) + ttl}
if plan:
    claims["plan"] = plan
signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
signature = hmac.new(os.environ["JWT_SECRET"].encode(), signing_input.encode(), hashlib.sha256).digest()
print(signing_input + "." + b64(signature))
