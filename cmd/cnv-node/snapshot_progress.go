package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// progress reports bytes moved (and ledger events checked) on stderr
// every --progress-every, and, when given an idle bound, cancels a
// transfer that stalled. With --json it prints nothing.
type progress struct {
	w      io.Writer // nil: silent
	mu     sync.Mutex
	verb   string
	total  int64
	every  time.Duration
	idle   time.Duration
	cancel func()
	start  time.Time

	n       atomic.Int64
	last    atomic.Int64 // time of the last read (unix nanos)
	stalled atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// startProgress starts reporting; cancel and idle (both or neither) stop a
// transfer with no data for idle. Call finish.
func startProgress(cmd *cobra.Command, verb string, total int64, cancel func(), idle time.Duration) *progress {
	p := &progress{verb: verb, total: total, idle: idle, cancel: cancel, start: time.Now(), done: make(chan struct{})}
	p.every, _ = cmd.Flags().GetDuration("progress-every")
	if !jsonOutput(cmd) {
		p.w = cmd.ErrOrStderr()
	}
	p.last.Store(time.Now().UnixNano())
	if (p.w != nil && p.every > 0) || (cancel != nil && idle > 0) {
		p.wg.Add(1)
		go p.run()
	}
	return p
}

func (p *progress) run() {
	defer p.wg.Done()
	tick := time.Second
	if p.every > 0 {
		tick = min(p.every, tick)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	printed := time.Now()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			if p.every > 0 && now.Sub(printed) >= p.every {
				p.line("")
				printed = now
			}
			p.watch(now)
		}
	}
}

// watch cancels the transfer once no byte came for idle.
func (p *progress) watch(now time.Time) {
	if p.cancel != nil && p.idle > 0 && now.Sub(time.Unix(0, p.last.Load())) > p.idle {
		p.stalled.Store(true)
		p.cancel()
	}
}

func (p *progress) line(suffix string) {
	if p.w == nil {
		return
	}
	n, el := p.n.Load(), time.Since(p.start).Seconds()
	of := ""
	if p.total > 0 {
		of = fmt.Sprintf(" of %s (%.0f%%)", mib(p.total), 100*float64(n)/float64(p.total))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "snapshot: %s %s%s, %s/s%s\n", p.verb, mib(n), of, mib(int64(float64(n)/max(el, 1e-9))), suffix)
}

// events reports the ledger check's progress (backup.VerifyOptions).
func (p *progress) events(done, total uint64) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "snapshot: checked %d of %d ledger events\n", done, total)
}

// finish stops reporting and prints the total.
func (p *progress) finish() {
	close(p.done)
	p.wg.Wait()
	if p.n.Load() > 0 {
		p.line(fmt.Sprintf(" in %.1fs", time.Since(p.start).Seconds()))
	}
}

func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	if n > 0 {
		pr.p.n.Add(int64(n))
		pr.p.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
