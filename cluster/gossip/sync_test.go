package gossip

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
)

func adv(id string, role Role, st MemberState, index uint64, hashSeed string) Member {
	m := Member{NodeID: id, Role: role, State: st, GossipAddr: id + ":7946"}
	if index > 0 {
		h := sha256.Sum256([]byte(hashSeed))
		m.GraphIndex, m.GraphHash = index, hex.EncodeToString(h[:])
	}
	return m
}

func ids(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.NodeID)
	}
	slices.Sort(out)
	return out
}

func TestGraphSources(t *testing.T) {
	members := []Member{
		adv("me", RoleEdge, StateAlive, 3, "a"),
		adv("s1", RoleServer, StateAlive, 9, "x"),
		adv("s2", RoleServer, StateAlive, 9, "x"),
		adv("s3", RoleServer, StateAlive, 9, "y"),
		adv("e1", RoleEdge, StateAlive, 9, "y"),
		adv("e2", RoleEdge, StateAlive, 9, "y"),
		adv("e3", RoleEdge, StateAlive, 9, "x"),
		adv("s4", RoleServer, StateDead, 12, "z"),
		adv("s5", RoleServer, StateSuspect, 12, "z"),
		adv("bad", "", StateAlive, 0, ""),
	}
	want, src := graphSources(members, "me", 3)
	if want.index != 9 || want != members[1].graph() {
		t.Fatalf("picked %d %s, want the version two servers advertise", want.index, want.hex())
	}
	if got := ids(src); !slices.Equal(got, []string{"e3", "s1", "s2"}) {
		t.Fatalf("sources %v", got)
	}
	if w, src := graphSources(members, "me", 9); w.index != 0 || src != nil {
		t.Fatalf("up to date, yet asked to fetch %d from %v", w.index, ids(src))
	}
	// Another node orders the same sources differently, but the same way
	// every time.
	_, a := graphSources(members, "other", 3)
	_, b := graphSources(members, "other", 3)
	if !slices.EqualFunc(a, b, func(x, y Member) bool { return x.NodeID == y.NodeID }) {
		t.Fatal("source order is not deterministic")
	}
}
