package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRecorder records intervals.
type fakeRecorder struct {
	mu     sync.Mutex
	starts []string
	ended  []bool
}

func (r *fakeRecorder) FaultStart(n, d string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, n+": "+d)
	r.ended = append(r.ended, false)
	return len(r.starts) - 1
}

func (r *fakeRecorder) FaultEnd(h int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended[h] = true
}

// fakeCluster records calls.
type fakeCluster struct {
	ids     []string
	leader  string
	dir     string
	calls   []string
	offsets map[string]time.Duration
	failOn  string
}

func (c *fakeCluster) IDs() []string { return c.ids }
func (c *fakeCluster) Leader(context.Context) (string, error) {
	if c.leader == "" {
		return "", errors.New("no leader")
	}
	return c.leader, nil
}
func (c *fakeCluster) do(op, id string) error {
	c.calls = append(c.calls, op+" "+id)
	if c.failOn == op+" "+id {
		return fmt.Errorf("%s failed", op)
	}
	return nil
}
func (c *fakeCluster) Kill(id string) error                       { return c.do("kill", id) }
func (c *fakeCluster) Restart(_ context.Context, id string) error { return c.do("restart", id) }
func (c *fakeCluster) Pause(id string) error                      { return c.do("pause", id) }
func (c *fakeCluster) Resume(id string) error                     { return c.do("resume", id) }
func (c *fakeCluster) DataDir(id string) string                   { return filepath.Join(c.dir, id) }
func (c *fakeCluster) Damaged(id string)                          { c.do("damaged", id) }
func (c *fakeCluster) Rejoin(_ context.Context, id string) error  { return c.do("rejoin", id) }
func (c *fakeCluster) RemoveMember(_ context.Context, id string, leave bool) error {
	if leave {
		return c.do("leave", id)
	}
	return c.do("remove", id)
}
func (c *fakeCluster) SetClockOffset(id string, d time.Duration) {
	if c.offsets == nil {
		c.offsets = map[string]time.Duration{}
	}
	c.offsets[id] = d
	c.calls = append(c.calls, fmt.Sprintf("offset %s %v", id, d))
}

func newRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0))
}

func TestRunRecordsEveryIntervalAndStops(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1", "n2", "n3"}, leader: "n2"}
	rec := &fakeRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kill{Cluster: fc, Target: TargetLeader}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, k, Schedule{Quiet: time.Millisecond, Active: time.Hour}, newRand(t), rec) }()
	waitFor(t, 5*time.Second, "the first fault", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.starts) == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fc.calls, []string{"kill n2", "restart n2"}) || rec.starts[0] != "kill-leader: killed n2" || !rec.ended[0] {
		t.Fatalf("calls %v, intervals %v ended %v", fc.calls, rec.starts, rec.ended)
	}
}

func TestRunRecordsStartFailures(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1"}} // no leader
	rec := &fakeRecorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Run(ctx, &Pause{Cluster: fc, Target: TargetLeader}, Schedule{Quiet: 5 * time.Millisecond, Active: time.Millisecond}, newRand(t), rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.starts) == 0 || !strings.Contains(rec.starts[0], "start failed") || len(fc.calls) != 0 {
		t.Fatalf("intervals %v calls %v", rec.starts, fc.calls)
	}
}

func TestRunReturnsStopFailures(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1"}, failOn: "restart n1"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := Run(ctx, &Kill{Cluster: fc, Target: TargetOne}, Schedule{Quiet: time.Millisecond, Active: time.Millisecond}, newRand(t), &fakeRecorder{})
	if err == nil || !strings.Contains(err.Error(), "restart n1") {
		t.Fatalf("Run: %v, want the restart failure", err)
	}
}

