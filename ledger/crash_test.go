package ledger

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

const (
	crashEnv   = "CNV_LEDGER_CRASH_CHILD"
	crashBatch = 200
)

// TestCrashChild is the child half of TestCrashSafety: it appends batches
// forever, printing each committed head, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process of TestCrashSafety")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		batch := make([]event.Event, crashBatch)
		for j := range batch {
			batch[j] = withCorr(decision(fmt.Sprintf("agent-%d", j%7), "t", "user.read", policy.Allow, ""), fmt.Sprintf("b%d", i))
		}
		res, err := s.AppendBatch(batch, AppendOptions{Time: t0 + int64(i)}, nil)
		if err != nil {
			fmt.Println("append error:", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "committed %d %s\n", res.Head.Size, res.Head.Root)
		out.Flush()
	}
}

// A process killed with SIGKILL while appending reopens to a prefix of
// whole batches, never a partial one, with every committed batch present
// and verify passing.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seed := seedFor(t)
	rng := rand.New(rand.NewSource(seed))
	path := filepath.Join(t.TempDir(), "state.db")
	for round := 0; round < 3; round++ {
		roots, last := runUntilKilled(t, path, 2+rng.Intn(8), time.Duration(rng.Intn(4000))*time.Microsecond)
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("seed %d round %d: reopen: %v", seed, round, err)
		}
		h := s.Head()
		if h.Size%crashBatch != 0 || h.Size < last || h.Size > last+crashBatch {
			t.Fatalf("seed %d round %d: size %d after last reported %d (batch %d)", seed, round, h.Size, last, crashBatch)
		}
		if want, ok := roots[h.Size]; ok && want != h.Root.String() {
			t.Fatalf("seed %d round %d: root at %d is %s, child reported %s", seed, round, h.Size, h.Root, want)
		}
		rep, err := s.Verify(VerifyOptions{Structure: true})
		if err != nil || !rep.OK {
			t.Fatalf("seed %d round %d: verify %v %+v", seed, round, err, rep)
		}
		s.Close()
		t.Logf("round %d: killed after %d reported events, reopened at %d", round, last, h.Size)
	}
}

// runUntilKilled starts the child, waits for it to report `batches`
// commits, lets it run on for delay (which varies where in the next batch
// the kill lands; correctness does not depend on it), kills it with SIGKILL and returns the reported roots by size and
// the last reported size.
func runUntilKilled(t *testing.T, path string, batches int, delay time.Duration) (map[uint64]string, uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	roots := map[uint64]string{}
	var last uint64
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	record := func() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "committed" {
			t.Fatalf("child said %q (stderr %s)", sc.Text(), stderr.String())
		}
		last, _ = strconv.ParseUint(f[1], 10, 64)
		roots[last] = f[2]
	}
	for len(roots) < batches && sc.Scan() {
		record()
	}
	if len(roots) < batches {
		t.Fatalf("child stopped after %d commits: %s", len(roots), stderr.String())
	}
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	// Whatever the child reported before it died counts as committed.
	for sc.Scan() {
		record()
	}
	cmd.Wait()
	return roots, last
}
