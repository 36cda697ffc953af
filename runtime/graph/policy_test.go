package graph

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

func deny(name string) PathPolicy { return PathPolicy{DenyThrough: capPath(name)} }

func require(z, y string) PathPolicy {
	return PathPolicy{RequireThrough: capPath(z), To: capPath(y)}
}

// pathQuery runs the name-level path query.
func pathQuery(t *testing.T, s *Snapshot, from, to string) PathResult {
	t.Helper()
	res, err := Execute(s, Request{Op: OpPath, From: capPath(from), To: capPath(to)})
	if err != nil {
		t.Fatal(err)
	}
	return res.(PathResult)
}

func wantPolicyPath(t *testing.T, res PathResult, want string, by *PathPolicy) {
	t.Helper()
	got := strings.Join(res.Path, ",")
	got = strings.ReplaceAll(got, "cap.", "")
	if got != want || (res.Path == nil) != (want == "") {
		t.Fatalf("path %q, want %q", got, want)
	}
	if (by == nil) != (res.ExcludedBy == nil) || by != nil && *by != *res.ExcludedBy {
		t.Fatalf("excluded by %v, want %v", res.ExcludedBy, by)
	}
}

func TestDenyThroughOnlyPath(t *testing.T) {
	p := deny("x")
	s := newBuild(t, "a", "x", "c").edges(Produces, "a", "x", "c").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "c"), "", &p)
	if !s.Reachable(at(t, s, "a"), at(t, s, "c")) {
		t.Fatal("reachability is structural and ignores policies")
	}
}

func TestDenyThroughTakesLongerPath(t *testing.T) {
	p := deny("x")
	s := newBuild(t, "a", "x", "c", "y", "z").edges(Produces, "a", "x", "c").
		edges(Produces, "a", "y", "z", "c").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "c"), "a,y,z,c", &p)
}

func TestDenyThroughEndpoints(t *testing.T) {
	p := deny("a")
	s := newBuild(t, "a", "b").edges(Produces, "a", "b").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "b"), "", &p)
	wantPolicyPath(t, pathQuery(t, s, "a", "a"), "", &p)
	wantPolicyPath(t, pathQuery(t, s, "b", "b"), "b", nil)
}

func TestDenyThroughPattern(t *testing.T) {
	b := newBuild(t, "a", "c")
	for _, p := range []string{"admin.wipe", "admin.users.wipe"} {
		if _, err := b.r.AddCapability(Node{Path: capability.Path(p)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range [][2]string{{"cap.a", "admin.wipe"}, {"admin.wipe", "cap.c"}} {
		from, _ := b.r.Resolve(e[0])
		to, _ := b.r.Resolve(e[1])
		if _, err := b.r.AddEdge(from, to, Produces); err != nil {
			t.Fatal(err)
		}
	}
	p := PathPolicy{DenyThrough: "admin.**"}
	s := b.policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "c"), "", &p)
}

func TestRequireThrough(t *testing.T) {
	p := require("approve", "run")
	s := newBuild(t, "plan", "approve", "run").edges(Produces, "plan", "run").
		edges(Produces, "plan", "approve", "run").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "plan", "run"), "plan,approve,run", &p)
	wantPolicyPath(t, pathQuery(t, s, "approve", "run"), "approve,run", nil)
	// A path starting at the guarded capability does not reach it.
	wantPolicyPath(t, pathQuery(t, s, "run", "run"), "run", nil)
}

func TestRequireThroughNoRoute(t *testing.T) {
	p := require("approve", "run")
	s := newBuild(t, "plan", "approve", "run").edges(Produces, "plan", "run").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "plan", "run"), "", &p)
}

// A path that passes the guarded node in the middle is held to the policy
// too.
func TestRequireThroughMidPath(t *testing.T) {
	p := require("approve", "run")
	s := newBuild(t, "plan", "approve", "run", "report", "zalt").edges(Produces, "plan", "run", "report").
		edges(Produces, "plan", "zalt", "report").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "plan", "report"), "plan,zalt,report", &p)
}

// The deny-avoiding shortest path violates the require policy, and an
// equally short allowed path exists: the search must find that one.
func TestRequireThroughEqualLengthAlternative(t *testing.T) {
	p := require("z", "y")
	s := newBuild(t, "a", "b", "y", "z", "t").edges(Produces, "a", "b", "y", "t").
		edges(Produces, "a", "z", "y").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "t"), "a,z,y,t", &p)
}

// Only a longer detour through Z satisfies the policy, and the BFS over
// states would need to revisit a node; the result stays a simple path.
func TestRequireThroughDetour(t *testing.T) {
	p := require("z", "y")
	s := newBuild(t, "a", "m", "y", "z", "n", "t").edges(Produces, "a", "m", "y", "t").
		edges(Produces, "m", "z", "n", "y").policy(p).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "t"), "a,m,z,n,y,t", &p)
}

