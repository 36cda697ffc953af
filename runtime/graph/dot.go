package graph

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// WriteDOT writes the graph in Graphviz DOT: one node per capability,
// labelled with its name, and one edge per edge, labelled with its type (a
// custom edge with its name). Labels are escaped, so names and custom edge
// names can never break out of their quotes. Nodes are n<index>.
func (s *Snapshot) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("digraph CapabilityGraph {\n")
	for i, name := range s.names {
		bw.WriteString("  n" + strconv.Itoa(i) + " [label=" + dotQuote(name) + "];\n")
	}
	for i := range s.edges {
		e := &s.edges[i]
		label := e.Type.String()
		if e.Type == Custom {
			label = e.Name
		}
		bw.WriteString("  n" + strconv.Itoa(int(s.indexOf[e.From])) + " -> n" +
			strconv.Itoa(int(s.indexOf[e.To])) + " [label=" + dotQuote(label) + "];\n")
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// dotQuote renders s as a DOT double-quoted string: backslashes and quotes
// are escaped, and line breaks become \n so a label stays on one line.
func dotQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
