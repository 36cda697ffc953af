package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
)

// TestBootstrapExpect starts three processes with --bootstrap-expect 3,
// each listing the other two: they form one cluster with one leader, and a
// restart of all three on their data dirs does not bootstrap again.
func TestBootstrapExpect(t *testing.T) {
	bin, _, admin, procs := processCluster(t, 3)
	for i, p := range procs {
		var others []string
		for j, q := range procs {
			if j != i {
				others = append(others, q.http)
			}
		}
		p.args = append(p.args, "--bootstrap-expect", "3", "--join", strings.Join(others, ","))
	}
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	startAll := func() {
		for _, p := range procs {
			p.start(t, bin)
		}
		for _, p := range procs {
			testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
		}
	}
	check := func() {
		testcluster.WaitFor(t, "one leader, three voters", 20*time.Second, func() error {
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
