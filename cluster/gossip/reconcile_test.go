package gossip

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func srv(id string, s Suffrage) RaftServer {
	return RaftServer{ID: id, Addr: id + ":7000", Suffrage: s}
}

func mem(id string, st MemberState, applied uint64) Member {
	return Member{NodeID: id, Role: RoleServer, RaftAddr: id + ":7000", State: st, Applied: applied}
}

func edge(id string) Member {
	return Member{NodeID: id, Role: RoleEdge, State: StateAlive}
}

func voters(ids ...string) []RaftServer {
	out := make([]RaftServer, len(ids))
	for i, id := range ids {
		out[i] = srv(id, Voter)
	}
	return out
}

func alive(ids ...string) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = mem(id, StateAlive, 100)
	}
	return out
}

// round is one Reconcile call at t0+at with the given inputs.
type round struct {
	at      time.Duration
	servers []RaftServer // nil: same as the previous round
	members []Member
	want    []string // "kind id"
}

var testPolicy = Policy{MaxLag: 10, StabilizationTime: 10 * time.Second, DeadServerTimeout: 5 * time.Minute}

func runRounds(t *testing.T, leader string, rounds []round) {
	t.Helper()
	var st State
	var servers []RaftServer
	for i, r := range rounds {
		if r.servers != nil {
			servers = r.servers
		}
		cfg := RaftConfig{Servers: servers, LeaderID: leader, CommitIndex: 100}
		got := actionStrings(Reconcile(cfg, r.members, &st, t0.Add(r.at), testPolicy))
		if !slices.Equal(got, r.want) {
			t.Fatalf("round %d (t0+%v): actions %q, want %q", i, r.at, got, r.want)
		}
	}
}

func actionStrings(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, string(a.Kind)+" "+a.ID)
	}
	return out
}

