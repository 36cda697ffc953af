package server

import (
	"net"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/capability"
)

// FuzzServerStream sends arbitrary bytes after a hello and a session open
// to a live server: it must answer or close, never panic or hang, and keep
// serving other connections.
func FuzzServerStream(f *testing.F) {
	n := newNode(f, nodeOpts{server: func(c *Config) { c.Log = nil }})
	a := newAgent(f)
	cert := n.issue(certSpec{path: CounterPath, effects: []capability.EffectType{capability.MutateState}, holder: a.pub}) // the fake clock stands still
	f.Add(proto.AppendInvoke(nil, 1, 1, []byte("5")))
	f.Add(append(proto.AppendInvoke(nil, 1, 2, nil), proto.AppendInvoke(nil, 1, 1, []byte("x"))...))
	f.Add(mustControl(f, proto.FrameClose, proto.CloseMsg{ID: 3, Session: 1}))
	f.Add(append(frameWithLength(3, 0x7e), 1, 2))
	f.Add(frameWithLength(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := dialRaw(t, n.addr, true)
		sig, pub := proto.SignProof(a.priv, r.welcome.Challenge, cert)
		r.control(proto.FrameOpen, proto.OpenMsg{ID: 1, Certificate: cert, PublicKey: pub, Signature: sig})
		if typ, _ := r.read(); typ != proto.FrameOpened {
			t.Fatalf("open: %s", typ)
		}
		r.send(data)
		r.nc.(*net.TCPConn).CloseWrite()
		r.drain()
	})
}

// drain reads until the server closes the connection.
func (r *raw) drain() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := proto.ReadFrame(r.nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("server did not close the connection")
			}
			return
		}
	}
}