func TestTargets(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1", "n2", "n3", "n4", "n5"}, leader: "n4"}
	rng := newRand(t)
	want := map[Target]int{TargetOne: 1, TargetMinority: 2, TargetMajority: 3, TargetAll: 5, TargetLeader: 1, TargetFollower: 1}
	for tg, n := range want {
		ids, err := pick(context.Background(), fc, tg, rng)
		if err != nil || len(ids) != n {
			t.Fatalf("%s: %v %v, want %d nodes", tg, ids, err, n)
		}
		if tg == TargetLeader && ids[0] != "n4" || tg == TargetFollower && ids[0] == "n4" {
			t.Fatalf("%s picked %v with leader n4", tg, ids)
		}
	}
	if _, err := pick(context.Background(), fc, "nope", rng); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("unknown target: %v", err)
	}
}

func TestPauseAndClockSkew(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1", "n2", "n3"}, leader: "n1"}
	ctx, rng := context.Background(), newRand(t)
	p := &Pause{Cluster: fc, Target: TargetLeader}
	if _, err := p.Start(ctx, rng); err != nil {
		t.Fatal(err)
	}
	p.Stop(ctx)
	s := &ClockSkew{Cluster: fc, Target: TargetFollower, Max: time.Minute}
	detail, err := s.Start(ctx, rng)
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for id := range fc.offsets {
		victim = id
	}
	if d := fc.offsets[victim]; d < -time.Minute || d > time.Minute {
		t.Fatalf("offset %v out of ±1m (%s)", d, detail)
	}
	s.Stop(ctx)
	want := []string{"pause n1", "resume n1", "kill " + victim, "restart " + victim, "kill " + victim, "restart " + victim}
	var got []string
	for _, c := range fc.calls {
		if !strings.HasPrefix(c, "offset") {
			got = append(got, c)
		}
	}
	if !slices.Equal(got, want) || fc.offsets[victim] != 0 {
		t.Fatalf("calls %v, want %v; final offset %v", fc.calls, want, fc.offsets[victim])
	}
	if _, err := (&ClockSkew{Cluster: fc}).Start(ctx, rng); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("zero Max: %v", err)
	}
}

func TestComposeAndOneOf(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1", "n2", "n3"}, leader: "n1"}
	ctx, rng := context.Background(), newRand(t)
	c := Compose(&Pause{Cluster: fc, Target: TargetLeader}, &Kill{Cluster: fc, Target: TargetLeader})
	if c.Name() != "pause-leader+kill-leader" {
		t.Fatalf("name %q", c.Name())
	}
	if _, err := c.Start(ctx, rng); err != nil {
		t.Fatal(err)
	}
	c.Stop(ctx)
	if want := []string{"pause n1", "kill n1", "restart n1", "resume n1"}; !slices.Equal(fc.calls, want) {
		t.Fatalf("calls %v, want %v", fc.calls, want)
	}
	fc.calls, fc.failOn = nil, "kill n1"
	if _, err := c.Start(ctx, rng); err == nil {
		t.Fatal("compose start with a failing part succeeded")
	}
	if want := []string{"pause n1", "kill n1", "resume n1"}; !slices.Equal(fc.calls, want) {
		t.Fatalf("after a failed start the started parts must be stopped: %v", fc.calls)
	}
	o := OneOf(&Pause{Cluster: fc, Target: TargetOne})
	o.Start(ctx, rng)
	if o.Name() != "pause-one" || o.Stop(ctx) != nil {
		t.Fatalf("one-of: %s", o.Name())
	}
}

