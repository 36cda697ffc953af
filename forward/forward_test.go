package forward

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/wire"
)

// fakeLocal is a node whose view of leadership a test moves.
type fakeLocal struct {
	mu     sync.Mutex
	leader string
	addr   string
	term   uint64
	done   chan struct{}
}

func (l *fakeLocal) ID() string { return "n3" }
func (l *fakeLocal) Leader() (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader, l.addr
}
func (l *fakeLocal) Term() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term
}
func (l *fakeLocal) Done() <-chan struct{} { return l.done }

func (l *fakeLocal) elect(id, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leader, l.addr, l.term = id, addr, l.term+1
}

// A relay in flight to a leader that lost its office (isolated, paused)
// is cut off as soon as this node sees another leader, and sent again to
// it: the write completes within an election, not a request timeout.
func TestRelayFollowsLeadershipChanges(t *testing.T) {
	cut := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select { // an old leader that never answers
		case <-r.Context().Done():
			close(cut)
		case <-time.After(30 * time.Second):
		}
	}))
	defer stuck.Close()
	var got string
	fresh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", wire.ContentJSON)
		got = "new leader"
		w.Write([]byte(`{"node":"n2","results":[]}`))
	}))
	defer fresh.Close()
	local := &fakeLocal{done: make(chan struct{})}
	defer close(local.done)
	local.elect("n1", strings.TrimPrefix(stuck.URL, "http://"))
	f := New(Config{Peers: peer.New(client.Options{Timeout: 30 * time.Second})})
	f.Attach(local)
	go func() {
		time.Sleep(300 * time.Millisecond) // the old leader is cut off; an election follows
		local.elect("n2", strings.TrimPrefix(fresh.URL, "http://"))
	}()
	start := time.Now()
	raw, err := f.Relay(context.Background(), "/v1/invoke", []byte(`{}`), http.Header{"Content-Type": {wire.ContentJSON}})
	if err != nil || got != "new leader" || !strings.Contains(string(raw.Body), `"n2"`) {
		t.Fatalf("relay: %v %q %s", err, got, raw.Body)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the write took %v after the leader changed", d)
	}
	select {
	case <-cut:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay to the old leader was not cut off")
	}
}

// With no leader at all, a relay fails as unavailable after the hold time.
func TestRelayWithoutLeader(t *testing.T) {
	local := &fakeLocal{done: make(chan struct{})}
	defer close(local.done)
	f := New(Config{Peers: peer.New(client.Options{}), Hold: 100 * time.Millisecond})
	f.Attach(local)
	if _, err := f.Relay(context.Background(), "/v1/invoke", nil, nil); err == nil {
		t.Fatal("relayed without a leader")
	}
}
