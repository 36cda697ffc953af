package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// errTruncated is a bbolt file shorter than its own meta page says.
var errTruncated = errors.New("file is shorter than its metadata says (truncated)")

// checkBoltFile checks, before bbolt maps a file, that the newest valid
// meta page's high-water mark lies inside the file: bbolt trusts it and
// a truncated file would fault the process (SIGBUS) instead of failing
// with an error. A missing file is fine (it will be created).
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	var best *boltMeta
	for _, off := range []int64{0, -1} {
		if off == -1 {
			if best == nil {
				break
			}
			off = int64(best.pageSize)
		}
		m, ok := readBoltMeta(f, off)
		if ok && (best == nil || m.txid > best.txid) {
			best = &m
		}
	}
	if best == nil {
		return errors.New("no valid bbolt meta page")
	}
	if int64(best.hwm)*int64(best.pageSize) > fi.Size() {
		return fmt.Errorf("%w: %d pages of %d bytes, file has %d bytes", errTruncated, best.hwm, best.pageSize, fi.Size())
	}
	return nil
}

type boltMeta struct {
	pageSize uint32
	hwm      uint64
	txid     uint64
}

// readBoltMeta reads the meta page at off: a 16-byte page header, then
// magic, version, page size, flags, root (16), freelist, pgid, txid,
// checksum (FNV-64a of the meta before it).
func readBoltMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	buf := make([]byte, 16+64)
	if _, err := r.ReadAt(buf, off); err != nil {
		return boltMeta{}, false
	}
	m := buf[16:]
	le := binary.LittleEndian
	if le.Uint32(m[0:4]) != 0xED0CDAED || le.Uint32(m[4:8]) != 2 {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:64]) {
		return boltMeta{}, false
	}
	ps := le.Uint32(m[8:12])
	if ps < 512 || ps > 1<<16 {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: ps, hwm: le.Uint64(m[40:48]), txid: le.Uint64(m[48:56])}, true
}
