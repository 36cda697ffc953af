package runner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cnv-project/cnv/jepsen/harness"
	"github.com/cnv-project/cnv/jepsen/nemesis"
	"github.com/cnv-project/cnv/jepsen/workload"
)

// Scenario is a workload under a nemesis.
type Scenario struct {
	Name     string
	Doc      string
	Nemesis  func(c *harness.Cluster) nemesis.Nemesis // nil: no faults
	Schedule nemesis.Schedule
	Mix      workload.Mix
}

// Workload mixes.
var (
	defaultMix    = workload.Mix{Append: 30, Read: 15, FullRead: 2, Invoke: 40, LinkRead: 10}
	revocationMix = workload.Mix{Append: 10, Read: 5, FullRead: 1, Invoke: 50, LinkRead: 15, Revoke: 2}
	defaultSched  = nemesis.Schedule{Quiet: 3 * time.Second, Active: 5 * time.Second}
	diskSched     = nemesis.Schedule{Quiet: 4 * time.Second, Active: 6 * time.Second}
)

func leaderOf(c *harness.Cluster) nemesis.LeaderFunc { return c.Leader }

func partition(kind nemesis.PartitionKind) func(*harness.Cluster) nemesis.Nemesis {
	return func(c *harness.Cluster) nemesis.Nemesis {
		return &nemesis.Partition{Mesh: c.Mesh, Kind: kind, Leader: leaderOf(c)}
	}
}

func links(f nemesis.Fault, pct int) func(*harness.Cluster) nemesis.Nemesis {
	return func(c *harness.Cluster) nemesis.Nemesis {
		return &nemesis.LinkFaults{Mesh: c.Mesh, Fault: f, Percent: pct}
	}
}

func kill(t nemesis.Target) func(*harness.Cluster) nemesis.Nemesis {
	return func(c *harness.Cluster) nemesis.Nemesis { return &nemesis.Kill{Cluster: c, Target: t} }
}

func pause(t nemesis.Target) func(*harness.Cluster) nemesis.Nemesis {
	return func(c *harness.Cluster) nemesis.Nemesis { return &nemesis.Pause{Cluster: c, Target: t} }
}

func disk(d nemesis.Damage, prefix string) func(*harness.Cluster) nemesis.Nemesis {
	return func(c *harness.Cluster) nemesis.Nemesis {
		return &nemesis.DiskFault{Cluster: c, Damage: d, Flips: 8, Prefix: prefix}
	}
}

func skew(c *harness.Cluster) nemesis.Nemesis {
	return &nemesis.ClockSkew{Cluster: c, Target: nemesis.TargetOne, Max: 30 * time.Second}
}

func mixed(c *harness.Cluster) nemesis.Nemesis {
	return nemesis.OneOf(
		partition(nemesis.MajorityMinorityKind)(c), partition(nemesis.IsolateLeaderKind)(c),
		partition(nemesis.BridgeKind)(c), partition(nemesis.OneWayLeaderKind)(c),
		kill(nemesis.TargetLeader)(c), kill(nemesis.TargetOne)(c), pause(nemesis.TargetLeader)(c),
		links(nemesis.Fault{Mode: nemesis.Delay, Delay: 50 * time.Millisecond, Jitter: 40 * time.Millisecond}, 100)(c),
		links(nemesis.Fault{Mode: nemesis.Reset}, 50)(c), skew(c),
	)
}

func member(c *harness.Cluster) nemesis.Nemesis {
	return nemesis.OneOf(&nemesis.Member{Cluster: c}, &nemesis.Member{Cluster: c, Leave: true},
		&nemesis.Member{Cluster: c, Target: nemesis.TargetLeader, Leave: true})
}

func revocationRace(c *harness.Cluster) nemesis.Nemesis {
	return nemesis.OneOf(pause(nemesis.TargetLeader)(c), partition(nemesis.IsolateLeaderKind)(c),
		partition(nemesis.OneWayLeaderKind)(c), kill(nemesis.TargetLeader)(c))
}

