package harness

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/jepsen/nemesis"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Config is a cluster of real processes.
type Config struct {
	Bin   string // the cnv-node binary
	Dir   string // work directory: data dirs, logs, keys
	Nodes int
	Seed  int64 // seeds the proxies
	// StartTimeout bounds a node's start (default 60s).
	StartTimeout time.Duration
	LogLevel     string // node log level (default "info")
}

// Cluster is N cnv-node processes behind a proxy mesh. It implements
// nemesis.Cluster and is safe for concurrent use.
type Cluster struct {
	cfg    Config
	nodes  []*Node
	byID   map[string]*Node
	Mesh   *nemesis.Mesh
	Admin  ed25519.PrivateKey
	Client *client.Client // unsigned reads and admin invocations
	once   sync.Once

	mu      sync.Mutex
	damaged map[string]bool
}

var _ nemesis.Cluster = (*Cluster)(nil)

// Start builds the cluster: ports, proxies, the first node bootstrapped
// with the admin key, the rest joined with `cnv-node cluster join`, all
// ready. On error everything started is stopped.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	c, err := newCluster(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.boot(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newCluster(cfg Config) (*Cluster, error) {
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("%w: %d nodes", nemesis.ErrBadConfig, cfg.Nodes)
	}
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		return nil, err
	}
	if err := principal.WriteKeyPair(filepath.Join(cfg.Dir, "admin"), pub, priv); err != nil {
		return nil, err
	}
	res, err := reservePorts(2*cfg.Nodes, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()))))
	if err != nil {
		return nil, err
	}
	defer res.release() // after the mesh's proxies took their own ports
	ports := res.addrs
	c := &Cluster{cfg: cfg, byID: map[string]*Node{}, Admin: priv, damaged: map[string]bool{},
		Client: client.New(client.Options{Key: priv, Timeout: 10 * time.Second})}
	eps := make([]nemesis.Endpoint, cfg.Nodes)
	for i := range cfg.Nodes {
		id := fmt.Sprintf("n%d", i+1)
		n := &Node{ID: id, RaftAddr: ports[2*i], HTTPAddr: ports[2*i+1],
			DataDir: filepath.Join(cfg.Dir, id), LogPath: filepath.Join(cfg.Dir, id+".log")}
		c.nodes = append(c.nodes, n)
		c.byID[id] = n
		eps[i] = nemesis.Endpoint{ID: id, Addrs: []string{n.RaftAddr, n.HTTPAddr}}
	}
	if c.Mesh, err = nemesis.NewMesh(eps, cfg.Seed); err != nil {
		return nil, err
	}
	return c, nil
}

// args is a node's command line; only the first node's first start
// bootstraps.
func (c *Cluster) args(n *Node, bootstrap bool) []string {
	a := []string{"agent", "--node-id", n.ID, "--data-dir", n.DataDir, "--raft-addr", n.RaftAddr,
		"--http-addr", n.HTTPAddr, "--admin-key", filepath.Join(c.cfg.Dir, "admin.pub"), "--log-level", c.cfg.LogLevel}
	if bootstrap {
		a = append(a, "--bootstrap")
	}
	// Small snapshots: every run compacts its log many times, and a node
	// cut off for a few seconds needs a snapshot install to catch up.
	a = append(a, "--raft-snapshot-threshold", "128", "--raft-trailing-logs", "64", "--raft-snapshot-interval", "1s")
	for _, m := range c.Mesh.DialMap(n.ID) {
		a = append(a, "--test-dial-map", m)
	}
	n.mu.Lock()
	offset := n.offset
	n.mu.Unlock()
	if offset != 0 {
		a = append(a, "--test-clock-offset", offset.String())
	}
	return a
}

func (c *Cluster) boot(ctx context.Context) error {
	first := c.nodes[0]
	if err := first.start(c.cfg.Bin, c.args(first, true)); err != nil {
		return err
	}
	if err := c.wait(ctx, first, "/readyz"); err != nil {
		return err
	}
	for _, n := range c.nodes[1:] {
		if err := n.start(c.cfg.Bin, c.args(n, false)); err != nil {
			return err
		}
	}
	for _, n := range c.nodes[1:] {
		if err := c.wait(ctx, n, "/healthz"); err != nil {
			return err
		}
		if err := c.joinCLI(ctx, n, first); err != nil {
			return err
		}
	}
	for _, n := range c.nodes {
		if err := c.wait(ctx, n, "/readyz"); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) wait(ctx context.Context, n *Node, path string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	return n.waitHTTP(ctx, path)
}

// joinCLI runs `cnv-node cluster join --addr N MEMBER`.
func (c *Cluster) joinCLI(ctx context.Context, n, member *Node) error {
	out, err := exec.CommandContext(ctx, c.cfg.Bin, "cluster", "join", "--addr", n.HTTPAddr, member.HTTPAddr).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cnv-node cluster join %s via %s: %w: %s", n.ID, member.ID, err, out)
	}
	return nil
}

// IDs returns the node ids, n1..nN.
func (c *Cluster) IDs() []string {
	ids := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = n.ID
	}
	return ids
}

// Nodes returns the nodes.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns the node id.
func (c *Cluster) Node(id string) (*Node, error) {
	n, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", nemesis.ErrUnknownNode, id)
	}
	return n, nil
}

