package testcluster

import (
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// logWriter sends node logs to the test log until the test's cleanups
// are done: raft and memberlist goroutines may still log after a node
// stopped, and testing panics on a log after the test completed.
type logWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newLogWriter(t testing.TB) *logWriter {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// logger is a node's logger, named by its ID; the components below it
// (cluster, raft, fsm, http, forward) name themselves.
func (c *Cluster) logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: c.opts.LogLevel, Output: c.logw})
}
