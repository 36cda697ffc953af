package fsm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"

	"github.com/cnv-project/cnv/runtime/invocation"
)

// The two digests every invocation costs, written without reflection:
// each hashes the canonical msgpack (runtime/codec) of a small struct, and
// these write exactly those bytes (digest_test.go compares them with
// codec's over generated invocations and a fuzz target). The request
// digest is stored in the request-id table and the arguments' digest in
// the ledger, so neither may change.

// argsDigest is inv.ArgsDigest(): the hex SHA-256 of the canonical
// encoding of struct{Args; Positional; Payload} (json names args,
// positional, payload).
func argsDigest(inv *invocation.Invocation) string {
	h := sha256.New()
	var buf [64]byte
	b := mpArray(mpStr(append(buf[:0], 0x83), "args"), len(inv.Args)) // fixmap of 3
	for _, a := range inv.Args {
		b = mpStr(mpStr(mpStr(mpStr(append(b, 0x82), "name"), a.Name), "value"), a.Value)
		b = flush(h, b, buf[:0])
	}
	b = mpStr(b, "payload")
	switch p := inv.Payload; {
	case p == nil:
		b = append(b, 0xa0) // a nil []byte is written as an empty str
	case len(p) < 256:
		b = append(b, 0xc4, byte(len(p)))
	case len(p) < 65536:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(len(p)))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(len(p)))
	}
	h.Write(b)
	h.Write(inv.Payload)
	b = mpArray(mpStr(buf[:0], "positional"), len(inv.Positional))
	for _, p := range inv.Positional {
		b = flush(h, mpStr(b, p), buf[:0])
	}
	h.Write(b)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// flush writes b to h once it is long, returning the empty buf to go on
// with; short pieces are batched.
func flush(h hash.Hash, b, buf []byte) []byte {
	if len(b) < 32 {
		return b
	}
	h.Write(b)
	return buf
}

// requestDigestFields writes the tail of the request digest: the
// canonical encoding of struct{Tenant, Correlation string; DryRun bool;
// Links []string (hex link hashes)}, field names as keys in name order.
func requestDigestFields(h hash.Hash, tenant, corr string, dryRun bool, links []Link) {
	var buf [128]byte
	b := mpStr(append(buf[:0], 0x84), "Correlation")
	b = mpStr(b, corr)
	b = mpStr(b, "DryRun")
	if dryRun {
		b = append(b, 0xc3)
	} else {
		b = append(b, 0xc2)
	}
	b = mpArray(mpStr(b, "Links"), len(links))
	h.Write(b)
	b = buf[:0]
	var hx [2 * len(Link{}.Hash)]byte
	for i := range links {
		hex.Encode(hx[:], links[i].Hash[:])
		b = append(mpLen(b, len(hx)), hx[:]...)
		h.Write(b)
		b = buf[:0]
	}
	h.Write(mpStr(mpStr(b, "Tenant"), tenant))
}

// msgpack strings and headers, as runtime/codec writes them.
func mpLen(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n < 256:
		return append(b, 0xd9, byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
}

func mpStr(b []byte, s string) []byte { return append(mpLen(b, len(s)), s...) }

func mpArray(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}