// Addr is node id's HTTP address (clients talk to nodes directly, not
// through the mesh).
func (c *Cluster) Addr(id string) string { return c.byID[id].HTTPAddr }

// Leader asks every running node and returns the leader with the highest
// term.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	best, term := "", uint64(0)
	for _, n := range c.nodes {
		if !n.running() || n.isPaused() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Client.Status(sctx, n.HTTPAddr)
		cancel()
		if err == nil && st.State == "Leader" && st.Term >= term {
			best, term = n.ID, st.Term
		}
	}
	if best == "" {
		return "", errors.New("no node reports itself leader")
	}
	return best, nil
}

func (n *Node) isPaused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// Kill sends SIGKILL to id and waits for it to exit.
func (c *Cluster) Kill(id string) error {
	n, err := c.Node(id)
	if err != nil {
		return err
	}
	return n.kill()
}

// Restart starts id again if it is not running and waits until it serves
// HTTP.
func (c *Cluster) Restart(ctx context.Context, id string) error {
	n, err := c.Node(id)
	if err != nil {
		return err
	}
	if err := n.start(c.cfg.Bin, c.args(n, false)); err != nil {
		return err
	}
	return c.wait(ctx, n, "/healthz")
}

// Pause sends SIGSTOP.
func (c *Cluster) Pause(id string) error { return c.sig(id, syscall.SIGSTOP) }

// Resume sends SIGCONT.
func (c *Cluster) Resume(id string) error { return c.sig(id, syscall.SIGCONT) }

func (c *Cluster) sig(id string, s syscall.Signal) error {
	n, err := c.Node(id)
	if err != nil {
		return err
	}
	return n.signal(s)
}

// SetClockOffset sets the clock offset id gets on its next start.
func (c *Cluster) SetClockOffset(id string, d time.Duration) {
	if n, ok := c.byID[id]; ok {
		n.mu.Lock()
		n.offset = d
		n.mu.Unlock()
	}
}

// DataDir is id's data directory.
func (c *Cluster) DataDir(id string) string { return c.byID[id].DataDir }

// Damaged records that id's files were damaged.
func (c *Cluster) Damaged(id string) {
	c.mu.Lock()
	c.damaged[id] = true
	c.mu.Unlock()
}

// IsDamaged reports whether a nemesis damaged id's files.
func (c *Cluster) IsDamaged(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.damaged[id]
}

// RemoveMember asks id to leave (leave) or removes it through another
// running member, then stops its process.
func (c *Cluster) RemoveMember(ctx context.Context, id string, leave bool) error {
	n, err := c.Node(id)
	if err != nil {
		return err
	}
	if leave {
		err = c.Client.Leave(ctx, n.HTTPAddr)
	} else {
		err = c.removeVia(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", id, err)
	}
	return n.kill()
}

func (c *Cluster) removeVia(ctx context.Context, id string) error {
	var errs []error
	for _, m := range c.nodes {
		if m.ID == id || !m.running() || m.isPaused() {
			continue
		}
		err := c.Client.Remove(ctx, m.HTTPAddr, id)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(append(errs, errors.New("no member accepted the removal"))...)
}

// Rejoin stops id, wipes its data directory, starts it empty and joins it
// through another running member with `cnv-node cluster join`.
func (c *Cluster) Rejoin(ctx context.Context, id string) error {
	n, err := c.Node(id)
	if err != nil {
		return err
	}
	if err := n.kill(); err != nil {
		return err
	}
	if err := os.RemoveAll(n.DataDir); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.damaged, id)
	c.mu.Unlock()
	if err := n.start(c.cfg.Bin, c.args(n, false)); err != nil {
		return err
	}
	if err := c.wait(ctx, n, "/healthz"); err != nil {
		return err
	}
	var errs []error
	for _, m := range c.nodes {
		if m.ID == id || !m.running() || m.isPaused() {
			continue
		}
		if err := c.joinCLI(ctx, n, m); err != nil {
			errs = append(errs, err)
			continue
		}
		return c.wait(ctx, n, "/readyz")
	}
	return errors.Join(append(errs, fmt.Errorf("%s could not join any member", id))...)
}

// Heal resumes paused nodes, restarts stopped ones and heals the mesh.
func (c *Cluster) Heal(ctx context.Context) error {
	c.Mesh.Heal()
	var errs []error
	for _, n := range c.nodes {
		if n.isPaused() {
			errs = append(errs, n.signal(syscall.SIGCONT))
		}
		if !n.running() {
			errs = append(errs, c.Restart(ctx, n.ID))
		}
	}
	return errors.Join(errs...)
}

// Close kills every process, closes the mesh and frees every port. It is
// safe to call more than once.
func (c *Cluster) Close() {
	c.once.Do(func() {
		for _, n := range c.nodes {
			_ = n.kill()
		}
		if c.Mesh != nil {
			c.Mesh.Close()
		}
		c.Client.Close()
	})
}

// Build compiles ./cmd/cnv-node of the module at root into out, with the
// cnvtest tag: the fault injector needs the test hooks (--test-dial-map,
// --test-clock-offset) that the production binary lacks.
func Build(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "cnvtest", "-o", out, "./cmd/cnv-node")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/cnv-node: %w: %s", err, b)
	}
	return os.Chmod(out, 0o755)
}
