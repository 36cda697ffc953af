package ledger

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// buildPostings writes lists (value → ascending indexes) into a fresh
// bucket, flushing after each of the given split points.
func buildPostings(t *testing.T, lists map[string][]uint64, splits []uint64) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "p.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("idx")); return err })
	var lo uint64
	for _, hi := range splits {
		err := db.Update(func(tx *bolt.Tx) error {
			var p pending
			var buckets [numIndexes]*bolt.Bucket
			buckets[0] = tx.Bucket([]byte("idx"))
			for v, l := range lists {
				for _, x := range l {
					if x >= lo && x < hi {
						p.add(0, v, x)
					}
				}
			}
			for i := 1; i < numIndexes; i++ {
				buckets[i] = buckets[0]
			}
			return p.flush(&buckets, func(n int) []byte { return make([]byte, n) })
		})
		if err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	return db
}

func dump(db *bolt.DB) string {
	var buf bytes.Buffer
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("idx")).ForEach(func(k, v []byte) error {
			fmt.Fprintf(&buf, "%x=%x\n", k, v)
			return nil
		})
	})
	return buf.String()
}

func TestPostings(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewSource(seed))
	lists := map[string][]uint64{}
	values := []string{"a", "ab", "b", "zz"}
	var n uint64
	for i := 0; i < 3000; i++ {
		n += 1 + uint64(rng.Intn(300)) // gaps of varying width, some multi-byte varints
		v := values[rng.Intn(len(values))]
		lists[v] = append(lists[v], n)
	}
	one := buildPostings(t, lists, []uint64{n + 1})
	var splits []uint64
	for s := uint64(0); s <= n; s += 1 + uint64(rng.Intn(20000)) {
		splits = append(splits, s)
	}
	many := buildPostings(t, lists, append(splits, n+1))
	if dump(one) != dump(many) {
		t.Fatalf("seed %d: chunk layout depends on how appends were batched", seed)
	}
	one.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("idx"))
		for _, v := range append(values, "c", "") {
			checkSeeks(t, seed, newPostingCursor(b, v), lists[v], n, rng)
		}
		return nil
	})
}

// checkSeeks compares seek with a search of the list, for ascending and
// random candidates.
func checkSeeks(t *testing.T, seed int64, pc *postingCursor, list []uint64, n uint64, rng *rand.Rand) {
	want := func(c uint64) (uint64, bool) {
		i := sort.Search(len(list), func(i int) bool { return list[i] >= c })
		if i == len(list) {
			return 0, false
		}
		return list[i], true
	}
	cands := make([]uint64, 0, 3000)
	for c := uint64(0); c <= n+2; c += 1 + uint64(rng.Intn(50)) {
		cands = append(cands, c)
	}
	for i := 0; i < 500; i++ {
		cands = append(cands, uint64(rng.Int63n(int64(n+3))))
	}
	for _, c := range cands {
		got, ok := pc.seek(c)
		w, wok := want(c)
		if got != w || ok != wok {
			t.Fatalf("seed %d: seek(%d) = %d,%v want %d,%v", seed, c, got, ok, w, wok)
		}
	}
	if pc.err != nil {
		t.Fatal(pc.err)
	}
}

func TestChunkDecodeRejects(t *testing.T) {
	for _, v := range [][]byte{{}, {1}, {0, 0}, {0, 0x80}, bytes.Repeat([]byte{0, 1}, 200)[1:]} {
		if _, err := decodeChunk(nil, 5, v); err == nil {
			t.Errorf("%x accepted", v)
		}
		if _, _, err := scanChunk(5, v); err == nil {
			t.Errorf("scan %x accepted", v)
		}
	}
}