func TestDiskFaultDamagesAFollowerAndRestartsIt(t *testing.T) {
	dir := t.TempDir()
	fc := &fakeCluster{ids: []string{"n1", "n2"}, leader: "n1", dir: dir}
	orig := []byte(strings.Repeat("cnv ledger data ", 64))
	os.MkdirAll(filepath.Join(dir, "n2", "raft"), 0o755)
	path := filepath.Join(dir, "n2", "raft", "raft.db")
	os.WriteFile(path, orig, 0o600)
	d := &DiskFault{Cluster: fc, Damage: FlipBytes, Flips: 3}
	detail, err := d.Start(context.Background(), newRand(t))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	diff := 0
	for i := range got {
		if got[i] != orig[i] {
			diff++
		}
	}
	if diff != 3 || !slices.Equal(fc.calls, []string{"kill n2", "damaged n2", "restart n2"}) {
		t.Fatalf("%s: %d bytes differ, calls %v", detail, diff, fc.calls)
	}
	d.Stop(context.Background())
	if len(fc.calls) != 4 || fc.calls[3] != "restart n2" {
		t.Fatalf("stop must restart the victim: %v", fc.calls)
	}
	fc.calls, fc.failOn = nil, "restart n2"
	if detail, err := d.Start(context.Background(), newRand(t)); err != nil || !strings.Contains(detail, "restart refused") {
		t.Fatalf("a refused restart: %q %v", detail, err)
	}
	d.Stop(context.Background())
	if want := []string{"kill n2", "damaged n2", "restart n2", "restart n2", "rejoin n2"}; !slices.Equal(fc.calls, want) {
		t.Fatalf("a node that still refuses is wiped and rejoined: %v, want %v", fc.calls, want)
	}
}

func TestCorruptPicksBySize(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.db"), make([]byte, 1<<20), 0o600)
	os.WriteFile(filepath.Join(dir, "a.key"), make([]byte, 100), 0o600)
	rng := newRand(t)
	big := 0
	for range 50 {
		detail, err := Corrupt(dir, FlipBytes, 1, rng)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(detail, "big.db") {
			big++
		}
	}
	if big < 45 {
		t.Fatalf("the 1 MiB file took %d of 50 faults against a 100-byte file", big)
	}
}

func TestCorruptTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	os.WriteFile(path, make([]byte, 4096), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600) // never picked
	detail, err := Corrupt(dir, Truncate, 0, newRand(t))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Size() >= 4096 || !strings.Contains(detail, "ledger.db") {
		t.Fatalf("%s: size %d", detail, info.Size())
	}
	if _, err := Corrupt(t.TempDir(), Truncate, 0, newRand(t)); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := CorruptMatching(dir, "raft/", Truncate, 0, newRand(t)); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("no file under raft/: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "raft"), 0o755)
	os.WriteFile(filepath.Join(dir, "raft", "raft.db"), make([]byte, 10), 0o600)
	if detail, err := CorruptMatching(dir, "raft/", Truncate, 0, newRand(t)); err != nil || !strings.Contains(detail, "raft/raft.db") {
		t.Fatalf("prefix raft/: %s %v", detail, err)
	}
	if _, err := Corrupt(dir, "melt", 0, newRand(t)); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("unknown damage: %v", err)
	}
}

func TestMemberRemovesAndRejoins(t *testing.T) {
	fc := &fakeCluster{ids: []string{"n1", "n2", "n3"}, leader: "n2"}
	ctx, rng := context.Background(), newRand(t)
	for _, leave := range []bool{false, true} {
		fc.calls = nil
		m := &Member{Cluster: fc, Leave: leave}
		if _, err := m.Start(ctx, rng); err != nil {
			t.Fatal(err)
		}
		m.Stop(ctx)
		m.Stop(ctx) // a second stop does nothing
		verb := map[bool]string{false: "remove", true: "leave"}[leave]
		if len(fc.calls) != 2 || !strings.HasPrefix(fc.calls[0], verb) || fc.calls[0] == verb+" n2" ||
			fc.calls[1] != "rejoin"+fc.calls[0][len(verb):] || m.Name() != "member-"+verb {
			t.Fatalf("%s: calls %v", m.Name(), fc.calls)
		}
	}
	fc.failOn, fc.calls = "remove n1", nil
	fc.ids = []string{"n1", "n2"}
	m := &Member{Cluster: fc}
	if _, err := m.Start(ctx, rng); err == nil || m.Stop(ctx) != nil || slices.Contains(fc.calls, "rejoin n1") {
		t.Fatalf("a failed removal must not rejoin: %v", fc.calls)
	}
}
