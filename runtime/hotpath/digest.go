package hotpath

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"unsafe"
)

// DigestDomain starts every batch digest, so a batch digest can never
// collide with a SHA-256 computed for another purpose.
const DigestDomain = "cnv/hotpath/batch/v1\x00"

var digestDomain = []byte(DigestDomain)

// DigestSize is the size of a batch digest.
const DigestSize = sha256.Size

// Digest is a SHA-256 batch digest.
type Digest [DigestSize]byte

// Entry is one completed invocation as it enters its session's batch
// digest, in execution order. Who ran what (capability index, agent,
// tenant, correlation, session key) is the same for every entry of a
// session, so it is bound once per batch, in the batch header.
type Entry struct {
	Seq      uint64
	Outcome  Outcome
	Attempts uint32
	Args     []byte
}

// entryHeaderLen is the fixed part of an encoded entry.
const entryHeaderLen = 8 + 1 + 4 + 4

// BatchDigest computes a batch digest the way the dispatcher does:
//
//	SHA-256( DigestDomain
//	       | prev (32 bytes; zero for a session's first batch)
//	       | cap_index u32 | agent u64 | tenant u64 | correlation u64
//	       | len(key) u32 | key
//	       | for each entry, in execution order:
//	           seq u64 | outcome u8 | attempts u32 | len(args) u32 | args )
//
// with every integer big-endian. A verifier holding the invocations
// recomputes it; chaining prev links the batches of a session into one
// sequence, and the header binds them to the session's certificate key and
// principal.
func BatchDigest(prev Digest, key string, c Context, entries []Entry) Digest {
	var d batchDigester
	d.h = sha256.New()
	d.start(prev, key, c)
	for i := range entries {
		d.add(&entries[i])
	}
	return d.sum()
}

// batchDigester is the incremental form used by the shard worker.
type batchDigester struct {
	h   hash.Hash
	buf [64]byte
	out [DigestSize]byte
}

func (d *batchDigester) start(prev Digest, key string, c Context) {
	d.h.Reset()
	d.h.Write(digestDomain)
	d.h.Write(prev[:])
	b := d.buf[:0]
	b = binary.BigEndian.AppendUint32(b, c.CapIndex)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Agent))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Tenant))
	b = binary.BigEndian.AppendUint64(b, c.Correlation)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	d.h.Write(b)
	d.h.Write(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// add hashes one entry, with a single Write when it fits the scratch
// buffer (the common case: args under 48 bytes).
func (d *batchDigester) add(e *Entry) {
	b := d.buf[:0]
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, byte(e.Outcome))
	b = binary.BigEndian.AppendUint32(b, e.Attempts)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Args)))
	if len(e.Args) <= len(d.buf)-entryHeaderLen {
		d.h.Write(append(b, e.Args...))
		return
	}
	d.h.Write(b)
	d.h.Write(e.Args)
}

func (d *batchDigester) sum() Digest {
	d.h.Sum(d.out[:0])
	return d.out
}

// Batch is what one session ran since the previous cut: the counts, the
// (coarse) time of the first and last invocation, and the chained digest.
// The cluster commits it as a HotPathBatch ledger event.
type Batch struct {
	Key              string `json:"key"`
	Shard            int    `json:"shard"`
	Number           uint64 `json:"number"` // 1, 2, 3, ... per session
	Count            uint64 `json:"count"`
	OK               uint64 `json:"ok"`
	Failed           uint64 `json:"failed"`
	DeadlineExceeded uint64 `json:"deadline_exceeded"`
	Aborted          uint64 `json:"aborted"`
	FirstNanos       int64  `json:"first_unix_nano"`
	LastNanos        int64  `json:"last_unix_nano"`
	Prev             Digest `json:"prev"`
	Digest           Digest `json:"digest"`
	// Final marks the last batch of a closed session (or of every session
	// at Stop). It may have Count 0.
	Final bool `json:"final"`
}

// batchState is a session's open batch; only its shard's worker touches it.
type batchState struct {
	dg       batchDigester
	prev     Digest
	number   uint64
	count    uint64
	byOutc   [numOutcomes]uint64
	first    int64
	last     int64
	disabled bool
}

func (b *batchState) add(e *Entry, now int64, key string, c Context) {
	if b.disabled {
		return
	}
	if b.count == 0 {
		b.dg.start(b.prev, key, c)
		b.first = now
	}
	b.dg.add(e)
	b.count++
	b.byOutc[e.Outcome]++
	b.last = now
}

// cut closes the open batch and starts the next one from its digest.
func (b *batchState) cut(key string, c Context, shard int, final bool) Batch {
	if b.count == 0 {
		b.dg.start(b.prev, key, c)
	}
	b.number++
	out := Batch{
		Key: key, Shard: shard, Number: b.number, Count: b.count,
		OK: b.byOutc[OutcomeOK], Failed: b.byOutc[OutcomeFailed],
		DeadlineExceeded: b.byOutc[OutcomeDeadlineExceeded], Aborted: b.byOutc[OutcomeAborted],
		FirstNanos: b.first, LastNanos: b.last, Prev: b.prev, Digest: b.dg.sum(), Final: final,
	}
	b.prev = out.Digest
	b.count, b.byOutc, b.first, b.last = 0, [numOutcomes]uint64{}, 0, 0
	return out
}
