package harness

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cnv-node once per test binary.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real processes")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cnv-jepsen-bin")
		if err != nil {
			buildErr = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		binPath = filepath.Join(dir, "cnv-node")
		buildErr = Build(context.Background(), filepath.Join(filepath.Dir(file), "..", ".."), binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func startCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Bin: bin, Dir: t.TempDir(), Nodes: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClusterLifecycle(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	members, err := c.Client.Members(ctx, c.Addr("n2"))
	if err != nil || len(members) != 3 {
		t.Fatalf("members %+v, %v", members, err)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a new leader", func() bool {
		l, err := c.Leader(ctx)
		return err == nil && l != leader
	})
	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause("n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if err := n.waitHTTP(ctx, "/readyz"); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []string{c.Addr("n1"), c.Addr("n2")}
	c.Close()
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts after Close", a)
		}
	}
}

func TestMembershipRemoveAndRejoin(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	members := func() int {
		ms, err := c.Client.Members(ctx, c.Addr("n1"))
		if err != nil {
			return -1
		}
		return len(ms)
	}
	if err := c.RemoveMember(ctx, "n3", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "n3 to leave the configuration", func() bool { return members() == 2 })
	if err := c.Rejoin(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "n3 to be back", func() bool { return members() == 3 })
	if err := c.RemoveMember(ctx, "n2", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "n2 to leave", func() bool { return members() == 2 })
	if err := c.Rejoin(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "n2 to be back", func() bool { return members() == 3 })
	if c.IsDamaged("n2") {
		t.Fatal("a rejoined node is not damaged")
	}
}
