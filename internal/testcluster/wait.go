package testcluster

import (
	"testing"
	"time"
)

// WaitFor polls cond until it returns nil and fails the test with what
// and cond's last error once timeout has passed. It polls often at first
// and backs off to every 50ms.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	step := 2 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(step)
		step = min(2*step, 50*time.Millisecond)
	}
}
