package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shBlocks returns the ```sh code blocks of a Markdown document, in order.
func shBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

func TestShBlocks(t *testing.T) {
	got := shBlocks("x\n```sh\na\nb\n```\n```console\nc\n```\n```sh\nd\n```\n")
	if len(got) != 2 || got[0] != "a\nb" || got[1] != "d" {
		t.Fatalf("%q", got)
	}
}

// Every sh command of docs/QUICKSTART.md runs as written, in one shell,
// against a `cluster up` of the built binary (on PATH) in a temporary
// directory that has the repository's docs/ and the cluster's data/.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	md, err := os.ReadFile("../../docs/QUICKSTART.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlocks(string(md))
	if len(blocks) < 5 {
		t.Fatalf("docs/QUICKSTART.md has %d sh blocks", len(blocks))
	}
	dir := t.TempDir()
	bin := buildBinary(t, t.TempDir())
	u := startUp(t, bin, dir, 3)
	docs, _ := filepath.Abs("../../docs")
	if err := os.Symlink(docs, filepath.Join(dir, "docs")); err != nil {
		t.Fatal(err)
	}
	out, err := runScript(dir, filepath.Dir(bin), "set -euxo pipefail\n"+strings.Join(blocks, "\n"))
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s\ncluster up said:\n%s", err, out, u.errOut)
	}
	for _, want := range []string{"denied: exit 3", "hello\nworld\n", "1\n3\n6\n", "leadership moved from", "decision changes:"} {
		if !strings.Contains(out, want) {
			t.Errorf("quickstart output lacks %q", want)
		}
	}
}

// runScript runs a bash script in dir with binDir first on PATH and
// returns its combined output.
func runScript(dir, binDir, script string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
