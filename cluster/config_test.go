package cluster

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
)

type nopRemote struct{}

func (nopRemote) Join(context.Context, string, JoinRequest) error               { return nil }
func (nopRemote) ReadIndex(context.Context) (uint64, error)                     { return 0, nil }
func (nopRemote) RegisterNode(context.Context, SignedNode) error                { return nil }
func (nopRemote) Remove(context.Context, RemoveRequest) error                   { return nil }
func (nopRemote) Propose(context.Context, SignedProposal) ([]fsm.Result, error) { return nil, nil }

// The Raft plumbing in Config: a Transport replaces the listener (and its
// address check), the log and stable stores go together.
func TestConfigRaftPlumbing(t *testing.T) {
	_, trans := raft.NewInmemTransport("raft://n1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	store := raft.NewInmemStore()
	base := func() Config {
		return Config{NodeID: "n1", DataDir: t.TempDir(), APIAddr: "mem://n1", Remote: nopRemote{}}
	}
	cases := []struct {
		name string
		edit func(*Config)
		err  string
	}{
		{"neither listener nor transport", func(c *Config) {}, "RaftListener"},
		{"listener", func(c *Config) { c.RaftListener = ln }, ""},
		{"transport", func(c *Config) { c.Transport = trans }, ""},
		{"both", func(c *Config) { c.Transport, c.RaftListener = trans, ln }, "replaces RaftListener"},
		{"transport and dial", func(c *Config) {
			c.Transport, c.Dial = trans, func(string, time.Duration) (net.Conn, error) { return nil, nil }
		}, "replaces RaftListener"},
		{"log store alone", func(c *Config) { c.Transport, c.LogStore = trans, store }, "together"},
		{"stable store alone", func(c *Config) { c.Transport, c.StableStore = trans, store }, "together"},
		{"stores", func(c *Config) { c.Transport, c.LogStore, c.StableStore = trans, store, store }, ""},
	}
	for _, tc := range cases {
		cfg := base()
		tc.edit(&cfg)
		err := cfg.setDefaults()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.err)
		}
	}
	cfg := base()
	cfg.Transport = trans
	if err := cfg.setDefaults(); err != nil || cfg.RaftAdvertise != "raft://n1" {
		t.Fatalf("advertise defaults to the transport's address: %q %v", cfg.RaftAdvertise, err)
	}
	cfg = base()
	cfg.RaftListener = ln
	if err := cfg.setDefaults(); err != nil || cfg.RaftAdvertise != ln.Addr().String() {
		t.Fatalf("advertise defaults to the listener's address: %q %v", cfg.RaftAdvertise, err)
	}
}