func TestPoliciesReportLowestIndex(t *testing.T) {
	p0, p1 := deny("x"), require("z", "c")
	s := newBuild(t, "a", "x", "c", "z").edges(Produces, "a", "x", "c").policy(p0).policy(p1).snap()
	wantPolicyPath(t, pathQuery(t, s, "a", "c"), "", &p0)
}

func TestPathsQueryReportsExclusions(t *testing.T) {
	p := deny("x")
	s := newBuild(t, "a", "x", "y", "c").edges(Produces, "a", "x", "c").edges(Produces, "a", "y", "c").policy(p).snap()
	res, err := Execute(s, Request{Op: OpPaths, From: "cap.a", To: "cap.c"})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.(PathsResult)
	if len(pr.Paths) != 1 || strings.Join(pr.Paths[0], ",") != "cap.a,cap.y,cap.c" {
		t.Fatalf("allowed paths %v", pr.Paths)
	}
	if len(pr.Excluded) != 1 || pr.Excluded[0].Policy != p ||
		!slices.Equal(pr.Excluded[0].Path, []string{"cap.a", "cap.x", "cap.c"}) {
		t.Fatalf("excluded %+v", pr.Excluded)
	}
}

func TestComposeHonoursPolicies(t *testing.T) {
	b := newBuild(t)
	b.typed("fast", "In", "Mid")
	b.typed("slow", "In", "Mid")
	b.typed("slow2", "Mid", "Mid")
	b.typed("finish", "Mid", "Out")
	b.edges(Produces, "fast", "finish").edges(Produces, "slow", "slow2", "finish")
	p := deny("fast")
	s := b.policy(p).snap()
	res, err := Execute(s, Request{Op: OpCompose, FromType: refSchema("In"), ToType: refSchema("Out")})
	if err != nil {
		t.Fatal(err)
	}
	wantPolicyPath(t, res.(PathResult), "slow,slow2,finish", &p)

	q := require("slow2", "finish")
	s = b.policy(q).snap()
	res, _ = Execute(s, Request{Op: OpCompose, FromType: refSchema("In"), ToType: refSchema("Out")})
	wantPolicyPath(t, res.(PathResult), "slow,slow2,finish", &p)
}

func TestAddPolicyValidation(t *testing.T) {
	b := newBuild(t, "a", "b")
	for _, p := range []PathPolicy{
		{},
		{DenyThrough: "cap.a", To: "cap.b"},
		{RequireThrough: "cap.a"},
		{To: "cap.b"},
		{DenyThrough: "not a path"},
		{DenyThrough: "cap.a@"},
	} {
		wantErr(t, b.r.AddPolicy(p), ErrInvalidPolicy)
	}
	wantErr(t, b.r.AddPolicy(PathPolicy{DenyThrough: "cap.nothing"}), ErrInvalidPolicy)
	b.policy(deny("a"))
	wantErr(t, b.r.AddPolicy(deny("a")), ErrDuplicatePolicy)
}

// layered builds a -> x, then 24 layers of 3 nodes fully joined from x to
// t: 3^24 simple paths from a to t.
func layered(t *testing.T) *build {
	b := newBuild(t, "a", "x", "z", "t").edges(Produces, "a", "x")
	prev := []string{"x"}
	for layer := range 24 {
		var cur []string
		for k := range 3 {
			name := fmt.Sprintf("l%02d%d", layer, k)
			b.node(name)
			for _, p := range prev {
				b.edges(Produces, p, name)
			}
			cur = append(cur, name)
		}
		prev = cur
	}
	for _, p := range prev {
		b.edges(Produces, p, "t")
	}
	return b
}

// When t needs a Z that no chain from a to t passes, the answer comes
// without a search (which would exhaust its budget on this graph).
func TestRequireThroughInfeasibleIsImmediate(t *testing.T) {
	p := require("z", "t")
	s := layered(t).policy(p).snap()
	_, found, excl, err := s.ShortestPath(nil, at(t, s, "a"), at(t, s, "t"))
	if err != nil || found || excl != 0 {
		t.Fatalf("found %v, excluded by %d, err %v", found, excl, err)
	}
}

// A Z that every chain can only reach by passing x twice passes the quick
// check, so the search explores every simple path; the step budget stops it
// with a clear error instead of pinning a core.
func TestSearchBudget(t *testing.T) {
	s := layered(t).edges(Produces, "x", "z", "x").policy(require("z", "t")).snap()
	_, found, excl, err := s.ShortestPath(nil, at(t, s, "a"), at(t, s, "t"))
	wantErr(t, err, ErrSearchBudget)
	if found || excl != 0 {
		t.Fatalf("found %v, excluded by %d", found, excl)
	}
}
