package gossip

import (
	"bytes"
	"io"
	"log"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// memberlist v0.7.0 keeps its suspicion of a member to itself: the State of
// the Nodes that Members and the event delegate hand out is never set. So
// this node learns of its own suspicions from the line memberlist logs when
// a probe of a member failed (TestSuspectBeforeDead pins it), and clears
// them when a direct probe of that member succeeds, when the member
// refutes with new metadata, or when it is declared dead. Suspicions other
// nodes gossip are not visible, except in a joining peer's view.

var (
	suspectPrefix = []byte("[INFO] memberlist: Suspect ")
	suspectSuffix = []byte(" has failed, no acks received")
)

// logSniffer passes memberlist's log lines to hclog and reports the
// members this node's probes found unresponsive.
type logSniffer struct {
	next      io.Writer
	onSuspect func(name string)
}

func (s *logSniffer) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	if rest, ok := bytes.CutPrefix(line, suspectPrefix); ok {
		if name, ok := bytes.CutSuffix(rest, suspectSuffix); ok {
			s.onSuspect(string(name))
		}
	}
	return s.next.Write(p)
}

// memberlistLogger is the *log.Logger memberlist writes to.
func (g *Gossip) memberlistLogger() *log.Logger {
	next := g.log.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	return log.New(&logSniffer{next: next, onSuspect: g.observeSuspect}, "", 0)
}

func (g *Gossip) observeSuspect(name string) {
	if m, ok := g.table.setSuspect(name, true, g.cfg.Clock.Now()); ok {
		g.emit(Event{Type: EventUpdate, Member: m})
	}
}

// pingDelegate clears suspicion on a successful direct probe.
type pingDelegate struct{ g *Gossip }

var _ memberlist.PingDelegate = pingDelegate{}

func (pingDelegate) AckPayload() []byte { return nil }

func (p pingDelegate) NotifyPingComplete(n *memberlist.Node, _ time.Duration, _ []byte) {
	if m, ok := p.g.table.setSuspect(n.Name, false, p.g.cfg.Clock.Now()); ok {
		p.g.emit(Event{Type: EventUpdate, Member: m})
	}
}
