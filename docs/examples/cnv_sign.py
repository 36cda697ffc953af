"""A cnv client's signing code in Python, written from docs/SIGNING.md alone.

It encodes invocation batches and delegation link bodies in cnv's canonical
msgpack, signs them with Ed25519 (the `cryptography` package) and builds
the JSON a node's POST /v1/invoke takes. check_vectors.py runs it against
client/testdata/signing/vectors.json.
"""
import base64, hashlib, json, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

def pack(v):
    """Canonical msgpack as cnv writes it (docs/SIGNING.md)."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, Unsigned):
        n = int(v)
        if n < 0x80: return bytes([n])
        for tag, fmt, lim in ((0xcc, ">B", 1 << 8), (0xcd, ">H", 1 << 16), (0xce, ">I", 1 << 32)):
            if n < lim: return bytes([tag]) + struct.pack(fmt, n)
        return b"\xcf" + struct.pack(">Q", n)
    if isinstance(v, int):
        if 0 <= v < 0x80 or -32 <= v < 0: return struct.pack(">b", v)
        for tag, fmt, lo in ((0xd0, ">b", 1 << 7), (0xd1, ">h", 1 << 15), (0xd2, ">i", 1 << 31)):
            if -lo <= v < lo: return bytes([tag]) + struct.pack(fmt, v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        return _head(len(b), 0xa0, 32, 0xd9) + b
    if isinstance(v, bytes):
        return _head(len(b := v), None, 0, 0xc4) + b
    if isinstance(v, list):
        return _head(len(v), 0x90, 16, 0xdc, small8=False) + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        items = sorted((k.encode(), x) for k, x in v.items())
        return _head(len(items), 0x80, 16, 0xde, small8=False) + b"".join(pack(k.decode()) + pack(x) for k, x in items)
    raise TypeError(type(v))

class Unsigned(int):
    """An unsigned Go integer (uint8/uint64 fields): packed as uint."""

def _head(n, fix, fixlim, tag8, small8=True):
    if fix is not None and n < fixlim: return bytes([fix | n])
    if small8 and n < 1 << 8: return bytes([tag8, n])
    if n < 1 << 16: return bytes([tag8 + (1 if small8 else 0)]) + struct.pack(">H", n)
    return bytes([tag8 + (2 if small8 else 1)]) + struct.pack(">I", n)

LEVELS = {"read_only": 0, "mutate": 1, "network": 2, "privileged": 3}


def link_body(issuer_pub, audience_pub, nonce, allow, nouns, verbs, max_effect, not_before, not_after,
              max_uses=0, forbid=(), parent=bytes(32), depth=0):
    constraints = {"allow": list(allow), "nouns": list(nouns), "verbs": list(verbs),
                   "max_effect": Unsigned(LEVELS[max_effect])}
    if forbid:
        constraints["forbid"] = list(forbid)
    return {"version": Unsigned(1), "nonce": nonce, "issuer": issuer_pub, "issuer_key_id": key_id(issuer_pub),
            "audience": audience_pub, "audience_key_id": key_id(audience_pub), "constraints": constraints,
            "not_before": not_before, "not_after": not_after, "max_uses": Unsigned(max_uses),
            "parent": parent, "depth": Unsigned(depth)}


def sign_link(priv: Ed25519PrivateKey, body: dict):
    """Returns (link hash hex, token file text)."""
    raw = pack(body)
    sig = priv.sign(b"cnv/delegation/link/v1\n" + raw)
    envelope = base64.b64encode(pack({"body": raw, "sig": sig})).decode()
    lines = [envelope[i:i + 64] for i in range(0, len(envelope), 64)]
    token = "-----BEGIN CNV DELEGATION LINK-----\n" + "\n".join(lines) + "\n-----END CNV DELEGATION LINK-----\n"
    return hashlib.sha256(raw).hexdigest(), token


def key_id(pub: bytes) -> str:
    return "k_" + hashlib.sha256(pub).hexdigest()[:16]

def invocation(capability, request_id, args=(), positional=(), payload=b"", tenant="", correlation_id="", chain=(), dry_run=False):
    inv = {"capability": capability, "request_id": request_id}
    if args: inv["args"] = [{"name": n, "value": v} for n, v in args]
    if positional: inv["positional"] = list(positional)
    if payload: inv["payload"] = payload
    if tenant: inv["tenant"] = tenant
    if correlation_id: inv["correlation_id"] = correlation_id
    if chain: inv["chain"] = list(chain)   # token files' bytes, root first
    if dry_run: inv["dry_run"] = True
    return inv

def sign_batch(priv: Ed25519PrivateKey, invocations) -> dict:
    pub = priv.public_key().public_bytes_raw()
    body = pack({"domain": "cnv-invocation-batch-v1", "invoker": key_id(pub), "invocations": invocations})
    return {"body": base64.b64encode(body).decode(), "signature": base64.b64encode(priv.sign(body)).decode()}
