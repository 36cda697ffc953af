package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Cluster is what process nemeses need from the harness. Kill, Restart,
// Pause and Resume are idempotent: killing a stopped node or restarting a
// running one does nothing.
type Cluster interface {
	IDs() []string
	Leader(ctx context.Context) (string, error)
	// Kill sends SIGKILL and waits for the process to exit.
	Kill(id string) error
	// Restart starts the node again with its current options and waits
	// until it serves HTTP (not until it is ready: a damaged node may
	// refuse to be).
	Restart(ctx context.Context, id string) error
	// Pause sends SIGSTOP; Resume sends SIGCONT.
	Pause(id string) error
	Resume(id string) error
	// SetClockOffset sets the --test-clock-offset used on the next start.
	SetClockOffset(id string, d time.Duration)
	// DataDir is the node's data directory.
	DataDir(id string) string
	// Damaged records that id's files were damaged: it may refuse to
	// serve from now on.
	Damaged(id string)
	// RemoveMember takes id out of the cluster's configuration (by asking
	// it to leave, or by removing it through another member) and stops it.
	RemoveMember(ctx context.Context, id string, leave bool) error
	// Rejoin wipes id's data directory, starts it empty and joins it to
	// the cluster with the CLI.
	Rejoin(ctx context.Context, id string) error
}

// Target chooses which nodes a process nemesis acts on.
type Target string

// Targets.
const (
	TargetOne      Target = "one"      // a random node
	TargetLeader   Target = "leader"   // the current leader
	TargetFollower Target = "follower" // a random non-leader
	TargetMinority Target = "minority" // a random minority
	TargetMajority Target = "majority" // a random majority (quorum lost)
	TargetAll      Target = "all"
)

// pick returns the target nodes.
func pick(ctx context.Context, c Cluster, t Target, rng *rand.Rand) ([]string, error) {
	ids := slices.Clone(c.IDs())
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	switch t {
	case TargetOne:
		return ids[:1], nil
	case TargetMinority:
		return ids[:max(1, len(ids)/2)], nil
	case TargetMajority:
		return ids[:len(ids)/2+1], nil
	case TargetAll:
		return ids, nil
	case TargetLeader, TargetFollower:
		leader, err := c.Leader(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding the leader: %w", err)
		}
		if t == TargetLeader {
			return []string{leader}, nil
		}
		if f := without(ids, leader); len(f) > 0 {
			return f[:1], nil
		}
		return nil, fmt.Errorf("%w: no follower", ErrBadConfig)
	}
	return nil, fmt.Errorf("%w: target %q", ErrBadConfig, t)
}

// Kill sends kill -9 to its targets on Start and restarts them on Stop.
type Kill struct {
	Cluster Cluster
	Target  Target
	killed  []string
}

// Name is "kill-" + the target.
func (k *Kill) Name() string { return "kill-" + string(k.Target) }

// Start kills the targets.
func (k *Kill) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	ids, err := pick(ctx, k.Cluster, k.Target, rng)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if err := k.Cluster.Kill(id); err != nil {
			return "", errors.Join(err, k.Stop(ctx))
		}
		k.killed = append(k.killed, id)
	}
	return "killed " + strings.Join(ids, ","), nil
}

// Stop restarts every killed node.
func (k *Kill) Stop(ctx context.Context) error {
	err := restartAll(ctx, k.Cluster, k.killed)
	k.killed = nil
	return err
}

func restartAll(ctx context.Context, c Cluster, ids []string) error {
	var errs []error
	for _, id := range ids {
		if err := c.Restart(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Pause stops its targets with SIGSTOP and resumes them with SIGCONT.
type Pause struct {
	Cluster Cluster
	Target  Target
	paused  []string
}

// Name is "pause-" + the target.
func (p *Pause) Name() string { return "pause-" + string(p.Target) }

// Start pauses the targets.
func (p *Pause) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	ids, err := pick(ctx, p.Cluster, p.Target, rng)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if err := p.Cluster.Pause(id); err != nil {
			return "", errors.Join(err, p.Stop(ctx))
		}
		p.paused = append(p.paused, id)
	}
	return "paused " + strings.Join(ids, ","), nil
}

// Stop resumes every paused node.
func (p *Pause) Stop(context.Context) error {
	var errs []error
	for _, id := range p.paused {
		errs = append(errs, p.Cluster.Resume(id))
	}
	p.paused = nil
	return errors.Join(errs...)
}

// ClockSkew restarts a node with its wall clock shifted by a random offset
// in [-Max, Max] and restarts it unshifted on Stop.
type ClockSkew struct {
	Cluster Cluster
	Target  Target
	Max     time.Duration
	skewed  []string
}

// Name is "clock-skew".
func (s *ClockSkew) Name() string { return "clock-skew" }

// Start shifts the targets' clocks.
func (s *ClockSkew) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	if s.Max <= 0 {
		return "", fmt.Errorf("%w: clock skew needs Max > 0", ErrBadConfig)
	}
	ids, err := pick(ctx, s.Cluster, s.Target, rng)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, id := range ids {
		d := time.Duration(rng.Int64N(int64(2*s.Max)+1)) - s.Max
		s.skewed = append(s.skewed, id)
		if err := s.restartWith(ctx, id, d); err != nil {
			return "", errors.Join(err, s.Stop(ctx))
		}
		parts = append(parts, fmt.Sprintf("%s %+v", id, d.Round(time.Millisecond)))
	}
	return "clock " + strings.Join(parts, ", "), nil
}

