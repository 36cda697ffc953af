package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One command line per row of the exit-code table, run in process; the
// rows that need a running cluster (denied by a token, a node not found,
// a server's 400) are in TestClusterCLIBehaviour.
func TestExitCodeTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowAll := write("allow.json", `{"default":"allow","rules":[]}`)
	denyAll := write("deny.json", `{"default":"deny","rules":[]}`)
	badPolicy := write("badpolicy.json", `{"rules":[{"name":"x","action":{"type":"deny"}}]}`)
	badCaps := write("badcaps.json", `{"capabilities":[{"path":"x"}]}`)
	notJSON := write("notjson.json", `{`)
	caps := "../../runtime/graph/testdata/caps.json"
	blocker := write("blocker", "")
	cases := []struct {
		code int
		args []string
	}{
		{exitOK, []string{"capability", "id", "user.create"}},
		{exitOK, []string{"policy", "check", "--policy", allowAll, "--capability", "user.read"}},
		{exitError, []string{"keygen", "--out", filepath.Join(blocker, "k")}},
		{exitUsage, []string{"invoke", "--no-such-flag"}},
		{exitUsage, []string{"nosuchcmd"}},
		{exitUsage, []string{"cluster", "nosuch"}},
		{exitUsage, []string{"capability", "id"}},
		{exitOK, []string{"cluster"}},
		{exitUsage, []string{"policy", "check", "--capability", "user.read"}},
		{exitUsage, []string{"cluster", "members"}},
		{exitUsage, []string{"cluster", "leave", "--addr", "127.0.0.1:1,127.0.0.1:2"}},
		{exitUsage, []string{"policy", "check", "--policy", allowAll, "--capability", "user.read", "--agent-type", "robot"}},
		{exitDenied, []string{"policy", "check", "--policy", denyAll, "--capability", "user.read"}},
		{exitInput, []string{"policy", "check", "--policy", badPolicy, "--capability", "user.read"}},
		{exitInput, []string{"policy", "check", "--policy", filepath.Join(dir, "missing.json"), "--capability", "user.read"}},
		{exitInput, []string{"capability", "register", "--addr", "127.0.0.1:1", "--key", "x", badCaps}},
		{exitInput, []string{"capability", "register", "--addr", "127.0.0.1:1", "--key", "x", notJSON}},
		{exitInput, []string{"graph", "stats", "--file", notJSON}},
		{exitInput, []string{"invoke", "--addr", "127.0.0.1:1", "--key", notJSON, "user.read"}},
		{exitNotFound, []string{"graph", "path", "user.create", "user.nope", "--file", caps}},
		{exitNotFound, []string{"ledger", "status", "--data-dir", filepath.Join(dir, "nodata")}},
		{exitUnavailable, []string{"cluster", "status", "--addr", deadAddr(t), "--retry-for", "0"}},
	}
	for _, tc := range cases {
		if _, errOut, code := cli(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, strings.TrimSpace(errOut))
		}
	}
}

// The table is in the root command's help.
func TestExitCodesInHelp(t *testing.T) {
	out, _, code := cli(t, "--help")
	for _, e := range exitTable {
		if code != 0 || !strings.Contains(out, e.meaning) {
			t.Fatalf("--help lacks exit code %d: %s", e.code, out)
		}
	}
}

// The README's exit-code table is this table.
func TestExitCodesInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exitTable {
		row := fmt.Sprintf("| %d | %s | %s |", e.code, e.name, e.meaning)
		if !strings.Contains(string(b), row) {
			t.Errorf("README.md lacks the row %s", row)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code := cli(t, args...)
		if code != 0 || !strings.HasPrefix(out, "cnv-node ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "go1.") {
			t.Fatalf("%v: %d %q", args, code, out)
		}
	}
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}
