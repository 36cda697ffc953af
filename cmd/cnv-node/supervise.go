package main

import (
	"errors"
	"fmt"
	"github.com/cnv-project/cnv/client"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// supervisor keeps a `cluster up` cluster running: it reports each node
// that dies (with its exit status) while the others keep serving, and
// restarts dead nodes on their own with --restart-dead or on SIGUSR1.
type supervisor struct {
	cl      *client.Client // reaches the nodes (TLS when they use it)
	exe     string
	nodes   []*upNode
	out     io.Writer
	restart bool
	died    chan death
	due     chan *upNode
	ready   chan readyResult
}

// death is a process of a node that exited; done tells which process.
type death struct {
	n    *upNode
	done chan struct{}
}

type readyResult struct {
	n   *upNode
	err error
}

// Restart backoff: from restartMin, doubling per quick death, at most
// restartMax; a node that ran restartReset or longer starts over.
const (
	restartMin   = time.Second
	restartMax   = 30 * time.Second
	restartReset = time.Minute
)

// run supervises until SIGINT or SIGTERM; the caller stops the nodes.
func (s *supervisor) run() error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sig)
	s.died, s.due, s.ready = make(chan death, len(s.nodes)), make(chan *upNode, len(s.nodes)), make(chan readyResult, len(s.nodes))
	for _, n := range s.nodes {
		s.watch(n)
	}
	for {
		select {
		case sg := <-sig:
			if sg != syscall.SIGUSR1 {
				fmt.Fprintln(s.out, "stopping the cluster")
				return nil
			}
			s.restartAllDead()
		case d := <-s.died:
			if d.done == d.n.done { // not a process already replaced by a restart
				s.onDeath(d.n)
			}
		case n := <-s.due:
			s.start(n)
		case r := <-s.ready:
			s.onReady(r)
		}
	}
}

// watch reports n's death on s.died (once per process).
func (s *supervisor) watch(n *upNode) {
	done := n.done
	go func() {
		<-done
		s.died <- death{n, done}
	}()
}

func (s *supervisor) onDeath(n *upNode) {
	if n.err == nil {
		fmt.Fprintf(s.out, "%s left the cluster and stopped (exit status 0); it is not restarted\n", n.id)
		return
	}
	s.report(n)
	if !s.restart {
		fmt.Fprintf(s.out, "  restart it with: kill -USR1 %d\n", os.Getpid())
		return
	}
	if time.Since(n.started) >= restartReset {
		n.restarts = 0
	}
	wait := min(restartMin<<min(n.restarts, 5), restartMax)
	n.restarts++
	fmt.Fprintf(s.out, "  restarting %s in %v (--restart-dead)\n", n.id, wait)
	time.AfterFunc(wait, func() { s.due <- n })
}

// report says, once per process, that n's process died and how.
func (s *supervisor) report(n *upNode) {
	if n.reported == n.done {
		return
	}
	n.reported = n.done
	fmt.Fprintf(s.out, "%s died (%s); the other nodes keep serving; see %s\n", n.id, exitStatus(n.err), filepath.Join(n.dir, "node.log"))
}

// restartAllDead restarts every node that died (not one that left).
func (s *supervisor) restartAllDead() {
	count := 0
	for _, n := range s.nodes {
		if n.exited() && n.err != nil {
			s.report(n)
			s.start(n)
			count++
		}
	}
	fmt.Fprintf(s.out, "SIGUSR1: restarted %d dead node(s)\n", count)
}

// start restarts n on its data directory; it rejoins with its state.
func (s *supervisor) start(n *upNode) {
	if !n.exited() {
		return
	}
	if err := startNode(s.exe, n); err != nil {
		fmt.Fprintf(s.out, "%s: restart failed: %v\n", n.id, err)
		return
	}
	fmt.Fprintf(s.out, "%s restarted (pid %d)\n", n.id, n.cmd.Process.Pid)
	addr, done := n.http, n.done
	s.watch(n)
	go func() { s.ready <- readyResult{n, waitReadyOn(s.cl, addr, done, 60*time.Second)} }()
}

func (s *supervisor) onReady(r readyResult) {
	if r.err != nil {
		fmt.Fprintf(s.out, "%s did not become ready after its restart: %v\n", r.n.id, r.err)
		return
	}
	fmt.Fprintf(s.out, "%s is back and serving\n", r.n.id)
}

// exitStatus describes how a process ended: its exit code or the signal
// that killed it.
func exitStatus(err error) string {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Sprint(err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d, %v", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ee.ExitCode())
}
