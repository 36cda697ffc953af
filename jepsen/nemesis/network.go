package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// ErrBadConfig: a nemesis was configured with values it cannot use.
var ErrBadConfig = cnverr.New(cnverr.InvalidInput, "bad nemesis configuration")

// LeaderFunc names the current leader.
type LeaderFunc func(ctx context.Context) (string, error)

// PartitionKind names a partition shape.
type PartitionKind string

// Partition shapes.
const (
	MajorityMinorityKind PartitionKind = "majority"      // a random minority cut off
	IsolateLeaderKind    PartitionKind = "leader"        // the leader cut off
	BridgeKind           PartitionKind = "bridge"        // two halves joined by one node
	OneWayKind           PartitionKind = "oneway"        // a minority cannot send to the majority
	OneWayLeaderKind     PartitionKind = "oneway-leader" // the leader cannot send, still receives
	IsolateFollowerKind  PartitionKind = "follower"      // one follower cut off (snapshot install)
)

// Partition cuts links of the mesh in a shape and heals them on Stop.
type Partition struct {
	Mesh   *Mesh
	Kind   PartitionKind
	Fault  Fault      // the fault for cut links; Blackhole when zero
	Leader LeaderFunc // needed by the leader and follower shapes
}

// Name is "partition-" + the shape.
func (p *Partition) Name() string { return "partition-" + string(p.Kind) }

// Start computes the cut and applies it.
func (p *Partition) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	cut, detail, err := p.cut(ctx, rng)
	if err != nil {
		return "", err
	}
	f := p.Fault
	if f.Mode == Pass {
		f = Fault{Mode: Blackhole}
	}
	if err := p.Mesh.Apply(cut, f); err != nil {
		return "", err
	}
	return detail + " (" + f.String() + ")", nil
}

func (p *Partition) cut(ctx context.Context, rng *rand.Rand) (Cut, string, error) {
	ids := p.Mesh.IDs()
	switch p.Kind {
	case MajorityMinorityKind:
		c, d := MajorityMinority(ids, rng)
		return c, d, nil
	case BridgeKind:
		c, d := Bridge(ids, rng)
		return c, d, nil
	case OneWayKind:
		c, d := OneWayMinority(ids, rng)
		return c, d, nil
	}
	return p.leaderCut(ctx, ids, rng)
}

func (p *Partition) leaderCut(ctx context.Context, ids []string, rng *rand.Rand) (Cut, string, error) {
	if p.Leader == nil {
		return nil, "", fmt.Errorf("%w: partition %s needs a leader function", ErrBadConfig, p.Kind)
	}
	leader, err := p.Leader(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("finding the leader: %w", err)
	}
	switch p.Kind {
	case IsolateLeaderKind:
		return Isolate(ids, leader), "leader " + leader + " isolated", nil
	case OneWayLeaderKind:
		return OneWay([]string{leader}, without(ids, leader)), "leader " + leader + " cannot send", nil
	case IsolateFollowerKind:
		f := without(ids, leader)
		if len(f) == 0 {
			return nil, "", fmt.Errorf("%w: no follower", ErrBadConfig)
		}
		n := f[rng.IntN(len(f))]
		return Isolate(ids, n), "follower " + n + " isolated", nil
	}
	return nil, "", fmt.Errorf("%w: partition kind %q", ErrBadConfig, p.Kind)
}

// Stop heals every link.
func (p *Partition) Stop(context.Context) error {
	p.Mesh.Heal()
	return nil
}

// LinkFaults puts a random share of the mesh's links into one fault (delay
// with jitter, drop a percentage, reset) and heals them on Stop.
type LinkFaults struct {
	Mesh    *Mesh
	Fault   Fault
	Percent int // share of directed links faulted, 1..100; 100 when zero
}

// Name is "links-" + the fault's mode.
func (l *LinkFaults) Name() string { return "links-" + l.Fault.Mode.String() }

// Start faults the chosen links.
func (l *LinkFaults) Start(_ context.Context, rng *rand.Rand) (string, error) {
	ids := l.Mesh.IDs()
	all := OneWay(ids, ids)
	pct := l.Percent
	if pct <= 0 || pct > 100 {
		pct = 100
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	cut := slices.Clone(all[:max(1, len(all)*pct/100)])
	if err := l.Mesh.Apply(cut, l.Fault); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s on %d of %d links", l.Fault, len(cut), len(all)), nil
}

// Stop heals every link.
func (l *LinkFaults) Stop(context.Context) error {
	l.Mesh.Heal()
	return nil
}
