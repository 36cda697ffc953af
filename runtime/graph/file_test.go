package graph

import (
	"errors"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/contract"
)

const issueExample = `{"capabilities":[
  {"path":"user.create","version":"1.0.0","effects":["mutate_state"],"input":"UserSpec","output":"User"},
  {"path":"user.read","effects":["read_only"],"input":"User","output":"UserView"},
  {"path":"user.delete","effects":["mutate_state"],"input":"User"},
  {"path":"deploy.approve","input":"Plan","output":"Plan"},
  {"path":"deploy.run","input":"Plan","output":"Release"}],
 "edges":[{"from":"user.create","to":"user.read","type":"produces"},
  {"from":"deploy.approve","to":"deploy.run","type":"produces"}],
 "path_policies":[{"deny_through":"user.delete"}, {"require_through":"deploy.approve","to":"deploy.run"}]}`

func TestParseIssueExample(t *testing.T) {
	s, err := BuildFile([]byte(issueExample), 0)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := Execute(s, Request{Op: OpPath, From: "user.create", To: "user.read"})
	if got := strings.Join(res.(PathResult).Path, ","); got != "user.create,user.read" {
		t.Fatalf("path %q", got)
	}
	i, _ := s.Lookup("user.create@1.0.0")
	n := s.Node(i)
	if n.Reliability != 100 || n.Capability != capability.FromPathVersioned("user.create", "1.0.0") ||
		n.Input.Ref != "UserSpec" || !n.Effects.Has(capability.MutateState) {
		t.Fatalf("node %+v", n)
	}
	if len(s.Policies()) != 2 {
		t.Fatal("policies lost")
	}
}

func TestParseFullExample(t *testing.T) {
	s := exampleSnapshot(t)
	i, _ := s.Lookup("user.create")
	n := s.Node(i)
	if n.Cost != 5 || n.Reliability != 99 || !n.FastPath || n.Sensitivity != capability.SensitivityMedium ||
		n.Tags[0] != "users" || n.Contract.Temporal.Class != contract.Interactive {
		t.Fatalf("fields lost: %+v", n)
	}
	res, _ := Execute(s, Request{Op: OpPath, From: "deploy.plan", To: "deploy.run"})
	pr := res.(PathResult)
	if strings.Join(pr.Path, ",") != "deploy.plan,deploy.approve,deploy.run" || pr.ExcludedBy == nil {
		t.Fatalf("path %+v", pr)
	}
	res, _ = Execute(s, Request{Op: OpCompose, FromType: refSchema("User"), ToType: refSchema("Receipt")})
	if got := strings.Join(res.(PathResult).Path, ","); got != "user.export,mail.send" {
		t.Fatalf("compose User -> Receipt = %q", got)
	}
}