func TestReconcile(t *testing.T) {
	dead := func(id string) Member { return mem(id, StateDead, 0) }
	left := func(id string) Member { return mem(id, StateLeft, 0) }
	suspect := func(id string) Member { return mem(id, StateSuspect, 100) }
	nv := func(id string, applied uint64) []Member {
		return append(alive("a", "b", "c"), mem(id, StateAlive, applied))
	}
	withNV := append(voters("a", "b", "c"), srv("d", Nonvoter))
	m := 5 * time.Minute
	cases := []struct {
		name   string
		leader string
		rounds []round
	}{
		{"healthy cluster does nothing", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: alive("a", "b", "c")},
			{at: time.Hour, members: alive("a", "b", "c")},
		}},
		{"live server member is added as nonvoter", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: alive("a", "b", "c", "d"), want: []string{"add_nonvoter d"}},
		}},
		{"edge members never enter raft", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b", "c"), edge("e"))},
			{at: time.Hour, members: append(alive("a", "b", "c"), edge("e"))},
		}},
		{"suspect or dead server member is not added", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b", "c"), suspect("d"), dead("e"))},
		}},
		{"member whose raft address a configured server uses is refused", "a", []round{
			{at: 0, servers: append(voters("a", "b"), RaftServer{ID: "old", Addr: "d:7000", Suffrage: Voter}),
				members: append(alive("a", "b"), mem("d", StateAlive, 100)), want: []string{"refuse d"}},
		}},
		{"caught-up nonvoter is promoted after stabilization", "a", []round{
			{at: 0, servers: withNV, members: nv("d", 95)},
			{at: 10*time.Second - 1, members: nv("d", 95)},
			{at: 10 * time.Second, members: nv("d", 95), want: []string{"promote d"}},
		}},
		{"nonvoter exactly MaxLag behind counts as caught up", "a", []round{
			{at: 0, servers: withNV, members: nv("d", 90)},
			{at: 10 * time.Second, members: nv("d", 90), want: []string{"promote d"}},
		}},
		{"lagging nonvoter is not promoted", "a", []round{
			{at: 0, servers: withNV, members: nv("d", 89)},
			{at: time.Hour, members: nv("d", 89)},
		}},
		{"lag or suspicion resets stabilization", "a", []round{
			{at: 0, servers: withNV, members: nv("d", 100)},
			{at: 5 * time.Second, members: append(alive("a", "b", "c"), suspect("d"))},
			{at: 6 * time.Second, members: nv("d", 100)},
			{at: 7 * time.Second, members: nv("d", 50)},
			{at: 8 * time.Second, members: nv("d", 100)},
			{at: 17 * time.Second, members: nv("d", 100)},
			{at: 18 * time.Second, members: nv("d", 100), want: []string{"promote d"}},
		}},
		{"dead voter is removed after the timeout", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b"), dead("c"))},
			{at: m - 1, members: append(alive("a", "b"), dead("c"))},
			{at: m, members: append(alive("a", "b"), dead("c")), want: []string{"remove c"}},
		}},
		{"flapping dead-alive-dead restarts the timer", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b"), dead("c"))},
			{at: 4 * time.Minute, members: alive("a", "b", "c")},
			{at: 4*time.Minute + 30*time.Second, members: append(alive("a", "b"), dead("c"))},
			{at: m + time.Minute, members: append(alive("a", "b"), dead("c"))},
			{at: 9*time.Minute + 30*time.Second, members: append(alive("a", "b"), dead("c")), want: []string{"remove c"}},
		}},
		{"suspect voter is never removed", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b"), suspect("c"))},
			{at: time.Hour, members: append(alive("a", "b"), suspect("c"))},
		}},
		{"left voter is removed after the timeout", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b"), left("c"))},
			{at: m, members: append(alive("a", "b"), left("c")), want: []string{"remove c"}},
		}},
		{"server unknown to gossip counts as dead", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: alive("a", "b")},
			{at: m, members: alive("a", "b"), want: []string{"remove c"}},
		}},
		{"never remove a majority: 2 of 3 voters dead", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a"), dead("b"), dead("c"))},
			{at: time.Hour, members: append(alive("a"), dead("b"), dead("c"))},
		}},
		{"never remove a majority: 2 of 4 voters dead", "a", []round{
			{at: 0, servers: voters("a", "b", "c", "d"), members: append(alive("a", "b"), dead("c"), dead("d"))},
			{at: time.Hour, members: append(alive("a", "b"), dead("c"), dead("d"))},
		}},
		{"2 of 5 voters dead: removed one per round while quorum holds", "a", []round{
			{at: 0, servers: voters("a", "b", "c", "d", "e"), members: append(alive("a", "b", "c"), dead("d"), dead("e"))},
			{at: m, members: append(alive("a", "b", "c"), dead("d"), dead("e")), want: []string{"remove d"}},
			{at: m + time.Second, servers: voters("a", "b", "c", "e"), members: append(alive("a", "b", "c"), dead("d"), dead("e")), want: []string{"remove e"}},
			{at: m + 2*time.Second, servers: voters("a", "b", "c"), members: append(alive("a", "b", "c"), dead("d"), dead("e"))},
		}},
		{"dead nonvoters go before dead voters", "a", []round{
			{at: 0, servers: append(voters("a", "b", "c", "d", "e"), srv("f", Nonvoter)),
				members: append(alive("a", "b", "c", "d"), dead("e"), dead("f"))},
			{at: m, members: append(alive("a", "b", "c", "d"), dead("e"), dead("f")), want: []string{"remove f"}},
		}},
		{"dead nonvoter is removed even without quorum", "a", []round{
			{at: 0, servers: append(voters("a", "b", "c"), srv("d", Nonvoter)), members: append(alive("a"), dead("b"), dead("c"), dead("d"))},
			{at: m, members: append(alive("a"), dead("b"), dead("c"), dead("d")), want: []string{"remove d"}},
		}},
		{"never the leader, which always counts as alive", "a", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("b"), dead("a"), dead("c"))},
			{at: m, members: append(alive("b"), dead("a"), dead("c")), want: []string{"remove c"}},
			{at: time.Hour, servers: voters("a", "b"), members: append(alive("b"), dead("a"))},
		}},
		{"no leader in the configuration: no actions", "x", []round{
			{at: 0, servers: voters("a", "b", "c"), members: append(alive("a", "b", "d"), dead("c"))},
			{at: time.Hour, members: append(alive("a", "b", "d"), dead("c"))},
		}},
		{"add, promote and remove in one round", "a", []round{
			{at: 0, servers: append(voters("a", "b", "c"), srv("d", Nonvoter)),
				members: append(alive("a", "b", "d", "e"), dead("c")), want: []string{"add_nonvoter e"}},
			{at: m, members: append(alive("a", "b", "d", "e"), dead("c")),
				want: []string{"add_nonvoter e", "promote d", "remove c"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runRounds(t, tc.leader, tc.rounds) })
	}
}

