package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// ErrMalformed: a saved history does not decode or breaks its invariants.
var ErrMalformed = cnverr.New(cnverr.InvalidInput, "malformed history")

// Encode writes h as indented JSON.
func Encode(w io.Writer, h *History) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(h)
}

// Decode reads a history written by Encode, at most
// limits.MaxHistoryBytes, and validates it.
func Decode(r io.Reader) (*History, error) {
	lr := &io.LimitedReader{R: r, N: limits.MaxHistoryBytes + 1}
	var h History
	dec := json.NewDecoder(lr)
	if err := dec.Decode(&h); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, limits.MaxHistoryBytes)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return &h, nil
}

// Validate checks the invariants checkers rely on.
func (h *History) Validate() error {
	for i := range h.Ops {
		if err := h.Ops[i].validate(); err != nil {
			return fmt.Errorf("%w: op %d: %v", ErrMalformed, i, err)
		}
	}
	for i, f := range h.Faults {
		if f.Start < 0 || f.End < f.Start {
			return fmt.Errorf("%w: fault %d: bad interval [%d, %d]", ErrMalformed, i, f.Start, f.End)
		}
	}
	return nil
}

func (o *Op) validate() error {
	switch o.Outcome {
	case OK, Fail, Unknown:
	default:
		return fmt.Errorf("unknown outcome %q", o.Outcome)
	}
	switch o.Kind {
	case Append, Read, Invoke, Revoke, LinkRead:
	default:
		return fmt.Errorf("unknown kind %q", o.Kind)
	}
	if o.Invoke < 0 || o.End < o.Invoke {
		return fmt.Errorf("bad interval [%d, %d]", o.Invoke, o.End)
	}
	if o.Kind == Invoke && o.Outcome == OK {
		switch o.Decision {
		case Allow, DenyLimit, DenyRevoked, DenyOther:
		default:
			return fmt.Errorf("ok invoke with decision %q", o.Decision)
		}
	}
	if uint64(len(o.Events)) > o.Size {
		return fmt.Errorf("read lists %d events but size %d", len(o.Events), o.Size)
	}
	return nil
}