var scenarios = []Scenario{
	{Name: "none", Doc: "no faults: the baseline"},
	{Name: "partition-majority", Doc: "a random minority cut off", Nemesis: partition(nemesis.MajorityMinorityKind)},
	{Name: "partition-leader", Doc: "the leader cut off", Nemesis: partition(nemesis.IsolateLeaderKind)},
	{Name: "partition-bridge", Doc: "two halves joined by one node", Nemesis: partition(nemesis.BridgeKind)},
	{Name: "partition-oneway", Doc: "a minority cannot send to the majority", Nemesis: partition(nemesis.OneWayKind)},
	{Name: "partition-oneway-leader", Doc: "the leader cannot send but still receives", Nemesis: partition(nemesis.OneWayLeaderKind)},
	{Name: "kill-one", Doc: "kill -9 a random node, restart it", Nemesis: kill(nemesis.TargetOne)},
	{Name: "kill-leader", Doc: "kill -9 the leader, restart it", Nemesis: kill(nemesis.TargetLeader)},
	{Name: "kill-majority", Doc: "kill -9 a majority, restart them", Nemesis: kill(nemesis.TargetMajority)},
	{Name: "pause-leader", Doc: "SIGSTOP the leader, SIGCONT it", Nemesis: pause(nemesis.TargetLeader)},
	{Name: "pause-one", Doc: "SIGSTOP a random node", Nemesis: pause(nemesis.TargetOne)},
	{Name: "links-delay", Doc: "50ms±40ms on every link",
		Nemesis: links(nemesis.Fault{Mode: nemesis.Delay, Delay: 50 * time.Millisecond, Jitter: 40 * time.Millisecond}, 100)},
	{Name: "links-drop", Doc: "drop 20% of connections and chunks on half the links",
		Nemesis: links(nemesis.Fault{Mode: nemesis.Drop, Percent: 20}, 50)},
	{Name: "links-reset", Doc: "reset every connection on half the links", Nemesis: links(nemesis.Fault{Mode: nemesis.Reset}, 50)},
	{Name: "clock-skew", Doc: "restart a node with its clock shifted by up to ±30s", Nemesis: skew},
	{Name: "disk-flip", Doc: "flip 8 bytes in a stopped follower's files, restart it", Nemesis: disk(nemesis.FlipBytes, ""),
		Schedule: diskSched},
	{Name: "disk-truncate", Doc: "truncate a stopped follower's file, restart it", Nemesis: disk(nemesis.Truncate, ""),
		Schedule: diskSched},
	{Name: "disk-flip-raft", Doc: "flip 8 bytes in a stopped follower's Raft log or snapshots, restart it",
		Nemesis: disk(nemesis.FlipBytes, "raft/"), Schedule: diskSched},
	{Name: "disk-truncate-raft", Doc: "truncate a stopped follower's Raft log or a snapshot, restart it",
		Nemesis: disk(nemesis.Truncate, "raft/"), Schedule: diskSched},
	{Name: "snapshot-install", Doc: "a follower cut off long enough for the leader to compact past it",
		Nemesis: partition(nemesis.IsolateFollowerKind), Schedule: nemesis.Schedule{Quiet: 2 * time.Second, Active: 20 * time.Second}},
	{Name: "membership", Doc: "a follower or the leader leaves or is removed, then rejoins empty, under load",
		Nemesis: member, Schedule: nemesis.Schedule{Quiet: 3 * time.Second, Active: 4 * time.Second}},
	{Name: "revocation", Doc: "revocations racing invocations while the leader is paused, cut off or killed",
		Nemesis: revocationRace, Mix: revocationMix},
	{Name: "mixed", Doc: "one random fault of many at a time", Nemesis: mixed},
}

// Scenarios lists every scenario, sorted by name.
func Scenarios() []Scenario {
	out := make([]Scenario, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.withDefaults()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s.withDefaults(), true
		}
	}
	return Scenario{}, false
}

func (s Scenario) withDefaults() Scenario {
	if s.Schedule == (nemesis.Schedule{}) {
		s.Schedule = defaultSched
	}
	if s.Mix == (workload.Mix{}) {
		s.Mix = defaultMix
	}
	return s
}

// Select resolves "all", a name, or a comma-separated list of names.
func Select(spec string) ([]Scenario, error) {
	if spec == "all" {
		return Scenarios(), nil
	}
	var out []Scenario
	for _, name := range strings.Split(spec, ",") {
		s, ok := Lookup(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q (see --list)", name)
		}
		out = append(out, s)
	}
	return out, nil
}
