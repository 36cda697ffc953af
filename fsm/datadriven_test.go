package fsm

// A small data-driven test runner, in the spirit of etcd-io/raft's and
// cockroachdb/datadriven: a file is a list of blocks
//
//	# comments and blank lines between blocks are kept
//	command key=value key=a,b flag
//	optional input lines
//	----
//	expected output lines
//
// A block's output ends at the first blank line (outputs have none). Run
// with -rewrite to write what the commands print as the expected output.

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of fsm/testdata/*.txt from what the commands print")

// ddCmd is one block's command.
type ddCmd struct {
	pos   string // file:line
	Name  string
	Args  []ddArg
	Input string
}

type ddArg struct{ Key, Val string }

// arg returns the value of key and whether it was given (a bare flag has
// an empty value).
func (c *ddCmd) arg(key string) (string, bool) {
	for _, a := range c.Args {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

type ddBlock struct {
	pre  []string // comments and blank lines before the block
	cmd  ddCmd
	text []string // the command and input lines as written
	want string
}

func parseDD(t *testing.T, path string) (blocks []ddBlock, trailer []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	var pre []string
	for {
		l, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := ddBlock{pre: pre, text: []string{l}, cmd: ddCmd{pos: fmt.Sprintf("%s:%d", path, line)}}
		pre = nil
		fields := strings.Fields(l)
		b.cmd.Name = fields[0]
		for _, fl := range fields[1:] {
			k, v, _ := strings.Cut(fl, "=")
			b.cmd.Args = append(b.cmd.Args, ddArg{k, v})
		}
		var input []string
		for {
			l, ok = next()
			if !ok {
				t.Fatalf("%s: no ---- after the command", b.cmd.pos)
			}
			if l == "----" {
				break
			}
			b.text = append(b.text, l)
			input = append(input, l)
		}
		b.cmd.Input = strings.Join(input, "\n")
		var want []string
		for {
			l, ok = next()
			if !ok || l == "" {
				break
			}
			want = append(want, l)
		}
		b.want = strings.Join(want, "\n")
		blocks = append(blocks, b)
		if !ok {
			break
		}
		pre = append(pre, "")
	}
	return blocks, pre
}

// runDD runs every block of the file at path through run, in order, and
// compares (or, with -rewrite, replaces) the expected outputs.
func runDD(t *testing.T, path string, run func(c *ddCmd) string) {
	t.Helper()
	blocks, trailer := parseDD(t, path)
	var out strings.Builder
	for i := range blocks {
		b := &blocks[i]
		got := strings.TrimRight(run(&b.cmd), "\n")
		if strings.Contains(got, "\n\n") {
			t.Fatalf("%s: output has a blank line:\n%s", b.cmd.pos, got)
		}
		if !*rewrite && got != b.want {
			t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", b.cmd.pos, b.text[0], got, b.want)
		}
		for _, l := range b.pre {
			out.WriteString(l + "\n")
		}
		for _, l := range b.text {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n")
		if got != "" {
			out.WriteString(got + "\n")
		}
	}
	for len(trailer) > 0 && trailer[len(trailer)-1] == "" {
		trailer = trailer[:len(trailer)-1]
	}
	for _, l := range trailer {
		out.WriteString(l + "\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
