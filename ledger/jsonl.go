package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Export writes events [from, to) as JSON lines, one event per line, from
// one consistent snapshot. to == 0 means the ledger's size. It returns the
// number of events written.
func (s *Store) Export(w io.Writer, from, to uint64) (uint64, error) {
	var n uint64
	err := s.view(func(r *reader) error {
		if to == 0 || to > r.size {
			to = r.size
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := json.NewEncoder(bw)
		for i := from; i < to; i++ {
			e, err := r.event(i)
			if err != nil {
				return err
			}
			if err := enc.Encode(e); err != nil {
				return err
			}
			n++
		}
		return bw.Flush()
	})
	return n, err
}

// ReadJSONL decodes JSON-lines events from r and calls fn for each, with
// its 1-based line number. Blank lines are skipped; a line longer than
// limits.MaxImportLineBytes, malformed JSON or an invalid event stops the
// read with an error naming the line.
func ReadJSONL(r io.Reader, fn func(line int, e event.Event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := readLine(br)
		if errors.Is(err, io.EOF) && len(b) == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e event.Event
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("line %d: %w", line, asDecodeErr(err))
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := fn(line, e); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

func asDecodeErr(err error) error {
	if errors.Is(err, event.ErrDecode) {
		return err
	}
	return fmt.Errorf("%w: %v", event.ErrDecode, err)
}

// readLine returns one line without its newline, refusing lines over the
// import limit before buffering them whole.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > limits.MaxImportLineBytes {
			return nil, fmt.Errorf("%w: line longer than %d bytes", event.ErrDecode, limits.MaxImportLineBytes)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(out, []byte("\n")), err
	}
}

// ImportResult is the outcome of Import.
type ImportResult struct {
	Imported uint64 `json:"imported"`
	Skipped  uint64 `json:"skipped"`
	Head     Head   `json:"head"`
}

// importBatch is how many events Import commits per transaction.
const importBatch = 1024

// Import appends JSON-lines events exactly as exported (same indexes, raft
// indexes, times and derived fields), so importing an export into a fresh
// ledger reproduces the same root. Events already present with identical
// bytes are skipped, so an interrupted import can be re-run. Each batch of
// importBatch events is one transaction: on error, the events of earlier
// batches stay imported and the error names the failing line.
func (s *Store) Import(r io.Reader) (ImportResult, error) {
	var res ImportResult
	var batch []event.Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		h, err := s.Update(func(tx *Tx) error {
			_, err := tx.Append(AppendOptions{Exact: true}, batch...)
			return err
		})
		if err != nil {
			return err
		}
		res.Imported += uint64(len(batch))
		res.Head, batch = h, batch[:0]
		return nil
	}
	err := ReadJSONL(r, func(_ int, e event.Event) error {
		if skip, err := s.alreadyHas(e, uint64(len(batch))); err != nil || skip {
			res.Skipped += boolN(skip)
			return err
		}
		batch = append(batch, e)
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if res.Imported == 0 {
		res.Head = s.Head()
	}
	return res, err
}

func boolN(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// alreadyHas reports whether e is already stored with identical bytes. An
// event below the head that differs is a conflict.
func (s *Store) alreadyHas(e event.Event, pending uint64) (bool, error) {
	size := s.Head().Size
	if pending > 0 || e.Index >= size {
		return false, nil
	}
	stored, err := s.Event(e.Index)
	if err != nil {
		return false, err
	}
	a, err1 := stored.MarshalCanonical()
	b, err2 := e.MarshalCanonical()
	if err := firstErr(err1, err2); err != nil {
		return false, err
	}
	if !bytes.Equal(a, b) {
		return false, fmt.Errorf("%w: event %d differs from the stored one", ErrSequence, e.Index)
	}
	return true, nil
}
