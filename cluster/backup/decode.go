package backup

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cnv-project/cnv/runtime/limits"
)

// File is a decoded snapshot file whose structure, checksums, digest and
// signature checked out. Its state went to the writer Decode was given.
type File struct {
	Meta       Meta
	Checkpoint []byte
	// Digest is the SHA-256 of the file before the end section; Signature
	// is the node key's signature over SignatureDomain || Digest.
	Digest    []byte
	Signature []byte
	// Size is the file's length.
	Size int64
}

// Decode reads a snapshot file from r, copying the state section to state
// as it streams. It refuses, naming what is wrong: a bad magic or version,
// a file truncated at byte N, a section out of order or over its limit, a
// checksum mismatch in a section, metadata that does not parse, data after
// the end section, and a file signature that does not verify under the key
// the metadata names. The contents are not checked here (see Verify).
func Decode(r io.Reader, state io.Writer) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<20), fh: sha256.New()}
	if err := d.header(); err != nil {
		return nil, err
	}
	f := &File{}
	raw, err := d.small(KindMeta, limits.MaxSnapshotMetaBytes)
	if err != nil {
		return nil, err
	}
	if f.Meta, err = decodeMeta(raw); err != nil {
		return nil, err
	}
	if f.Checkpoint, err = d.small(KindCheckpoint, limits.MaxCheckpointBytes); err != nil {
		return nil, err
	}
	if err := d.state(f.Meta.StateBytes, state); err != nil {
		return nil, err
	}
	f.Digest = d.fh.Sum(nil)
	d.fh = nil // the end section is not part of the digest
	if err := d.end(f); err != nil {
		return nil, err
	}
	f.Size = d.off
	return f, nil
}

type decoder struct {
	r   *bufio.Reader
	off int64
	fh  hash.Hash // nil once the digest is taken
}

// read fills p, reporting a short file as truncated at the byte it ended.
func (d *decoder) read(p []byte, what string) error {
	n, err := io.ReadFull(d.r, p)
	d.consumed(p[:n])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w at byte %d: %s needs %d more bytes", ErrTruncated, d.off, what, len(p)-n)
	}
	if err != nil {
		return fmt.Errorf("backup: read %s at byte %d: %w", what, d.off, err)
	}
	return nil
}

func (d *decoder) consumed(p []byte) {
	d.off += int64(len(p))
	if d.fh != nil {
		d.fh.Write(p)
	}
}

func (d *decoder) header() error {
	var h [headerSize]byte
	if err := d.read(h[:len(Magic)], "the header"); err != nil {
		if errors.Is(err, ErrTruncated) && string(h[:d.off]) != Magic[:d.off] {
			return ErrMagic
		}
		return err
	}
	if string(h[:len(Magic)]) != Magic {
		return ErrMagic
	}
	if err := d.read(h[len(Magic):], "the header"); err != nil {
		return err
	}
	if v := binary.BigEndian.Uint16(h[len(Magic):]); v != Version {
		return fmt.Errorf("%w %d (this build reads version %d)", ErrVersion, v, Version)
	}
	if fl := binary.BigEndian.Uint16(h[len(Magic)+2:]); fl != 0 {
		return fmt.Errorf("%w: unknown header flags 0x%04x", ErrMalformed, fl)
	}
	return nil
}

// open reads a section's kind and length and checks them.
func (d *decoder) open(want Kind, max int64) (int64, hash.Hash32, error) {
	start := d.off
	var head [sectionHead]byte
	if err := d.read(head[:], "the "+want.String()+" section's header"); err != nil {
		return 0, nil, err
	}
	if k := Kind(head[0]); k != want {
		return 0, nil, fmt.Errorf("%w: at byte %d expected the %s section, found %s", ErrMalformed, start, want, k)
	}
	n := binary.BigEndian.Uint64(head[1:])
	if n > uint64(max) {
		return 0, nil, fmt.Errorf("%w: the %s section at byte %d claims %d bytes (limit %d)", ErrMalformed, want, start, n, max)
	}
	crc := crc32.New(castagnoli)
	crc.Write(head[:])
	return int64(n), crc, nil
}

// close reads a section's CRC and compares it with the bytes read.
func (d *decoder) close(k Kind, start int64, crc hash.Hash32) error {
	var tail [sectionTail]byte
	if err := d.read(tail[:], "the "+k.String()+" section's checksum"); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(tail[:]) != crc.Sum32() {
		return fmt.Errorf("%w in the %s section (bytes %d..%d)", ErrChecksum, k, start, d.off)
	}
	return nil
}

// small reads a whole section of at most max bytes into memory.
func (d *decoder) small(k Kind, max int64) ([]byte, error) {
	start := d.off
	n, crc, err := d.open(k, max)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if err := d.read(b, "the "+k.String()+" section"); err != nil {
		return nil, err
	}
	crc.Write(b)
	return b, d.close(k, start, crc)
}

// state streams the state section to w; its length must be the metadata's.
func (d *decoder) state(want int64, w io.Writer) error {
	start := d.off
	n, crc, err := d.open(KindState, limits.MaxSnapshotStateBytes)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%w: the state section at byte %d has %d bytes, the metadata says %d", ErrMalformed, start, n, want)
	}
	buf := make([]byte, max(1, min(n, 1<<20)))
	for left := n; left > 0; {
		p := buf[:min(left, int64(len(buf)))]
		if err := d.read(p, "the state section"); err != nil {
			return err
		}
		crc.Write(p)
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("backup: write the state: %w", err)
		}
		left -= int64(len(p))
	}
	return d.close(KindState, start, crc)
}

// end reads the end section, checks the digest and the signature and that
// the file ends there.
func (d *decoder) end(f *File) error {
	b, err := d.small(KindEnd, endSize)
	if err != nil {
		return err
	}
	if len(b) != endSize {
		return fmt.Errorf("%w: the end section has %d bytes, want %d", ErrMalformed, len(b), endSize)
	}
	if string(b[:sha256.Size]) != string(f.Digest) {
		return fmt.Errorf("%w: the file's SHA-256 is %x, the end section records %x", ErrChecksum, f.Digest, b[:sha256.Size])
	}
	f.Signature = b[sha256.Size:]
	if _, err := d.r.ReadByte(); err == nil {
		return fmt.Errorf("%w: data after the end section at byte %d", ErrMalformed, d.off)
	}
	if !ed25519.Verify(f.Meta.PublicKey(), signed(f.Digest), f.Signature) {
		return fmt.Errorf("%w: the file is not signed by node key %s", ErrSignature, f.Meta.NodeKeyID)
	}
	return nil
}
