package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	f, err := parseFlags([]string{"--scenario", "all", "--runs", "3", "--seed", "9", "--duration", "1m", "--nodes", "5"}, &bytes.Buffer{})
	if err != nil || f.scenario != "all" || f.runs != 3 || f.seed != 9 || f.duration != time.Minute || f.nodes != 5 {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := parseFlags([]string{"--bogus"}, &bytes.Buffer{}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}

func TestListAndUnknownScenario(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), flags{list: true}, &out); code != 0 || !strings.Contains(out.String(), "kill-leader") {
		t.Fatalf("--list: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), flags{scenario: "nope", bin: "x"}, &out); code != 2 {
		t.Fatalf("unknown scenario: exit %d", code)
	}
}

func TestCheckPrintsReportPathLast(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.json")
	os.WriteFile(path, []byte(`{"scenario":"x","ops":[{"kind":"append","value":"a","outcome":"ok","index":0,"has_index":true,"invoke":1,"end":2}],
"final":{"ledger":[],"nodes":[{"node":"n1","size":0,"root":"r"}]}}`), 0o644)
	var out bytes.Buffer
	code := run(context.Background(), flags{check: path}, &out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasSuffix(last, "index.html") {
		t.Fatalf("exit %d, output %q: want 1 and the report path last", code, out.String())
	}
	if _, err := os.Stat(last); err != nil {
		t.Fatal(err)
	}
}
