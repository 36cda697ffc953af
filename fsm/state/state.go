package state

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Namespace prefixes the state's buckets in the ledger's file ("fsm.meta",
// "fsm.principals", ...).
const Namespace = "fsm."

// Buckets, inside the namespace.
var (
	bucketMeta       = []byte("meta")         // the keys below
	bucketPrincipals = []byte("principals")   // key id → principal.Principal
	bucketNodes      = []byte("nodes")        // node id → Node
	bucketCaps       = []byte("caps")         // sequence → registration document (in order)
	bucketLinks      = []byte("links")        // link hash → LinkState
	bucketReqLog     = []byte("reqlog")       // sequence → request entry (requests.go), in eviction order
	bucketHotLeases  = []byte("hotleases")    // lease id → HotLease
	bucketRemovedIDs = []byte("removed_ids")  // node id → Tombstone
	bucketRemovedKey = []byte("removed_keys") // key id → Tombstone
	// The request-id table as earlier versions kept it; read, and emptied
	// by eviction, but never written (requests.go).
	bucketRequests = []byte("requests") // invoker/request id → RequestRecord
	bucketReqOrder = []byte("reqorder") // sequence → request key (eviction order)
)

// Keys in the meta bucket. Numbers are 8-byte big-endian.
var (
	keyPolicy       = []byte("policy")         // the policy document in force (absent: the bootstrap policy)
	keyBootstrapped = []byte("bootstrapped")   // present once the cluster is bootstrapped
	keyReqSeq       = []byte("request_seq")    // sequence of the last remembered request
	keyCapSeq       = []byte("cap_seq")        // sequence of the last capability registration
	keyRegistryIdx  = []byte("registry_index") // Raft index of the last registry change
	keyHotLeaseN    = []byte("hot_leases_open")
)

// Node is a cluster member's record (also the body of the FSM's node
// command).
type Node struct {
	ID        string            `json:"node_id"`
	RaftAddr  string            `json:"raft_addr"`
	APIAddr   string            `json:"api_addr"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	KeyID     principal.KeyID   `json:"key_id"`
	Voter     bool              `json:"voter,omitempty"`
	// GossipAddr is the node's memberlist address ("" without gossip).
	GossipAddr string `json:"gossip_addr,omitempty"`
}

// Tombstone is a committed removal of a server: its node id and its key
// are not added back by autopilot, and a join names the removal (Index)
// to readmit them. The same record is kept under the id and under the key
// (a readmitted id with a new key leaves the old key tombstoned).
type Tombstone struct {
	ID       string          `json:"node_id"`
	KeyID    principal.KeyID `json:"key_id,omitempty"`
	RaftAddr string          `json:"raft_addr,omitempty"`
	// Index is the Raft index of the removal; Time its committed time.
	Index uint64 `json:"index"`
	Time  int64  `json:"time"`
	By    string `json:"by"`
	Cause string `json:"cause"`
}

// LinkState is the replicated state of one delegation link: uses charged
// and revocation.
type LinkState struct {
	Hash      delegation.Hash `json:"hash"`
	Issuer    principal.KeyID `json:"issuer,omitempty"`
	Audience  principal.KeyID `json:"audience,omitempty"`
	MaxUses   uint64          `json:"max_uses,omitempty"`
	NotAfter  int64           `json:"not_after,omitempty"`
	Uses      uint64          `json:"uses"`
	FirstUsed int64           `json:"first_used,omitempty"`
	Revoked   bool            `json:"revoked,omitempty"`
	RevokedAt int64           `json:"revoked_at,omitempty"`
	RevokedBy principal.KeyID `json:"revoked_by,omitempty"`
	Reason    string          `json:"reason,omitempty"`
}

// HotLease is an open hot-path quota lease: the uses leased so far to one
// session over a chain's links.
type HotLease struct {
	Node        string            `json:"node_id"`
	Certificate string            `json:"certificate_id"`
	Links       []delegation.Hash `json:"links"`
	Leased      uint64            `json:"leased"`
	Opened      int64             `json:"opened"`
}

// RequestRecord is what the request-id table of earlier versions kept for
// one request id: the digest of what was asked (hex), its position in the
// table (eviction order), and the whole answer given, of the caller's
// result type R. Such records are still read (see LegacyResult), never
// written.
type RequestRecord[R any] struct {
	Digest string `json:"digest"`
	Seq    uint64 `json:"seq"`
	Result R      `json:"result"`
}

// Store is the state over a kv.DB, for reading (and writing, outside a
// ledger transaction) on its own. It keeps the request-id table's lookup
// index in memory (requests.go) for the writers it makes.
type Store struct {
	db       kv.DB
	requests *requestIndex
}

// New returns the state held in db.
func New(db kv.DB) *Store { return &Store{db: db, requests: &requestIndex{}} }

// View runs fn on a consistent snapshot.
func (s *Store) View(fn func(r *Reader) error) error {
	return s.db.View(func(r kv.Reader) error { return fn(NewReader(r)) })
}

// Update runs fn in one write transaction: all of its writes or none.
func (s *Store) Update(fn func(w *Writer) error) error {
	return s.db.Update(func(tx kv.Tx) error { return fn(s.Writer(tx)) })
}

// Writer returns a writer over tx, a write transaction of the store's db
// or one committed with it (in a node, the ledger transaction of an
// applied batch: tx.KV(Namespace)). Its request-id lookups use the
// store's in-memory index, which follows what tx commits.
func (s *Store) Writer(tx kv.Tx) *Writer {
	w := NewWriter(tx)
	w.reqs.ix = s.requests
	return w
}

// Reset forgets what the store keeps in memory, after the data under it
// was replaced (a snapshot restored): the next writer rebuilds it.
func (s *Store) Reset() { s.requests.reset() }

// Reader reads the state within one kv transaction.
type Reader struct{ r kv.Reader }

// NewReader reads the state through r.
func NewReader(r kv.Reader) *Reader { return &Reader{r: r} }

// Writer reads and writes the state within one kv write transaction (in a
// node, the ledger transaction of an applied batch).
type Writer struct {
	Reader
	tx   kv.Tx
	reqs requestTx
}

// NewWriter reads and writes the state through tx. Its request-id lookups
// build an index of the table for this transaction alone (a walk of the
// table); Store.Writer shares one that lasts.
func NewWriter(tx kv.Tx) *Writer { return &Writer{Reader: Reader{r: tx}, tx: tx} }

func u64key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func (r *Reader) u64(bucket, key []byte) uint64 {
	raw := r.r.Get(bucket, key)
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func (w *Writer) putU64(bucket, key []byte, v uint64) error {
	return w.tx.Put(bucket, key, u64key(v))
}

// get decodes the value at key into v; found is false when absent.
func (r *Reader) get(bucket, key []byte, v any) (found bool, err error) {
	raw := r.r.Get(bucket, key)
	if raw == nil {
		return false, nil
	}
	return true, decode(bucket, key, raw, v)
}

func decode(bucket, key, raw []byte, v any) error {
	if err := codec.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("state: %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (w *Writer) put(bucket, key []byte, v any) error {
	raw, err := codec.Marshal(v)
	if err != nil {
		return err
	}
	if err := w.tx.Put(bucket, key, raw); err != nil {
		return fmt.Errorf("state: write %s: %w", bucket, err)
	}
	return nil
}

// each decodes every value of bucket, in key order, into a new T for fn.
func each[T any](r *Reader, bucket []byte, fn func(k []byte, v T) error) error {
	return r.r.ForEach(bucket, func(k, raw []byte) error {
		var v T
		if err := decode(bucket, k, raw, &v); err != nil {
			return err
		}
		return fn(k, v)
	})
}
