package server

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

func benchNode(b *testing.B, shards int) *node {
	n := newNode(b, nodeOpts{
		builtins: BuiltinOptions{Timeout: BuiltinTimeout},
		dispatcher: func(c *hotpath.Config) {
			c.Shards, c.QueueDepth, c.SessionWindow, c.Clock = shards, 1<<14, 4096, clock.System{}
		},
		server: func(c *Config) { c.Window, c.Clock = 4096, clock.System{} },
	})
	n.clock.Set(time.Now()) // certificates are checked against the wall clock
	return n
}

// BenchmarkServerInvokePath is the server's per-invocation path without the
// client or the network read: invoke frames already in a read chunk are
// parsed, checked and submitted to the dispatcher, run (echo, batch digest
// on), answered into the session's response buffer and flushed to the
// connection's writer (a pipe drained by a goroutine). allocs/op must be 0.
func BenchmarkServerInvokePath(b *testing.B) {
	n := benchNode(b, 1)
	srvSide, cliSide := net.Pipe()
	go io.Copy(io.Discard, cliSide)
	c := newConn(n.srv, srvSide)
	go c.out.Run(srvSide, 0)
	b.Cleanup(func() { cliSide.Close(); c.finish(nil) })
	c.hello = true
	a := newAgent(b)
	cert := n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub})
	sig, pub := proto.SignProof(a.priv, c.challenge[:], cert)
	c.opens.Add(1)
	c.mu.Lock()
	c.reserved++
	c.mu.Unlock()
	c.open(proto.OpenMsg{ID: 1, Certificate: cert, PublicKey: pub, Signature: sig, Window: 4096})
	s := c.sessions[1]
	frame := proto.AppendInvoke(nil, 1, 0, []byte("0123456789abcdef"))
	var ok bool
	if c.cur, ok = c.pool.get(nil); !ok {
		b.Fatal("no chunk")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for seq := 1; seq <= b.N; seq++ {
		if len(c.cur.buf)-c.w < len(frame) {
			c.process()
			c.flushLocal()
			for s.hs.InFlight() > 0 { // stay inside the window
				runtime.Gosched()
			}
			if err := c.rotate(); err != nil {
				b.Fatal(err)
			}
		}
		binary.BigEndian.PutUint64(frame[proto.HeaderSize+4:], uint64(seq))
		c.w += copy(c.cur.buf[c.w:], frame)
	}
	c.process()
	c.flushLocal()
	for s.hs.InFlight() > 0 {
		runtime.Gosched()
	}
	b.StopTimer()
	if st := n.srv.Stats(); st.Refused != 0 {
		b.Fatalf("%d refused", st.Refused)
	}
}