func TestReconcileTimersSurviveLeadershipLossAndForgetRemovedServers(t *testing.T) {
	var st State
	cfg := RaftConfig{Servers: voters("a", "b", "c"), CommitIndex: 100}
	members := append(alive("a", "b"), mem("c", StateDead, 0))
	if acts := Reconcile(cfg, members, &st, t0, testPolicy); acts != nil {
		t.Fatalf("leaderless round proposed %v", acts)
	}
	if got := st.Servers["c"].DeadSince; !got.Equal(t0) {
		t.Fatalf("dead timer %v, want %v", got, t0)
	}
	cfg.LeaderID = "a"
	if got := actionStrings(Reconcile(cfg, members, &st, t0.Add(5*time.Minute), testPolicy)); !slices.Equal(got, []string{"remove c"}) {
		t.Fatalf("actions %q, want remove c", got)
	}
	cfg.Servers = voters("a", "b")
	Reconcile(cfg, members, &st, t0.Add(6*time.Minute), testPolicy)
	if _, ok := st.Servers["c"]; ok {
		t.Fatal("state kept a server no longer in the configuration")
	}
}

func TestReconcileIsDeterministic(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	servers := append(voters("a", "b", "c", "d", "e"), srv("f", Nonvoter), srv("g", Nonvoter))
	members := append(alive("a", "b", "c", "f", "h", "i"), mem("d", StateDead, 0), mem("g", StateDead, 0), edge("z"))
	var want []Action
	for i := range 50 {
		s, m := slices.Clone(servers), slices.Clone(members)
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		rng.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
		var st State
		cfg := RaftConfig{Servers: s, LeaderID: "a", CommitIndex: 100}
		Reconcile(cfg, m, &st, t0, testPolicy)
		got := Reconcile(cfg, m, &st, t0.Add(time.Hour), testPolicy)
		if i == 0 {
			want = got
			if len(want) != 4 { // add h, add i, promote f, remove g
				t.Fatalf("actions %v", want)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("shuffled input %d: %v, want %v", i, got, want)
		}
	}
}

// Under steady writes a follower's gossiped applied index is always a
// little old. Compared with the commit index of ReportDelay ago it is
// caught up; compared with the current one it never would be.
func TestReconcileJudgesLagAgainstDelayedCommit(t *testing.T) {
	const rate = 1000 // entries per second
	run := func(delay time.Duration) []string {
		p := testPolicy
		p.ReportDelay = delay
		var st State
		var acts []Action
		for sec := range 30 {
			now := t0.Add(time.Duration(sec) * time.Second)
			commit := uint64(10_000 + rate*sec)
			stale := commit - rate*3/2 // reported 1.5s ago
			members := append(alive("a", "b", "c"), mem("d", StateAlive, stale))
			cfg := RaftConfig{Servers: append(voters("a", "b", "c"), srv("d", Nonvoter)), LeaderID: "a", CommitIndex: commit}
			acts = append(acts, Reconcile(cfg, members, &st, now, p)...)
		}
		if len(st.Commits) > 17 {
			t.Fatalf("kept %d commit samples", len(st.Commits))
		}
		return actionStrings(acts)
	}
	if got := run(3 * time.Second); len(got) == 0 || got[0] != "promote d" {
		t.Fatalf("with a report delay: %q, want promote d", got)
	}
	if got := run(0); len(got) != 0 {
		t.Fatalf("without a report delay: %q, want nothing", got)
	}
}

func TestCommitSamplesAreBoundedAndSurviveClockSteps(t *testing.T) {
	var st State
	now := t0
	for i := range 10_000 {
		now = now.Add(time.Millisecond)
		st.sampleCommit(now, uint64(i), 3*time.Second)
	}
	if n := len(st.Commits); n > 17 {
		t.Fatalf("%d samples kept", n)
	}
	if ref := st.sampleCommit(now, 10_000, 3*time.Second); ref > 10_000-3000+200 || ref < 10_000-3000-200 {
		t.Fatalf("reference %d, want about the index of 3s ago (7000)", ref)
	}
	if ref := st.sampleCommit(t0, 5, 3*time.Second); ref != 5 || len(st.Commits) != 1 {
		t.Fatalf("after the clock went back: reference %d, %d samples", ref, len(st.Commits))
	}
}

// keyed gives server and member d a key.
func keyed(s RaftServer, key string) RaftServer { s.KeyID = key; return s }

func keyedMem(m Member, key string) Member { m.KeyID = key; return m }

// A removed id or key is refused every round, however long it stays
// alive and whatever proof it has; a member's id gossiped with another
// address or key is refused and counts neither as that member alive
// (an impostor cannot keep it) nor dead (nor get it removed); a member
// advertising a new address under its own key is refused as moved; a
// claimed key of another member is refused; a tombstoned non-voter still
// in the configuration (its removal not yet completed) is not promoted.
func TestReconcileRefusals(t *testing.T) {
	const k1, k2 = "k_1111111111111111", "k_2222222222222222"
	var st State
	run := func(at time.Duration, cfg RaftConfig, members []Member) []Action {
		if cfg.LeaderID == "" {
			cfg.LeaderID = "a"
		}
		cfg.CommitIndex = 100
		return Reconcile(cfg, members, &st, t0.Add(at), testPolicy)
	}
	refusals := func(acts []Action) []string {
		var out []string
		for _, a := range acts {
			if a.Kind != ActionRefuse {
				out = append(out, string(a.Kind)+" "+a.ID)
				continue
			}
			out = append(out, a.Refusal+" "+a.ID)
		}
		return out
	}
	removed := RaftConfig{Servers: voters("a", "b", "c"), RemovedIDs: map[string]uint64{"d": 40}, RemovedKeys: map[string]uint64{k1: 40}}
	for _, at := range []time.Duration{0, time.Minute, time.Hour} {
		got := refusals(run(at, removed, append(alive("a", "b", "c", "d"), keyedMem(mem("e", StateAlive, 100), k1))))
		if !slices.Equal(got, []string{"removed d", "removed e"}) {
			t.Fatalf("at %v: %v", at, got)
		}
	}
	acts := run(0, removed, append(alive("a", "b", "c"), mem("d", StateAlive, 100)))
	if len(acts) != 1 || !strings.Contains(acts[0].Reason, "raft index 40") || !strings.Contains(acts[0].Reason, "cluster join") {
		t.Fatalf("the refusal says what to do: %+v", acts)
	}

	// An impostor gossiping member c's id from another address, forever:
	// refused, and c is neither kept alive (no promotion) nor removed.
	st = State{}
	impostor := keyedMem(Member{NodeID: "c", Role: RoleServer, RaftAddr: "evil:7000", State: StateAlive, Applied: 100}, k2)
	cfg := RaftConfig{Servers: append(voters("a", "b"), keyed(srv("c", Nonvoter), k1))}
	for _, at := range []time.Duration{0, time.Minute, time.Hour} {
		got := refusals(run(at, cfg, append(alive("a", "b"), impostor)))
		if !slices.Equal(got, []string{"duplicate_id c"}) {
			t.Fatalf("impostor at %v: %v", at, got)
		}
	}
	// The same key at a new address is the member moved.
	st = State{}
	moved := impostor
	moved.KeyID = k1
	acts = run(0, cfg, append(alive("a", "b"), moved))
	if got := refusals(acts); !slices.Equal(got, []string{"moved c"}) || !strings.Contains(acts[0].Reason, "cluster move-member c --raft-addr evil:7000") {
		t.Fatalf("moved: %v %+v", got, acts)
	}
	// Its own address with another key than its record's.
	st = State{}
	rekeyed := keyedMem(mem("c", StateAlive, 100), k2)
	if got := refusals(run(0, cfg, append(alive("a", "b"), rekeyed))); !slices.Equal(got, []string{"duplicate_id c"}) {
		t.Fatalf("new key at the same address: %v", got)
	}
	// A new server claiming member c's key.
	st = State{}
	if got := refusals(run(0, cfg, append(alive("a", "b"), keyedMem(mem("c", StateAlive, 100), k1), keyedMem(mem("z", StateAlive, 100), k1)))); !slices.Equal(got, []string{"duplicate_key z"}) {
		t.Fatalf("claimed key: %v", got)
	}
	// Matching gossip without keys still counts (older metadata).
	st = State{}
	run(0, cfg, alive("a", "b", "c"))
	if got := refusals(run(time.Minute, cfg, alive("a", "b", "c"))); !slices.Equal(got, []string{"promote c"}) {
		t.Fatalf("keyless member: %v", got)
	}
	// A tombstoned non-voter still configured is not promoted.
	st = State{}
	cfg.RemovedIDs = map[string]uint64{"c": 9}
	run(0, cfg, alive("a", "b", "c"))
	if got := refusals(run(time.Minute, cfg, alive("a", "b", "c"))); len(got) != 0 {
		t.Fatalf("tombstoned nonvoter: %v", got)
	}
}
