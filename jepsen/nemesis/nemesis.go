package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Nemesis injects one kind of fault.
type Nemesis interface {
	// Name is a short stable name ("partition-majority", "kill-leader").
	Name() string
	// Start injects the fault and describes what it did ("killed n3").
	Start(ctx context.Context, rng *rand.Rand) (string, error)
	// Stop heals the fault. Stop without a successful Start does nothing.
	Stop(ctx context.Context) error
}

// Recorder records fault intervals; history.Recorder implements it.
type Recorder interface {
	FaultStart(nemesis, detail string) int
	FaultEnd(h int)
}

// Schedule is how Run cycles a nemesis: Quiet with no fault, then the
// fault held for Active, repeated.
type Schedule struct {
	Quiet, Active time.Duration
}

// Run cycles n under sched until ctx is done, recording every interval,
// and always leaves the fault stopped. Start failures are recorded and
// skipped; the joined Stop failures are returned (a fault that cannot be
// healed spoils the run).
func Run(ctx context.Context, n Nemesis, sched Schedule, rng *rand.Rand, rec Recorder) error {
	var errs []error
	for wait(ctx, sched.Quiet) {
		detail, err := n.Start(ctx, rng)
		if err != nil {
			h := rec.FaultStart(n.Name(), "start failed: "+err.Error())
			rec.FaultEnd(h)
			continue
		}
		h := rec.FaultStart(n.Name(), detail)
		wait(ctx, sched.Active)
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if err := n.Stop(stopCtx); err != nil {
			errs = append(errs, fmt.Errorf("%s: stop: %w", n.Name(), err))
		}
		cancel()
		rec.FaultEnd(h)
	}
	return errors.Join(errs...)
}

// wait sleeps d unless ctx ends first; false when ctx ended.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Compose starts every nemesis together and stops them in reverse order.
func Compose(ns ...Nemesis) Nemesis { return &composed{ns: ns} }

type composed struct {
	ns      []Nemesis
	started []Nemesis
}

func (c *composed) Name() string {
	names := make([]string, len(c.ns))
	for i, n := range c.ns {
		names[i] = n.Name()
	}
	return strings.Join(names, "+")
}

func (c *composed) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	var details []string
	for _, n := range c.ns {
		d, err := n.Start(ctx, rng)
		if err != nil {
			return strings.Join(details, "; "), errors.Join(fmt.Errorf("%s: %w", n.Name(), err), c.Stop(ctx))
		}
		c.started = append(c.started, n)
		details = append(details, d)
	}
	return strings.Join(details, "; "), nil
}

func (c *composed) Stop(ctx context.Context) error {
	var errs []error
	for i := len(c.started) - 1; i >= 0; i-- {
		if err := c.started[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.started = nil
	return errors.Join(errs...)
}

// OneOf starts one nemesis chosen at random on each Start.
func OneOf(ns ...Nemesis) Nemesis { return &oneOf{ns: ns} }

type oneOf struct {
	ns      []Nemesis
	current Nemesis
}

func (o *oneOf) Name() string {
	if o.current != nil {
		return o.current.Name()
	}
	return "one-of"
}

func (o *oneOf) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	o.current = o.ns[rng.IntN(len(o.ns))]
	return o.current.Start(ctx, rng)
}

func (o *oneOf) Stop(ctx context.Context) error {
	if o.current == nil {
		return nil
	}
	return o.current.Stop(ctx)
}
