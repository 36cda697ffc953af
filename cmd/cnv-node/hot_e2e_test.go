package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/internal/testcluster"
)

// TestHotBenchAgainstProcesses starts two real nodes with --hot-addr, runs
// `bench --hot` with a leased max_uses budget across both, and checks that
// the answered uses stay within the budget, that HotPathBatch events reach
// the ledger (query) and that every node's ledger verifies after a clean
// stop.
func TestHotBenchAgainstProcesses(t *testing.T) {
	bin, _, admin, procs := processCluster(t, 2)
	hot := make([]string, 2)
	for i, p := range procs {
		hot[i] = freeAddr(t)
		p.args = append(p.args, "--hot-addr", hot[i])
	}
	procs[0].args = append(procs[0].args, "--bootstrap")
	procs[1].args = append(procs[1].args, "--join", procs[0].http)
	cl := client.New(client.Options{Timeout: 2 * time.Second})
	for _, p := range procs {
		p.start(t, bin)
		testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return cl.Get(context.Background(), p.http, "/readyz", nil) })
	}
	const budget = 50000
	out, code := runBin(t, bin, "bench", "--hot", "--addr", procs[0].http+","+procs[1].http, "--hot-addr", hot[0]+","+hot[1],
		"--key", admin+".key", "--connections", "2", "--pipeline", "32", "--duration", "2s", "--max-uses", fmt.Sprint(budget), "--json")
	var rep hotclient.LoadReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("bench --hot: exit %d: %s", code, out)
	}
	// Two uses went to the two certificates.
	if rep.Committed == 0 || rep.Committed > budget-2 {
		t.Fatalf("answered %d uses of a budget of %d: %s", rep.Committed, budget, out)
	}
	testcluster.WaitFor(t, "HotPathBatch events", 10*time.Second, func() error {
		out, code := runBin(t, bin, "ledger", "query", "--addr", procs[1].http, "--type", "HotPathBatch", "--json")
		var page struct {
			Events []json.RawMessage `json:"events"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Events) == 0 {
			return fmt.Errorf("exit %d: %.200s", code, out)
		}
		return nil
	})
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
	for _, p := range procs {
		if out, code := runBin(t, bin, "ledger", "verify", "--data-dir", p.dir); code != 0 {
			t.Fatalf("%s: ledger verify: exit %d: %s", p.id, code, out)
		}
	}
}