func TestParseFileErrorsNamePaths(t *testing.T) {
	cases := []struct{ doc, where string }{
		{`{"capabilities":[{"path":"a.b","colour":"red"}]}`, "capabilities[0].colour: unknown field"},
		{`{"capabilities":[{"path":"a.b"},{"path":"a.c","input":{"type":"object","propertys":{}}}]}`,
			"capabilities[1].input.propertys: unknown field"},
		{`{"capabilities":[],"edge":[]}`, "edge: unknown field"},
		{`{"capabilities":[{"path":"a.b","path":"a.c"}]}`, "capabilities[0].path: duplicate field"},
		{`{"edges":[{"from":"a.b","to":"a.c","type":"produces","wieght":1}]}`, "edges[0].wieght: unknown field"},
		{`{"path_policies":[{"deny":"a.b"}]}`, "path_policies[0].deny: unknown field"},
		{`{"capabilities":[{"path":"a.b","cost":"high"}]}`, "capabilities[0].cost"},
		{`{"capabilities":[{"path":"a.b","contract":{"klass":"batch"}}]}`, "capabilities[0].contract"},
		{`{"capabilities":[{"path":"a.b","reliability":101}]}`, "capabilities[0]"},
		{`{"capabilities":[{"path":"nodot"}]}`, "capabilities[0]"},
		{`{"capabilities":[{"path":"a.b","effects":["fly"]}]}`, "capabilities[0]"},
		{`{"edges":[{"from":"a.b","to":"a.c","type":"custom"}]}`, "edges[0]"},
		{`{"edges":[{"from":"a.b","to":"a.c","type":"likes"}]}`, "edges[0]"},
		{`{"path_policies":[{"require_through":"a.b"}]}`, "path_policies[0]"},
		{`{"capabilities":[]} {}`, "trailing data"},
		{`[]`, ""},
	}
	for _, c := range cases {
		_, err := ParseFile([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.where) {
			t.Errorf("%s: error %v, want it to name %q", c.doc, err, c.where)
		}
		if kind := errorKind(err); kind != "InvalidInput" {
			t.Errorf("%s: kind %s", c.doc, kind)
		}
	}
}

func errorKind(err error) string {
	for _, e := range []error{ErrInvalidFile, ErrInvalidNode, ErrInvalidEdge, ErrInvalidPolicy, contract.ErrInvalidContract} {
		if errors.Is(err, e) {
			return "InvalidInput"
		}
	}
	return "other"
}

func TestParseFileDepthLimit(t *testing.T) {
	doc := `{"capabilities":[{"path":"a.b","input":` + strings.Repeat(`{"type":"array","items":`, 100) +
		`"string"` + strings.Repeat("}", 100) + `}]}`
	_, err := ParseFile([]byte(doc))
	wantErr(t, err, ErrInvalidFile)
}

func TestParseFileTooLarge(t *testing.T) {
	_, err := ParseFile(make([]byte, 5<<20))
	wantErr(t, err, ErrTooLarge)
}

func TestMergeIsAtomic(t *testing.T) {
	r := NewRegistry()
	f, err := ParseFile([]byte(issueExample))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Merge(f); err != nil {
		t.Fatal(err)
	}
	before, _ := r.Snapshot(1)
	for _, doc := range []string{
		// a new capability, then a duplicate
		`{"capabilities":[{"path":"user.list"},{"path":"user.read"}]}`,
		// a new capability, then an edge to a missing one
		`{"capabilities":[{"path":"user.list"}],"edges":[{"from":"user.list","to":"user.gone","type":"produces"}]}`,
		// a duplicate edge
		`{"edges":[{"from":"user.create","to":"user.read","type":"produces"}]}`,
		// a duplicate policy
		`{"path_policies":[{"deny_through":"user.delete"}]}`,
	} {
		f, err := ParseFile([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Merge(f); err == nil {
			t.Fatalf("merge of %s succeeded", doc)
		}
		after, _ := r.Snapshot(1)
		if after.Hash() != before.Hash() {
			t.Fatalf("failed merge of %s changed the registry", doc)
		}
	}
	f, _ = ParseFile([]byte(`{"capabilities":[{"path":"user.list","input":"User","output":"UserView"}],
		"edges":[{"from":"user.read","to":"user.list","type":"produces"}]}`))
	if err := r.Merge(f); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Snapshot(2)
	if s.Len() != before.Len()+1 || !s.Reachable(mustLookup(t, s, "user.create"), mustLookup(t, s, "user.list")) {
		t.Fatal("incremental merge did not extend the graph")
	}
}

func mustLookup(t testing.TB, s *Snapshot, name string) Index {
	t.Helper()
	i, err := s.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestMergeErrorNamesItem(t *testing.T) {
	r := NewRegistry()
	f, _ := ParseFile([]byte(`{"capabilities":[{"path":"a.b"},{"path":"a.b"}]}`))
	err := r.Merge(f)
	wantErr(t, err, ErrDuplicateCapability)
	if !strings.HasPrefix(err.Error(), "capabilities[1]:") {
		t.Fatalf("error %q does not name the item", err)
	}
}

func TestVersionedNames(t *testing.T) {
	s, err := BuildFile([]byte(`{"capabilities":[
		{"path":"svc.restart","version":"1.0.0"},{"path":"svc.restart","version":"2.0.0"},
		{"path":"svc.stop","version":"1.0.0"},{"path":"svc.stop"},
		{"path":"svc.start","version":"3.1.0"}]}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lookup("svc.restart")
	wantErr(t, err, ErrAmbiguous)
	for _, c := range []struct{ name, display string }{
		{"svc.restart@1.0.0", "svc.restart@1.0.0"},
		{"svc.stop", "svc.stop"},
		{"svc.stop@1.0.0", "svc.stop@1.0.0"},
		{"svc.start", "svc.start"},
		{"svc.start@3.1.0", "svc.start"},
	} {
		i, err := s.Lookup(c.name)
		if err != nil || s.Name(i) != c.display {
			t.Errorf("lookup %s = %v (%v), display %q, want %q", c.name, i, err, s.Name(i), c.display)
		}
		if j, _ := s.Lookup(s.Name(i)); j != i {
			t.Errorf("display name %s does not look up its node", s.Name(i))
		}
	}
	_, err = s.Lookup("svc.none")
	wantErr(t, err, ErrNodeNotFound)
}
