"""Verify a cnv ledger certificate or receipt in Python, from docs/CERTIFICATES.md alone.

verify(doc, trusted) checks one answer document (what `cnv-node invoke --json`
prints): the Ed25519 signature over the checkpoint text, the RFC 6962
inclusion proof from the event's leaf hash to the checkpoint's root, and that
the fields the document shows agree with the decoded event. It returns the
decoded event. check_certificates.py runs it on ledger/cert/testdata/vectors.json.
"""
import base64, hashlib, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Invalid(Exception):
    pass


def verify(doc, trusted):
    """doc: the answer as a dict; trusted: {key id: 32-byte public key}."""
    for field in ("event", "signed_bytes", "signature", "signer"):
        if field not in doc:
            raise Invalid("no " + field)
    pub = trusted.get(doc["signer"])
    if pub is None:
        raise Invalid("signer %s is not trusted" % doc["signer"])
    text = base64.b64decode(doc["signed_bytes"])
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(base64.b64decode(doc["signature"]), text)
    except Exception:
        raise Invalid("bad signature")
    origin, size, root = parse_checkpoint(text)
    event = base64.b64decode(doc["event"])
    leaf = hashlib.sha256(b"\x00" + event).digest()
    proof = [base64.b64decode(p) for p in doc.get("inclusion_proof") or []]
    index = doc["ledger_index"]
    if not verify_inclusion(index, size, leaf, proof, root):
        raise Invalid("inclusion proof does not verify")
    ev = unpack(event)
    pd = ev["data"]["policy_decision"]
    req, res = pd["request"], pd["result"]
    # Every field shown must be what the event states.
    want = {
        "ledger_index": ev["index"], "leaf_hash": leaf.hex(), "time": ev["time"],
        "decision": res["decision"], "request_id": pd.get("request_id", ""),
        "reason": res.get("reason", ""), "tree_size": size,
    }
    view = {
        "decision": res["decision"], "capability": req["capability"], "agent_id": req["agent_id"],
        "agent_type": req["agent_type"], "tenant": req["tenant"], "key_id": req["invoker"] or req["key_id"],
        "request_id": pd.get("request_id", ""), "correlation_id": ev.get("correlation_id", ""),
        "issued_at": ev["time"], "ledger_index": ev["index"], "raft_index": ev["raft_index"],
        "leaf_hash": leaf.hex(), "tree_size": size, "root": root.hex(), "signer": doc["signer"],
        "certificate_id": "cert_" + leaf[:12].hex(),
    }
    if res["decision"] == "allow":
        view["expires_at"] = ev["time"] + 3600 * 10**9
    for k, v in want.items():
        if k in doc and doc[k] != v and not (doc[k] in ("", 0) and not v):
            raise Invalid("%s is %r, the event states %r" % (k, doc[k], v))
    shown = doc.get("certificate") or doc.get("receipt") or {}
    if ("certificate" in doc) != (res["decision"] == "allow"):
        raise Invalid("a %s shown as a %s" % (res["decision"], "certificate" if "certificate" in doc else "receipt"))
    for k, v in view.items():
        if k in shown and shown[k] != v:
            raise Invalid("%s is %r, the event states %r" % ("certificate." + k, shown[k], v))
    return ev


def parse_checkpoint(text):
    lines = text.decode().split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise Invalid("not a checkpoint")
    root = base64.b64decode(lines[2])
    if len(root) != 32:
        raise Invalid("checkpoint root is not 32 bytes")
    return lines[0], int(lines[1]), root


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def unpack(b):
    v, n = _unpack(b, 0)
    if n != len(b):
        raise Invalid("trailing bytes after the event")
    return v


def _unpack(b, i):
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t >= 0xe0:
        return t - 0x100, i + 1
    if 0xa0 <= t <= 0xbf:
        return _str(b, i + 1, t & 0x1f)
    if 0x90 <= t <= 0x9f:
        return _array(b, i + 1, t & 0x0f)
    if 0x80 <= t <= 0x8f:
        return _map(b, i + 1, t & 0x0f)
    fixed = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}
    if t in fixed:
        size = struct.calcsize(fixed[t])
        return struct.unpack(fixed[t], b[i + 1:i + 1 + size])[0], i + 1 + size
    if t in (0xc2, 0xc3):
        return t == 0xc3, i + 1
    if t == 0xc0:
        return None, i + 1
    lens = {0xd9: (">B", _str), 0xda: (">H", _str), 0xdb: (">I", _str), 0xc4: (">B", _bin), 0xc5: (">H", _bin),
            0xc6: (">I", _bin), 0xdc: (">H", _array), 0xdd: (">I", _array), 0xde: (">H", _map), 0xdf: (">I", _map)}
    if t in lens:
        fmt, fn = lens[t]
        size = struct.calcsize(fmt)
        return fn(b, i + 1 + size, struct.unpack(fmt, b[i + 1:i + 1 + size])[0])
    raise Invalid("msgpack type 0x%02x" % t)


def _str(b, i, n):
    return b[i:i + n].decode(), i + n


def _bin(b, i, n):
    return b[i:i + n], i + n


def _array(b, i, n):
    out = []
    for _ in range(n):
        v, i = _unpack(b, i)
        out.append(v)
    return out, i


def _map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = _unpack(b, i)
        v, i = _unpack(b, i)
        out[k] = v
    return out, i
