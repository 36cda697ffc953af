package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
)

// TestGossipProcesses starts 3 servers and 1 edge node as real processes
// with gossip, kills one server with SIGKILL, and checks that members
// shows it dead, the cluster keeps committing, and graph reads on the edge
// node stay available.
func TestGossipProcesses(t *testing.T) {
	bin, dir, admin, procs := processCluster(t, 3)
	for i, p := range procs {
		p.args = append(p.args, "--gossip-addr", freeAddr(t), "--gossip-profile", "loopback", "--autopilot-stabilization", "1s")
		if i == 0 {
			p.args = append(p.args, "--bootstrap")
		} else {
			p.args = append(p.args, "--join", procs[0].http)
		}
	}
	edge := &proc{id: "e1", http: freeAddr(t)}
	edge.dir = filepath.Join(dir, "e1")
	edge.args = []string{"agent", "--edge", "--node-id", "e1", "--http-addr", edge.http, "--gossip-addr", freeAddr(t),
		"--gossip-profile", "loopback", "--join", procs[0].http, "--log-level", "warn"}
	t.Cleanup(edge.kill)
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	for _, p := range procs {
		p.start(t, bin)
	}
	for _, p := range procs {
		testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
	}
	edge.start(t, bin)
	key := admin + ".key"
	if _, code := runBin(t, bin, "capability", "register", "--addr", procs[0].http, "--key", key, "../../runtime/graph/testdata/caps.json"); code != 0 {
		t.Fatal("capability register failed")
	}
	members := func(addr string) map[string]string {
		out, code := runBin(t, bin, "cluster", "members", "--addr", addr, "--json")
		var ms []struct {
			NodeID string `json:"node_id"`
			Role   string `json:"role"`
			Raft   string `json:"raft"`
			Gossip string `json:"gossip"`
		}
		got := map[string]string{}
		if code == 0 && json.Unmarshal([]byte(out), &ms) == nil {
			for _, m := range ms {
				got[m.NodeID] = m.Role + "/" + m.Raft + "/" + m.Gossip
			}
		}
		return got
	}
	testcluster.WaitFor(t, "3 voters and the edge in members", 30*time.Second, func() error {
		got := members(procs[0].http)
		if got["n1"] != "server/voter/alive" || got["n2"] != "server/voter/alive" || got["n3"] != "server/voter/alive" || got["e1"] != "edge/none/alive" {
			return fmt.Errorf("%v", got)
		}
		return nil
	})
	edgeRead := func() error {
		out, code := runBin(t, bin, "graph", "reachable", "user.create", "user.read", "--addr", edge.http, "--json")
		if code != 0 || !strings.Contains(out, `"reachable": true`) {
			return fmt.Errorf("edge graph read: %d %s", code, out)
		}
		return nil
	}
	testcluster.WaitFor(t, "graph on the edge", 20*time.Second, edgeRead)
	victim := procs[2]
	victim.kill()
	testcluster.WaitFor(t, victim.id+" dead in members", 30*time.Second, func() error {
		if g := members(procs[0].http)[victim.id]; !strings.HasSuffix(g, "/dead") {
			return fmt.Errorf("%s is %q", victim.id, g)
		}
		return nil
	})
	for i := 0; i < 3; i++ {
		out, code := runBin(t, bin, "invoke", "--addr", procs[i%2].http, "--key", key, "user", "create", "--name", fmt.Sprint("g", i))
		if code != 0 {
			t.Fatalf("invoke with a server down: %s", out)
		}
	}
	if err := edgeRead(); err != nil {
		t.Fatal(err)
	}
}
