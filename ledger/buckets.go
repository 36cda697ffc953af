package ledger

import (
	"encoding/binary"

	"github.com/cnv-project/cnv/ledger/event"
)

// Buckets owned by the ledger. Every one is a top-level bucket whose name
// starts with "ledger."; callers keep their own data in the same file under
// other namespaces (kv.go; the FSM's state is "fsm.*").
//
//	ledger.meta         format version, size, applied Raft index, last
//	                    event time, last checkpoint event, policy hash
//	ledger.events       index (8 bytes big-endian) → the event's RFC 6962
//	                    leaf hash (32 bytes) || its canonical bytes
//	ledger.tree         tile level (1 byte) || tile index (8 bytes) → a
//	                    tile of perfect-subtree hashes of level >=
//	                    minStoredLevel (see tree.go; lower levels are
//	                    recomputed from leaf hashes)
//	ledger.checkpoints  tree size (8 bytes) → signed checkpoint record
//	ledger.idx.actor, .tenant, .correlation, .capability, .type, .decision
//	                    value || 0x00 || first index → a full chunk of the
//	                    value's posting list (see postings.go); values
//	                    never contain 0x00
//	ledger.idx.tails    index number (1 byte) || value → the tail of the
//	                    value's posting list in that index: every index's
//	                    tails in one small bucket
//	ledger.idx.time     time (8 bytes) → the first index with that time
//	                    (times never decrease, so this maps a time range to
//	                    an index range)
var (
	bucketMeta        = []byte("ledger.meta")
	bucketEvents      = []byte("ledger.events")
	bucketTree        = []byte("ledger.tree")
	bucketCheckpoints = []byte("ledger.checkpoints")
	bucketIdxTime     = []byte("ledger.idx.time")
	bucketIdxTails    = []byte("ledger.idx.tails")
)

// Keys in ledger.meta. Numbers are 8-byte big-endian.
var (
	metaFormat     = []byte("format")
	metaSize       = []byte("size")
	metaApplied    = []byte("applied_index")
	metaLastTime   = []byte("last_time")
	metaLastCP     = []byte("last_checkpoint_event") // index+1 of the last checkpoint event, 0 for none
	metaPolicyHash = []byte("policy_hash")
)

// leafSize is the size of the leaf hash stored before each event's bytes.
const leafSize = 32

// formatVersion is the layout version written in ledger.meta; Open refuses
// a file with another one, except a file of version 1 (whose posting
// lists keep their last, partial chunks among the full ones, and which
// has no ledger.idx.tails): opened for writing, it is brought to version 2
// by moving those chunks to tails (migrateTails), and read-only it is read
// as it is.
const (
	formatVersion = 2
	formatV1      = 1
)

// indexDef is one equality index.
type indexDef struct {
	name   string
	bucket []byte
	value  func(e *event.Event) string
}

// Positions of the equality indexes in indexDefs.
const (
	idxActor = iota
	idxTenant
	idxCorrelation
	idxCapability
	idxType
	idxDecision
	numIndexes
)

var indexDefs = [numIndexes]indexDef{
	idxActor:       {"actor", []byte("ledger.idx.actor"), func(e *event.Event) string { return e.Actor }},
	idxTenant:      {"tenant", []byte("ledger.idx.tenant"), func(e *event.Event) string { return e.Tenant }},
	idxCorrelation: {"correlation", []byte("ledger.idx.correlation"), func(e *event.Event) string { return e.Correlation }},
	idxCapability:  {"capability", []byte("ledger.idx.capability"), func(e *event.Event) string { return string(e.Capability) }},
	idxType:        {"type", []byte("ledger.idx.type"), func(e *event.Event) string { return string(e.Type()) }},
	idxDecision:    {"decision", []byte("ledger.idx.decision"), (*event.Event).Decision},
}

// allBuckets lists every bucket the ledger creates.
func allBuckets() [][]byte {
	out := [][]byte{bucketMeta, bucketEvents, bucketTree, bucketCheckpoints, bucketIdxTime, bucketIdxTails}
	for _, d := range indexDefs {
		out = append(out, d.bucket)
	}
	return out
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getU64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// indexPrefix is the key prefix of every entry for value in an equality
// index.
func indexPrefix(value string) []byte {
	p := make([]byte, 0, len(value)+9)
	return append(append(p, value...), 0)
}

// keyIndex reads the 8-byte big-endian index at the end of a key.
func keyIndex(k []byte) uint64 {
	return binary.BigEndian.Uint64(k[len(k)-8:])
}
