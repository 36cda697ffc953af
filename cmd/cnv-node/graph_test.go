package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const graphTestFile = `{"capabilities":[
  {"path":"user.create","version":"1.0.0","effects":["mutate_state","read_only"],"input":"UserSpec","output":"User"},
  {"path":"user.read","effects":["read_only"],"input":"User","output":"UserView"},
  {"path":"user.delete","effects":["mutate_state"],"input":"User","output":"Receipt"},
  {"path":"user.archive","input":"User","output":"Archive"},
  {"path":"user.view","input":"UserView","output":"Receipt"},
  {"path":"user.get","input":"User","output":"UserView"}],
 "edges":[{"from":"user.create","to":"user.read","type":"produces"},
  {"from":"user.create","to":"user.delete","type":"produces"},
  {"from":"user.delete","to":"user.view","type":"requires"},
  {"from":"user.read","to":"user.view","type":"produces"},
  {"from":"user.read","to":"user.get","type":"equivalent"}],
 "path_policies":[{"deny_through":"user.delete"}]}`

func writeGraphFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "caps.json")
	if err := os.WriteFile(file, []byte(graphTestFile), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// graphJSON runs a graph command with --json and decodes its output.
func graphJSON(t *testing.T, file string, args ...string) map[string]any {
	t.Helper()
	args = append(append([]string{"graph"}, args...), "--file", file, "--json")
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %q: %v", args, out, err)
	}
	return res
}

func TestGraphCommandsJSON(t *testing.T) {
	file := writeGraphFile(t)
	cases := []struct {
		args []string
		want map[string]any
	}{
		{[]string{"reachable", "user.create", "user.view"}, map[string]any{"reachable": true}},
		{[]string{"reachable", "user.view", "user.create"}, map[string]any{"reachable": false}},
		{[]string{"path", "user.create", "user.view"}, map[string]any{
			"path":        []any{"user.create", "user.read", "user.view"},
			"excluded_by": map[string]any{"deny_through": "user.delete"}}},
		{[]string{"path", "user.read", "user.create"}, map[string]any{"path": nil}},
		{[]string{"paths", "user.create", "user.view", "--max-depth", "3"}, map[string]any{
			"paths": []any{[]any{"user.create", "user.read", "user.view"}},
			"excluded": []any{map[string]any{
				"path":   []any{"user.create", "user.delete", "user.view"},
				"policy": map[string]any{"deny_through": "user.delete"}}}}},
		{[]string{"compose", "--from", "UserSpec", "--to", "Receipt"}, map[string]any{
			"path": []any{"user.create", "user.read", "user.view"}, "excluded_by": map[string]any{"deny_through": "user.delete"}}},
		{[]string{"dominates", "user.create", "user.read"}, map[string]any{"dominates": true}},
		{[]string{"dominates", "user.read", "user.create"}, map[string]any{"dominates": false}},
		{[]string{"classes", "--nontrivial"}, map[string]any{"classes": []any{[]any{"user.get", "user.read"}}}},
	}
	for _, c := range cases {
		if got := graphJSON(t, file, c.args...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v:\n got %v\nwant %v", c.args, got, c.want)
		}
	}
	st := graphJSON(t, file, "stats")
	if st["nodes"] != 6.0 || st["edges"] != 5.0 || st["max_depth"] != 3.0 {
		t.Errorf("stats %v", st)
	}
}

func TestGraphCommandsHuman(t *testing.T) {
	file := writeGraphFile(t)
	out, _, code := cli(t, "graph", "path", "user.create", "user.view", "--file", file)
	if code != 0 || !strings.HasPrefix(out, "user.create -> user.read -> user.view\n") ||
		!strings.Contains(out, "deny_through user.delete") {
		t.Fatalf("path: %d %q", code, out)
	}
	out, _, _ = cli(t, "graph", "dot", "--file", file)
	if !strings.HasPrefix(out, "digraph CapabilityGraph {\n") || !strings.Contains(out, `[label="user.create"]`) {
		t.Fatalf("dot: %q", out)
	}
}

func TestGraphCommandErrors(t *testing.T) {
	file := writeGraphFile(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"capabilities":[{"path":"a.b","colour":"red"}]}`), 0o600)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"graph", "stats"}, exitUsage, "--file is required"},
		{[]string{"graph", "path", "user.create", "user.nope", "--file", file}, exitNotFound, "not in graph"},
		{[]string{"graph", "stats", "--file", bad}, exitInput, "capabilities[0].colour: unknown field"},
		{[]string{"graph", "paths", "user.create", "user.view", "--max-depth", "0", "--file", file}, exitUsage, "--max-depth 0"},
		{[]string{"graph", "compose", "--from", "User", "--file", file}, exitUsage, "--from and --to"},
		{[]string{"graph", "stats", "--file", filepath.Join(t.TempDir(), "missing.json")}, exitInput, "no such file"},
	}
	for _, c := range cases {
		_, errOut, code := cli(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d %q, want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
