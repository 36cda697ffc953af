package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/fsm"
)

// nodeMetrics are what a node reports about itself: Raft's state, the
// ledger, committed decisions, the write path's latencies, gossip and
// damage. With no Registerer they are kept but never reported.
type nodeMetrics struct {
	invocations   *prometheus.CounterVec
	commitLatency prometheus.Histogram
	applyDuration prometheus.Histogram
	damage        *prometheus.CounterVec
	refusedRPCs   *prometheus.CounterVec
	// autopilotRefusals counts, per round, the servers autopilot refused.
	autopilotRefusals *prometheus.CounterVec
}

// latencyBuckets span a loopback commit (sub-millisecond) to a stalled one.
var latencyBuckets = prometheus.ExponentialBuckets(0.0002, 2, 16) // 0.2 ms … 6.5 s

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cnv_invocations_total",
			Help: "Invocations decided in entries this node applied, by decision (allow, deny, require_approval) and kind (direct, delegated, governance).",
		}, []string{"decision", "kind"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cnv_commit_latency_seconds", Buckets: latencyBuckets,
			Help: "Time from proposing a group of commands on the leader to their committed results.",
		}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cnv_apply_duration_seconds", Buckets: latencyBuckets,
			Help: "Time the state machine took to apply one batch of Raft entries (one bbolt transaction).",
		}),
		damage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cnv_damage_detected_total",
			Help: "Damage this node detected in its own data or replication, by what (state_file, raft_log, divergence, forged_entry).",
		}, []string{"what"}),
		refusedRPCs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cnv_raft_rpcs_refused_total",
			Help: "Raft RPCs refused before Raft saw them (terms out of range, forged or malformed entries, hand-overs not from the leader), by RPC.",
		}, []string{"rpc"}),
		autopilotRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cnv_autopilot_refusals_total",
			Help: "Servers the leader's autopilot refused to add, once per round (a second) each, by refusal (removed, duplicate_id, duplicate_key, duplicate_addr, moved, no_proof).",
		}, []string{"refusal"}),
	}
	m.damage.WithLabelValues("state_file") // exported at 0 before the first detection
	for _, r := range []string{gossip.RefusedRemoved, gossip.RefusedDuplicateID, gossip.RefusedDuplicateKey,
		gossip.RefusedDuplicateAddr, gossip.RefusedMoved, refusalNoProof} {
		m.autopilotRefusals.WithLabelValues(r)
	}
	return m
}

// register reports the node's metrics through r (nil: nowhere).
func (n *Node) registerMetrics(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	m := n.metrics
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{m.invocations, m.commitLatency, m.applyDuration, m.damage, m.refusedRPCs, m.autopilotRefusals,
		gauge("cnv_raft_is_leader", "1 while this node leads.", func() float64 { return b2f(n.IsLeader()) }),
		gauge("cnv_raft_term", "Current Raft term.", func() float64 { return float64(n.raft.CurrentTerm()) }),
		gauge("cnv_raft_commit_index", "Raft commit index.", func() float64 { return float64(n.raft.CommitIndex()) }),
		gauge("cnv_raft_applied_index", "Index applied to the local state.", func() float64 { return float64(n.applied.current()) }),
		gauge("cnv_ledger_size", "Events in the local ledger.", func() float64 { return float64(n.store.Head().Size) }),
		gauge("cnv_ledger_last_event_age_seconds", "Seconds since the committed time of the ledger's last event.",
			func() float64 { return n.sinceNanos(n.store.Head().LastTime) }),
		gauge("cnv_raft_voters", "Voters in the Raft configuration this node knows.", func() float64 { return float64(n.voters()) }),
	}
	if n.gossip != nil {
		for _, st := range []gossip.MemberState{gossip.StateAlive, gossip.StateSuspect, gossip.StateDead, gossip.StateLeft} {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "cnv_gossip_members", Help: "Gossip members by state.", ConstLabels: prometheus.Labels{"state": string(st)},
			}, func() float64 { return float64(n.gossipMembers(st)) }))
		}
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (n *Node) sinceNanos(t int64) float64 {
	if t == 0 {
		return 0
	}
	return n.cfg.Clock.Now().Sub(time.Unix(0, t)).Seconds()
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	v := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			v++
		}
	}
	return v
}

func (n *Node) gossipMembers(st gossip.MemberState) int {
	c := 0
	for _, m := range n.gossip.Members() {
		if m.State == st {
			c++
		}
	}
	return c
}

// countApplied counts the invocations of applied entries by decision and
// kind.
func (m *nodeMetrics) countApplied(logs []*raft.Log, out []interface{}) {
	for i, r := range out {
		results, ok := r.([]fsm.Result)
		if !ok || logs[i].Type != raft.LogCommand {
			continue
		}
		for j := range results {
			res := &results[j]
			if res.Err != nil || res.Capability.Path == "" || res.Decision == "" || res.Duplicate {
				continue // not a decided invocation (node records, leases, refusals, retries)
			}
			m.invocations.WithLabelValues(string(res.Decision), invocationKind(res)).Inc()
		}
	}
}

func invocationKind(res *fsm.Result) string {
	switch {
	case fsm.IsBuiltin(res.Capability.Path):
		return "governance"
	case len(res.Chain) > 0:
		return "delegated"
	}
	return "direct"
}
