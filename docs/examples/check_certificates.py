"""Runs cnv_verify.py on the certificate vectors: both verify, forgeries do not.

    python3 docs/examples/check_certificates.py ledger/cert/testdata/vectors.json
"""
import copy, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnv_verify

v = json.load(open(sys.argv[1]))
trusted = {v["node_key_id"]: bytes.fromhex(v["node_public_key"])}
for name in ("certificate", "receipt"):
    ev = cnv_verify.verify(v[name], trusted)
    print("%s: ok, %s %s at ledger index %d" % (name, ev["data"]["policy_decision"]["result"]["decision"],
                                                ev["capability"], ev["index"]))
forgeries = {
    "agent renamed": lambda d: d["certificate"].__setitem__("agent_id", "mallory"),
    "index moved": lambda d: d.__setitem__("ledger_index", d["ledger_index"] + 1),
    "signature flipped": lambda d: d.__setitem__("signature", "A" + d["signature"][1:] if d["signature"][0] != "A" else "B" + d["signature"][1:]),
    "untrusted signer": lambda d: d.__setitem__("signer", "k_0000000000000000"),
}
for name, forge in forgeries.items():
    d = copy.deepcopy(v["certificate"])
    forge(d)
    try:
        cnv_verify.verify(d, trusted)
    except cnv_verify.Invalid as e:
        print("%s: refused (%s)" % (name, e))
        continue
    sys.exit("%s: verified" % name)
