package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
)

const caps = `{"capabilities":[{"path":"user.create","effects":["mutate_state"]}]}`

func create(name string) invocation.Invocation {
	return invocation.Invocation{Capability: "user.create", Args: []invocation.Arg{{Name: "name", Value: name}}}
}

// sockets counts the process's open sockets (Linux).
func sockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// An in-memory cluster opens no socket, commits, and stops cleanly.
func TestInMemoryOpensNoSocket(t *testing.T) {
	before := sockets(t)
	c := testcluster.New(t, 3, testcluster.Options{})
	c.AdminInvoke(c.Node(1), "capability.register", []byte(caps))
	if _, err := c.Invoke(c.Node(2), nil, create("x")); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	if after := sockets(t); after != before {
		t.Fatalf("%d sockets open before, %d with the cluster", before, after)
	}
}

// A partitioned leader loses its leadership, the majority elects another
// and commits; after Heal every node converges. A partitioned node's
// calls to the leader fail as unreachable.
func TestPartitionAndHeal(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{Hold: 500 * time.Millisecond})
	c.AdminInvoke(c.Leader(), "capability.register", []byte(caps))
	old := c.Leader()
	c.Partition(old)
	var l *testcluster.Node
	testcluster.WaitFor(t, "a leader in the majority", 10*time.Second, func() error {
		for _, n := range c.Nodes() {
			if n != old && n.Node().IsLeader() {
				l = n
				return nil
			}
		}
		return fmt.Errorf("no leader in the majority")
	})
	if _, err := c.Invoke(l, nil, create("majority")); err != nil {
		t.Fatal(err)
	}
	testcluster.WaitFor(t, "the old leader to step down", 10*time.Second, func() error {
		if old.Node().IsLeader() {
			return fmt.Errorf("still leader")
		}
		return nil
	})
	if _, err := c.Invoke(old, nil, create("minority")); err == nil {
		t.Fatal("an invocation through the cut-off node succeeded")
	}
	c.Heal()
	h := c.WaitConverged()
	if got := old.Node().Store().Head(); got.Size != h.Size {
		t.Fatalf("healed node at %d, leader at %d", got.Size, h.Size)
	}
}

// OnStart's services stop first on Stop and last on Crash; a restart
// runs OnStart again.
func TestOnStartStopOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	c := testcluster.New(t, 1, testcluster.Options{OnStart: func(n *testcluster.Node) func(context.Context) {
		record("start " + n.ID)
		node := n.Node()
		return func(context.Context) {
			// Raft still runs on Stop, not after a crash.
			if node.Raft().State().String() == "Shutdown" {
				record("stop after raft")
			} else {
				record("stop before raft")
			}
		}
	}})
	n := c.Node(0)
	c.Stop(n)
	c.Restart(n)
	c.WaitReady(n)
	c.Crash(n)
	mu.Lock()
	defer mu.Unlock()
	want := "start n1,stop before raft,start n1,stop after raft"
	if got := strings.Join(events, ","); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if n.Running() || n.Node() != nil {
		t.Fatal("crashed node still running")
	}
}

// A stopped node refuses calls through the helpers.
func TestStoppedNodeRefuses(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	n := c.Node(0)
	c.Stop(n)
	if _, err := c.Invoke(n, nil, create("x")); err == nil {
		t.Fatal("invoke on a stopped node succeeded")
	}
	if _, err := c.Read(n, cluster.Stale, 0); err == nil {
		t.Fatal("read on a stopped node succeeded")
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	testcluster.WaitFor(t, "three polls", time.Second, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("%d polls", n)
	}
}

// Everything a cluster starts ends with the test: after a subtest's
// cleanups the goroutine count is back where it was.
func TestCleanupEndsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Run("cluster", func(t *testing.T) {
		c := testcluster.New(t, 3, testcluster.Options{})
		c.AdminInvoke(c.Leader(), "capability.register", []byte(caps))
		c.Partition(c.Followers()[0])
		c.Stop(c.Node(1))
		c.Restart(c.Node(1))
		c.Heal()
		c.WaitConverged()
	})
	testcluster.WaitFor(t, "goroutines to end", 10*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}
