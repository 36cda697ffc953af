"""Checks cnv_sign.py against cnv's signing test vectors.

Usage: python3 docs/examples/check_vectors.py client/testdata/signing/vectors.json
Exits 0 when every byte, hash, signature and token matches.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cnv_sign import invocation, link_body, sign_batch, sign_link


def key(k):
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["seed_hex"]))


def check_links(links):
    ok = True
    for v in links:
        body = link_body(bytes.fromhex(v["issuer"]["public_key_hex"]), bytes.fromhex(v["audience"]["public_key_hex"]),
                         bytes.fromhex(v["nonce_hex"]), v["allow"], v["nouns"], v["verbs"], v["max_effect"],
                         v["not_before"], v["not_after"], v["max_uses"], v["forbid"], bytes.fromhex(v["parent_hex"]), v["depth"])
        h, token = sign_link(key(v["issuer"]), body)
        good = h == v["hash_hex"] and token == v["token"]
        print("link", v["name"], "ok" if good else "MISMATCH")
        ok = ok and good
    return ok


def check_invocations(vectors):
    ok = True
    for v in vectors:
        invs = [invocation(i["capability"], i["request_id"], [(a["name"], a["value"]) for a in i.get("args", [])],
                           i.get("positional", ()), base64.b64decode(i.get("payload", "")), i.get("tenant", ""),
                           i.get("correlation_id", ""), [base64.b64decode(c) for c in i.get("chain", [])],
                           i.get("dry_run", False)) for i in v["invocations"]]
        good = sign_batch(key(v["invoker"]), invs) == v["request_json"]
        print("invocation batch", v["name"], "ok" if good else "MISMATCH")
        ok = ok and good
    return ok


if __name__ == "__main__":
    vs = json.load(open(sys.argv[1]))
    sys.exit(0 if check_links(vs["links"]) & check_invocations(vs["invocations"]) else 1)
