package fsm

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/runtime/codec"
)

// The FSM's buckets, beside the ledger's "ledger.*" buckets in the same
// file.
var (
	bucketMeta       = []byte("fsm.meta")       // policy, bootstrap flag, request sequence
	bucketPrincipals = []byte("fsm.principals") // key id → principal.Principal
	bucketNodes      = []byte("fsm.nodes")      // node id → Node
	bucketCaps       = []byte("fsm.caps")       // sequence → registration document (in order)
	bucketLinks      = []byte("fsm.links")      // link hash → LinkState
	bucketRequests   = []byte("fsm.requests")   // invoker/request id → RequestRecord
	bucketReqOrder   = []byte("fsm.reqorder")   // sequence → request key (eviction order)
)

var allBuckets = [][]byte{bucketMeta, bucketPrincipals, bucketNodes, bucketCaps, bucketLinks, bucketRequests, bucketReqOrder}

var (
	keyPolicy       = []byte("policy")
	keyBootstrapped = []byte("bootstrapped")
	keyReqSeq       = []byte("request_seq")
	keyCapSeq       = []byte("cap_seq")
	keyRegistryIdx  = []byte("registry_index") // Raft index of the last registry change
)

func ensureBuckets(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("fsm: create bucket %s: %w", b, err)
		}
	}
	return nil
}

// getValue decodes the value at key into v; found is false when absent.
func getValue(tx *bolt.Tx, bucket, key []byte, v any) (found bool, err error) {
	b := tx.Bucket(bucket)
	if b == nil {
		return false, nil
	}
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := codec.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("fsm: %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func putValue(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := codec.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, raw)
}

func u64key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getU64(tx *bolt.Tx, bucket, key []byte) uint64 {
	raw := tx.Bucket(bucket).Get(key)
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func putU64(tx *bolt.Tx, bucket, key []byte, v uint64) error {
	return tx.Bucket(bucket).Put(key, u64key(v))
}

type boltTx = bolt.Tx

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
