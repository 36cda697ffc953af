package hotpath

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
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
// digest, in execution order.
type Entry struct {
	Seq         uint64
	CapIndex    uint32
	Agent       AgentHandle
	Tenant      TenantHandle
	Correlation uint64
	Outcome     Outcome
	Attempts    uint32
	Args        []byte
}

// entryHeaderLen is the fixed part of an encoded entry.
const entryHeaderLen = 8 + 4 + 8 + 8 + 8 + 1 + 4 + 4

// putEntryHeader encodes e's fixed part, big-endian:
//
//	seq u64 | cap_index u32 | agent u64 | tenant u64 | correlation u64 |
//	outcome u8 | attempts u32 | len(args) u32
//
// and the args bytes follow it in the digest.
func putEntryHeader(b *[entryHeaderLen]byte, e *Entry) {
	binary.BigEndian.PutUint64(b[0:], e.Seq)
	binary.BigEndian.PutUint32(b[8:], e.CapIndex)
	binary.BigEndian.PutUint64(b[12:], uint64(e.Agent))
	binary.BigEndian.PutUint64(b[20:], uint64(e.Tenant))
	binary.BigEndian.PutUint64(b[28:], e.Correlation)
	b[36] = byte(e.Outcome)
	binary.BigEndian.PutUint32(b[37:], e.Attempts)
	binary.BigEndian.PutUint32(b[41:], uint32(len(e.Args)))
}

// BatchDigest computes the digest of one batch the way the dispatcher
// does: SHA-256 over DigestDomain, the previous batch's digest (zero for a
// session's first batch) and each entry (header, then args) in order. A
// verifier holding the invocations recomputes it; chaining prev links the
// batches of a session into one sequence.
func BatchDigest(prev Digest, entries []Entry) Digest {
	var d batchDigester
	d.h = sha256.New()
	d.start(prev)
	for i := range entries {
		d.add(&entries[i])
	}
	return d.sum()
}

// batchDigester is the incremental form used by the shard worker.
type batchDigester struct {
	h   hash.Hash
	hdr [entryHeaderLen]byte
	out [DigestSize]byte
}

func (d *batchDigester) start(prev Digest) {
	d.h.Reset()
	d.h.Write(digestDomain)
	d.h.Write(prev[:])
}

func (d *batchDigester) add(e *Entry) {
	putEntryHeader(&d.hdr, e)
	d.h.Write(d.hdr[:])
	if len(e.Args) > 0 {
		d.h.Write(e.Args)
	}
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

func (b *batchState) add(e *Entry, now int64) {
	if b.disabled {
		return
	}
	if b.count == 0 {
		b.dg.start(b.prev)
		b.first = now
	}
	b.dg.add(e)
	b.count++
	b.byOutc[e.Outcome]++
	b.last = now
}

// cut closes the open batch and starts the next one from its digest.
func (b *batchState) cut(key string, shard int, final bool) Batch {
	if b.count == 0 {
		b.dg.start(b.prev)
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
