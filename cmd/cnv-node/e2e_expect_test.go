package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/transport/client"
)

// TestBootstrapExpect starts three processes with --bootstrap-expect 3,
// each listing the other two: they form one cluster with one leader, and a
// restart of all three on their data dirs does not bootstrap again.
func TestBootstrapExpect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	admin := filepath.Join(dir, "admin")
	if _, code := runBin(t, bin, "keygen", "--out", admin); code != 0 {
		t.Fatal("keygen failed")
	}
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = &proc{id: fmt.Sprintf("n%d", i+1), raft: freeAddr(t), http: freeAddr(t)}
		procs[i].dir = filepath.Join(dir, procs[i].id)
	}
	for i, p := range procs {
		var others []string
		for j, q := range procs {
			if j != i {
				others = append(others, q.http)
			}
		}
		p.args = []string{"agent", "--node-id", p.id, "--data-dir", p.dir, "--raft-addr", p.raft, "--http-addr", p.http,
			"--bootstrap-expect", "3", "--join", strings.Join(others, ","), "--admin-key", admin + ".pub", "--log-level", "warn"}
		t.Cleanup(p.kill)
	}
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	startAll := func() {
		for _, p := range procs {
			p.start(t, bin)
		}
		for _, p := range procs {
			waitUntil(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
		}
	}
	check := func() {
		waitUntil(t, "one leader, three voters", 20*time.Second, func() error {
			leaders := map[string]bool{}
			for _, p := range procs {
				ms, err := cl.Members(context.Background(), p.http)
				if err != nil {
					return err
				}
				voters := 0
				for _, m := range ms {
					if m.Raft == "voter" {
						voters++
					}
					if m.Leader {
						leaders[m.NodeID] = true
					}
				}
				if voters != 3 {
					return fmt.Errorf("%s sees %d voters", p.id, voters)
				}
			}
			if len(leaders) != 1 {
				return fmt.Errorf("leaders %v", leaders)
			}
			return nil
		})
	}
	startAll()
	check()
	if out, code := runBin(t, bin, "capability", "register", "--addr", procs[2].http, "--key", admin+".key", "../../runtime/graph/testdata/caps.json"); code != 0 {
		t.Fatalf("write through a bootstrap-expect cluster: %s", out)
	}
	for _, p := range procs {
		p.kill()
	}
	startAll()
	check()
}
