package gossip

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

func validMeta() Meta {
	return Meta{Version: metaVersion, NodeID: "n1", Role: RoleServer, RaftAddr: "127.0.0.1:7001",
		APIAddr: "127.0.0.1:8001", Applied: 42, GraphIndex: 40, GraphHash: bytes.Repeat([]byte{7}, 32), KeyID: "k_00112233445566ff"}
}

func TestMetaRoundTrip(t *testing.T) {
	m := validMeta()
	b, err := EncodeMeta(&m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if !codec.Equal(got, m) {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
}

func TestMetaWorstCaseFits(t *testing.T) {
	addr := strings.Repeat("a", limits.MaxGossipAddrLen)
	m := Meta{Version: metaVersion, NodeID: strings.Repeat("n", limits.MaxIDLen), Role: RoleServer,
		RaftAddr: addr, APIAddr: addr, Applied: math.MaxUint64, GraphIndex: math.MaxUint64,
		GraphHash: bytes.Repeat([]byte{0xff}, 32), Leaving: true, Proof: bytes.Repeat([]byte{0xff}, 32), KeyID: "k_0123456789abcdef"}
	b, err := EncodeMeta(&m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > memberlist.MetaMaxSize {
		t.Fatalf("worst-case meta is %d bytes, memberlist allows %d", len(b), memberlist.MetaMaxSize)
	}
	t.Logf("worst-case meta: %d of %d bytes", len(b), memberlist.MetaMaxSize)
}

func TestDecodeMetaRejects(t *testing.T) {
	mod := func(f func(*Meta)) []byte {
		m := validMeta()
		f(&m)
		return codec.MustMarshal(&m)
	}
	cases := map[string][]byte{
		"garbage":          []byte("not msgpack"),
		"empty":            nil,
		"trailing bytes":   append(mod(func(*Meta) {}), 0),
		"oversize":         bytes.Repeat([]byte{0}, memberlist.MetaMaxSize+1),
		"version":          mod(func(m *Meta) { m.Version = 2 }),
		"no node id":       mod(func(m *Meta) { m.NodeID = "" }),
		"node id space":    mod(func(m *Meta) { m.NodeID = "a b" }),
		"role":             mod(func(m *Meta) { m.Role = "leader" }),
		"server no raft":   mod(func(m *Meta) { m.RaftAddr = "" }),
		"long addr":        mod(func(m *Meta) { m.APIAddr = strings.Repeat("a", limits.MaxGossipAddrLen+1) }),
		"addr control":     mod(func(m *Meta) { m.APIAddr = "a\nb" }),
		"short hash":       mod(func(m *Meta) { m.GraphHash = m.GraphHash[:31] }),
		"index no hash":    mod(func(m *Meta) { m.GraphHash = nil }),
		"hash no index":    mod(func(m *Meta) { m.GraphIndex = 0 }),
		"key id":           mod(func(m *Meta) { m.KeyID = "k_NOTHEX0123456789" }),
		"wrong field type": codec.MustMarshal(map[string]any{"v": 1, "id": 5, "r": "edge"}),
	}
	for name, b := range cases {
		if _, err := DecodeMeta(b); !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("%s: error %v, want ErrInvalidMeta", name, err)
		}
	}
}

func TestEdgeMetaNeedsNoRaftAddr(t *testing.T) {
	m := Meta{Version: metaVersion, NodeID: "e1", Role: RoleEdge}
	b, err := EncodeMeta(&m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeMeta(b); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeExchangeRejects(t *testing.T) {
	h := bytes.Repeat([]byte{1}, 32)
	cases := map[string][]byte{
		"garbage":         []byte{0xc1},
		"version":         codec.MustMarshal(&exchange{Version: 9}),
		"short hash":      codec.MustMarshal(&exchange{Version: 1, Index: 3, Hash: h[:5]}),
		"index no hash":   codec.MustMarshal(&exchange{Version: 1, Index: 3}),
		"snapshot no ver": codec.MustMarshal(&exchange{Version: 1, Snapshot: []byte{1}}),
		"oversize":        make([]byte, limits.MaxGossipStateBytes+1),
	}
	for name, b := range cases {
		if _, err := decodeExchange(b); !errors.Is(err, ErrInvalidState) {
			t.Errorf("%s: error %v, want ErrInvalidState", name, err)
		}
	}
	ok := codec.MustMarshal(&exchange{Version: 1, Index: 3, Hash: h, Snapshot: []byte{1}})
	if _, err := decodeExchange(ok); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{NodeID: "n1", Role: RoleServer, BindAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:7001"}
	}
	good := base()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Config){
		"no id":          func(c *Config) { c.NodeID = "" },
		"role":           func(c *Config) { c.Role = "" },
		"server no raft": func(c *Config) { c.RaftAddr = "" },
		"bind":           func(c *Config) { c.BindAddr = "localhost" },
		"bind port":      func(c *Config) { c.BindAddr = "127.0.0.1:99999" },
		"advertise":      func(c *Config) { c.AdvertiseAddr = "x" },
		"key":            func(c *Config) { c.SecretKey = make([]byte, 15) },
		"timing":         func(c *Config) { c.Timing = FastTiming(); c.Timing.ProbeTimeout = 0 },
		"timing order":   func(c *Config) { c.Timing = FastTiming(); c.Timing.ProbeTimeout = c.Timing.ProbeInterval },
		"suspicion mult": func(c *Config) { c.Timing = FastTiming(); c.Timing.SuspicionMult = 0 },
		"long api":       func(c *Config) { c.APIAddr = strings.Repeat("a", limits.MaxGossipAddrLen+1) },
	}
	for name, f := range cases {
		c := base()
		f(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v, want ErrInvalidConfig", name, err)
		}
	}
}
