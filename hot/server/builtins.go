package server

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// The built-in FastPath capabilities, for trying the hot path by hand and
// for benchmarks.
var (
	// CounterPath adds its argument (a decimal integer; empty means 1) to
	// a node-wide counter and answers the new total in decimal.
	CounterPath = capability.MustPath("hot.counter")
	// EchoPath answers its arguments unchanged.
	EchoPath = capability.MustPath("hot.echo")
)

// BuiltinTimeout is the built-ins' default deadline: the FastPath class
// maximum.
const BuiltinTimeout = time.Millisecond

// BuiltinOptions configure the built-ins.
type BuiltinOptions struct {
	// Timeout is their deadline (default BuiltinTimeout). Tests on loaded
	// machines raise it: a worker descheduled for longer than the deadline
	// turns an invocation into DeadlineExceeded.
	Timeout time.Duration
}

// ErrBadCount is the counter's answer to an argument that is not a decimal
// integer.
var ErrBadCount = cnverr.New(cnverr.InvalidInput, "counter argument must be a decimal integer")

// Builtins holds the state of the built-in capabilities of one node.
type Builtins struct {
	Counter Capability
	Echo    Capability
	sum     atomic.Uint64
}

// RegisterBuiltins registers the counter and the echo on d through cat
// (unversioned capability IDs of CounterPath and EchoPath).
func RegisterBuiltins(d *hotpath.Dispatcher, cat *Catalog, o BuiltinOptions) (*Builtins, error) {
	if o.Timeout <= 0 {
		o.Timeout = BuiltinTimeout
	}
	b := &Builtins{}
	var err error
	b.Counter, err = cat.Register(d, CounterPath.ID(), CounterPath, b.count,
		hotpath.Spec{Flags: capability.FlagMutateState, Timeout: o.Timeout})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", CounterPath, err)
	}
	b.Echo, err = cat.Register(d, EchoPath.ID(), EchoPath, echo,
		hotpath.Spec{Flags: capability.FlagReadOnly | capability.FlagIdempotent, Timeout: o.Timeout})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", EchoPath, err)
	}
	return b, nil
}

func (b *Builtins) count(_ context.Context, c *hotpath.Call) error {
	n := uint64(1)
	if len(c.Args) > 0 {
		v, ok := parseUint(c.Args)
		if !ok {
			return ErrBadCount
		}
		n = v
	}
	c.Out = strconv.AppendUint(c.Out, b.sum.Add(n), 10)
	return nil
}

func echo(_ context.Context, c *hotpath.Call) error {
	c.Out = append(c.Out, c.Args...)
	return nil
}

// parseUint parses a decimal uint64 without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
