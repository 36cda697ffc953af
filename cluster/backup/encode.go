package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cnv-project/cnv/runtime/limits"
)

// Source is what a snapshot file holds.
type Source struct {
	Meta Meta
	// Checkpoint is the signed checkpoint note.
	Checkpoint []byte
	// State yields exactly Meta.StateBytes bytes of state.db.
	State io.Reader
}

// Encoder writes one snapshot file. Its length is known before the first
// byte (Size), so a server can announce it.
type Encoder struct {
	meta  []byte
	cp    []byte
	state io.Reader
	n     int64
	key   ed25519.PrivateKey
}

// NewEncoder checks src and prepares its file, signed with key (the key
// whose public half is src.Meta.NodeKey).
func NewEncoder(src Source, key ed25519.PrivateKey) (*Encoder, error) {
	meta, err := encodeMeta(src.Meta)
	if err != nil {
		return nil, err
	}
	if len(meta) > limits.MaxSnapshotMetaBytes || len(src.Checkpoint) > limits.MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: metadata of %d or checkpoint of %d bytes is over its limit", ErrMalformed, len(meta), len(src.Checkpoint))
	}
	if len(key) != ed25519.PrivateKeySize || !bytes.Equal(key.Public().(ed25519.PublicKey), src.Meta.NodeKey) {
		return nil, fmt.Errorf("%w: the signing key is not the metadata's node key", ErrMalformed)
	}
	return &Encoder{meta: meta, cp: src.Checkpoint, state: src.State, n: src.Meta.StateBytes, key: key}, nil
}

// Size is the length of the file WriteTo writes.
func (e *Encoder) Size() int64 {
	return int64(headerSize+4*(sectionHead+sectionTail)+len(e.meta)+len(e.cp)+endSize) + e.n
}

// WriteTo writes the file: the header, the four sections and their CRCs;
// the end section signs the SHA-256 of everything before it.
func (e *Encoder) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	fh := sha256.New()
	out := io.MultiWriter(cw, fh)
	hdr := make([]byte, 0, headerSize)
	hdr = binary.BigEndian.AppendUint16(append(hdr, Magic...), Version)
	hdr = binary.BigEndian.AppendUint16(hdr, 0)
	if _, err := out.Write(hdr); err != nil {
		return cw.n, err
	}
	for _, s := range []struct {
		k Kind
		n int64
		r io.Reader
	}{
		{KindMeta, int64(len(e.meta)), bytes.NewReader(e.meta)},
		{KindCheckpoint, int64(len(e.cp)), bytes.NewReader(e.cp)},
		{KindState, e.n, e.state},
	} {
		if err := writeSection(out, s.k, s.n, s.r); err != nil {
			return cw.n, err
		}
	}
	err := writeSection(cw, KindEnd, endSize, bytes.NewReader(e.end(fh)))
	return cw.n, err
}

func (e *Encoder) end(fh hash.Hash) []byte {
	digest := fh.Sum(nil)
	return append(digest, ed25519.Sign(e.key, signed(digest))...)
}

// writeSection writes one section, reading exactly n payload bytes from r.
func writeSection(w io.Writer, k Kind, n int64, r io.Reader) error {
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	var head [sectionHead]byte
	head[0] = byte(k)
	binary.BigEndian.PutUint64(head[1:], uint64(n))
	if _, err := out.Write(head[:]); err != nil {
		return err
	}
	copied, err := io.CopyBuffer(out, io.LimitReader(r, n), make([]byte, max(1, min(n, 1<<20))))
	if err != nil {
		return fmt.Errorf("backup: write the %s section: %w", k, err)
	}
	if copied != n {
		return fmt.Errorf("backup: the %s section's source ended after %d of %d bytes", k, copied, n)
	}
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
