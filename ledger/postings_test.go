package ledger

import (
	"bytes"
	"encoding/binary"
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
	db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("idx"))
		if err == nil {
			_, err = tx.CreateBucket([]byte("tails"))
		}
		return err
	})
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
			return p.flush(&buckets, tx.Bucket([]byte("tails")), func(n int) []byte { return make([]byte, n) })
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
		for _, b := range []string{"idx", "tails"} {
			tx.Bucket([]byte(b)).ForEach(func(k, v []byte) error {
				fmt.Fprintf(&buf, "%s %x=%x\n", b, k, v)
				return nil
			})
		}
		return nil
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
			checkSeeks(t, seed, newPostingCursor(b, tx.Bucket([]byte("tails")), 0, v), lists[v], n, rng)
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

// Full chunks hold exactly postingsPerChunk entries and each value has at
// most one tail, of fewer, in the tails bucket.
func TestPostingsTailLayout(t *testing.T) {
	lists := map[string][]uint64{}
	var n uint64
	rng := rand.New(rand.NewSource(seedFor(t)))
	for i := 0; i < 5000; i++ {
		n += 1 + uint64(rng.Intn(3))
		v := fmt.Sprintf("v%d", rng.Intn(30))
		lists[v] = append(lists[v], n)
	}
	db := buildPostings(t, lists, []uint64{n / 3, n / 2, n + 1})
	db.View(func(tx *bolt.Tx) error {
		tails, chunks := map[string]int{}, map[string]int{}
		tx.Bucket([]byte("tails")).ForEach(func(k, v []byte) error {
			_, _, cnt, err := scanTail(v)
			if k[0] != 0 || err != nil || cnt == 0 || cnt >= postingsPerChunk {
				t.Errorf("tail %q: %d entries, %v", k, cnt, err)
			}
			tails[string(k[1:])] = cnt
			return nil
		})
		tx.Bucket([]byte("idx")).ForEach(func(k, v []byte) error {
			if _, cnt, err := scanChunk(keyIndex(k), v); err != nil || cnt != postingsPerChunk {
				t.Errorf("chunk %x: %d entries, %v", k, cnt, err)
			}
			chunks[string(k[:len(k)-9])]++
			return nil
		})
		for v, l := range lists {
			if got := chunks[v]*postingsPerChunk + tails[v]; got != len(l) {
				t.Errorf("%s: %d entries stored, %d appended", v, got, len(l))
			}
		}
		return nil
	})
}

// toVersion1 rewrites a store's posting lists in the first layout (each
// value's last, partial chunk among its full ones) and marks the file
// version 1.
func toVersion1(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		tails := tx.Bucket(bucketIdxTails)
		err := tails.ForEach(func(k, v []byte) error {
			b := tx.Bucket(indexDefs[k[0]].bucket)
			return b.Put(chunkKey(indexPrefix(string(k[1:])), keyIndex(v[:8])), append([]byte(nil), v[8:]...))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketIdxTails); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaFormat, u64(formatV1))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func dumpIndexes(t *testing.T, s *Store) string {
	var buf bytes.Buffer
	s.boltView(func(tx *bolt.Tx) error {
		for _, d := range indexDefs {
			tx.Bucket(d.bucket).ForEach(func(k, v []byte) error {
				fmt.Fprintf(&buf, "%s %x=%x\n", d.name, k, v)
				return nil
			})
		}
		if b := tx.Bucket(bucketIdxTails); b != nil {
			b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&buf, "tails %x=%x\n", k, v)
				return nil
			})
		}
		return nil
	})
	return buf.String()
}

// A file of the first layout reads as it is when opened read-only, and is
// brought to the tail layout when opened for writing: exactly the layout
// the same events give a new file.
func TestVersion1FileIsMigrated(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewSource(seed))
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	all := appendRandom(t, s, rng, 700)
	want := dumpIndexes(t, s)
	s.Close()
	toVersion1(t, path)

	queries := func(s *Store, when string) {
		t.Helper()
		for n := 0; n < 100; n++ {
			q := randomQuery(rng, all)
			if got, want := collect(t, s, q), scan(all, q); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: seed %d query %+v:\n got %v\nwant %v", when, seed, q, got, want)
			}
		}
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if dumpIndexes(t, ro) == want {
		t.Fatal("the file was not rewritten in the first layout")
	}
	queries(ro, "version 1, read-only")
	ro.Close()

	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dumpIndexes(t, s); got != want {
		t.Fatalf("migrated layout differs from a new file's")
	}
	queries(s, "migrated")
	all = append(all, appendRandom(t, s, rng, 200)...)
	queries(s, "appended after migrating")
}

// FuzzPostingTail: a tail read back from the file (by the writer's
// scanTail and by a reader's decode) never panics, and the two agree on
// what is well formed.
func FuzzPostingTail(f *testing.F) {
	f.Add(append(binary.BigEndian.AppendUint64(nil, 7), 0, 1, 5))
	f.Add(append(binary.BigEndian.AppendUint64(nil, 1<<63), bytes.Repeat([]byte{0x81, 0x01}, 130)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		first, last, n, err := scanTail(v)
		if len(v) <= 8 {
			if err == nil {
				t.Fatal("a tail without entries is accepted")
			}
			return
		}
		dec, derr := decodeChunk(nil, binary.BigEndian.Uint64(v), v[8:])
		if derr == nil && len(dec) >= postingsPerChunk {
			derr = ErrCorrupt
		}
		if (err == nil) != (derr == nil) {
			t.Fatalf("scan %v, decode %v", err, derr)
		}
		if err == nil && (len(dec) != n || dec[0] != first || dec[n-1] != last) {
			t.Fatalf("scan (%d, %d, %d), decode %v", first, last, n, dec)
		}
	})
}