func (s *ClockSkew) restartWith(ctx context.Context, id string, d time.Duration) error {
	s.Cluster.SetClockOffset(id, d)
	if err := s.Cluster.Kill(id); err != nil {
		return err
	}
	return s.Cluster.Restart(ctx, id)
}

// Stop restarts the skewed nodes with no offset.
func (s *ClockSkew) Stop(ctx context.Context) error {
	var errs []error
	for _, id := range s.skewed {
		errs = append(errs, s.restartWith(ctx, id, 0))
	}
	s.skewed = nil
	return errors.Join(errs...)
}

// DiskFault kills one follower, damages its data files (truncates one or
// flips bytes), and restarts it. The node must detect the damage and
// recover from its peers or refuse to serve; a refusal is part of the
// detail, not an error. Stop starts it again and, if it still refuses,
// does what an operator would: wipes it and joins it again.
type DiskFault struct {
	Cluster Cluster
	Damage  Damage
	Flips   int    // bytes flipped per fault with FlipBytes; 1 when zero
	Prefix  string // damage only files under this relative path ("raft/")
	victim  string
}

// Name is "disk-" + the damage (+ "-" + the prefix's first segment).
func (d *DiskFault) Name() string {
	if p := strings.Trim(d.Prefix, "/"); p != "" {
		return "disk-" + string(d.Damage) + "-" + p
	}
	return "disk-" + string(d.Damage)
}

// Start damages a stopped follower and restarts it.
func (d *DiskFault) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	ids, err := pick(ctx, d.Cluster, TargetFollower, rng)
	if err != nil {
		return "", err
	}
	id := ids[0]
	if err := d.Cluster.Kill(id); err != nil {
		return "", err
	}
	d.victim = id
	what, err := CorruptMatching(d.Cluster.DataDir(id), d.Prefix, d.Damage, max(1, d.Flips), rng)
	if err != nil {
		return "", errors.Join(err, d.Stop(ctx))
	}
	d.Cluster.Damaged(id)
	detail := id + ": " + what
	if err := d.Cluster.Restart(ctx, id); err != nil {
		detail += "; restart refused: " + err.Error()
	}
	return detail, nil
}

// Stop makes sure the victim serves again, wiped and rejoined if needed.
func (d *DiskFault) Stop(ctx context.Context) error {
	if d.victim == "" {
		return nil
	}
	id := d.victim
	d.victim = ""
	if err := d.Cluster.Restart(ctx, id); err == nil {
		return nil
	}
	return d.Cluster.Rejoin(ctx, id)
}

// Member changes membership under load: Start removes a node from the
// cluster (it leaves, handing leadership over first, or is removed through
// another member) and stops it; Stop wipes it and joins it again as a new
// member under the same id and addresses.
type Member struct {
	Cluster Cluster
	Target  Target // TargetFollower when empty
	Leave   bool
	removed string
}

// Name is "member-leave" or "member-remove".
func (m *Member) Name() string {
	if m.Leave {
		return "member-leave"
	}
	return "member-remove"
}

// Start removes the target.
func (m *Member) Start(ctx context.Context, rng *rand.Rand) (string, error) {
	t := m.Target
	if t == "" {
		t = TargetFollower
	}
	ids, err := pick(ctx, m.Cluster, t, rng)
	if err != nil {
		return "", err
	}
	if err := m.Cluster.RemoveMember(ctx, ids[0], m.Leave); err != nil {
		return "", err
	}
	m.removed = ids[0]
	return "removed " + ids[0], nil
}

// Stop rejoins the removed node with empty state.
func (m *Member) Stop(ctx context.Context) error {
	if m.removed == "" {
		return nil
	}
	err := m.Cluster.Rejoin(ctx, m.removed)
	m.removed = ""
	return err
}
