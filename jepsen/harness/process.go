package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Errors.
var (
	// ErrNotRunning: the node's process is not running.
	ErrNotRunning = cnverr.New(cnverr.Unavailable, "node not running")
	// ErrTimeout: a node did not reach a state in time.
	ErrTimeout = cnverr.New(cnverr.DeadlineExceeded, "timed out")
)

// Node is one cnv-node process and its fixed identity.
type Node struct {
	ID       string
	RaftAddr string
	HTTPAddr string
	DataDir  string
	LogPath  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	paused  bool
	offset  time.Duration
	starts  int
}

// running reports whether the process is alive (possibly paused).
func (n *Node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// start launches the binary with args, logging to LogPath.
func (n *Node) start(bin string, args []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runningLocked() {
		return nil
	}
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n==== start %d: %s %v\n", n.starts+1, bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	n.cmd, n.exited, n.paused = cmd, make(chan struct{}), false
	n.starts++
	go func(exited chan struct{}) {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}(n.exited)
	return nil
}

// kill sends SIGKILL and waits for the exit. Killing a stopped node does
// nothing.
func (n *Node) kill() error {
	n.mu.Lock()
	if !n.runningLocked() {
		n.mu.Unlock()
		return nil
	}
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", n.ID, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%w: %s did not exit after SIGKILL", ErrTimeout, n.ID)
	}
}

// signal sends sig to a running node and records whether it is paused.
func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return fmt.Errorf("%w: %s", ErrNotRunning, n.ID)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, n.ID, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	return nil
}

// waitHTTP polls path on the node until it answers 200 or ctx ends; it
// fails fast when the process exits.
func (n *Node) waitHTTP(ctx context.Context, path string) error {
	hc := &http.Client{Timeout: time.Second}
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	for {
		resp, err := hc.Get("http://" + n.HTTPAddr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s %s", ErrTimeout, n.ID, path)
		case <-exited:
			return fmt.Errorf("%w: %s exited (%v); see %s", ErrNotRunning, n.ID, n.exitErrValue(), n.LogPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) exitErrValue() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exitErr
}

// Ports the harness picks for nodes lie below the kernel's ephemeral range
// (32768-60999 by default), so no :0 listener (proxies, tests) and no
// outgoing connection can take one between its reservation and the node's
// bind.
const (
	portLow, portHigh = 12000, 32000
)

// reservation holds listeners on reserved ports until released.
type reservation struct {
	lns   []net.Listener
	addrs []string
}

// reservePorts reserves n distinct loopback ports in [portLow, portHigh)
// by listening on them; release frees them for the nodes to bind.
func reservePorts(n int, rng *rand.Rand) (*reservation, error) {
	r := &reservation{}
	for tries := 0; len(r.lns) < n; tries++ {
		if tries > 100*n {
			r.release()
			return nil, fmt.Errorf("%w: no free loopback ports in [%d, %d)", ErrTimeout, portLow, portHigh)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", portLow+rng.IntN(portHigh-portLow))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		r.lns = append(r.lns, l)
		r.addrs = append(r.addrs, addr)
	}
	return r, nil
}

func (r *reservation) release() {
	for _, l := range r.lns {
		l.Close()
	}
	r.lns = nil
}
