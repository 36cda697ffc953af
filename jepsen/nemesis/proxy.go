package nemesis

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// ErrClosed: the proxy or mesh was closed.
var ErrClosed = cnverr.New(cnverr.Unavailable, "proxy closed")

// Mode is what a proxy does with the traffic it carries.
type Mode int

// Modes.
const (
	// Pass forwards every byte.
	Pass Mode = iota
	// Blackhole accepts connections and reads their bytes but forwards
	// nothing, in either direction, on new and existing connections.
	Blackhole
	// Delay forwards every chunk Delay ± Jitter after it was read, in order.
	Delay
	// Drop refuses Percent of new connections (reset on accept) and
	// silently discards Percent of the chunks of existing ones.
	Drop
	// Reset resets every existing connection when set, and every new one
	// while it stays set.
	Reset
)

var modeNames = [...]string{"pass", "blackhole", "delay", "drop", "reset"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("mode(%d)", int(m))
	}
	return modeNames[m]
}

// Fault is a proxy's setting.
type Fault struct {
	Mode    Mode
	Delay   time.Duration // Delay: mean added latency
	Jitter  time.Duration // Delay: uniform ± spread
	Percent int           // Drop: 0..100
}

func (f Fault) String() string {
	switch f.Mode {
	case Delay:
		return fmt.Sprintf("delay %v±%v", f.Delay, f.Jitter)
	case Drop:
		return fmt.Sprintf("drop %d%%", f.Percent)
	}
	return f.Mode.String()
}

// Stats counts what a proxy did.
type Stats struct {
	Accepted, Refused, Reset     int64
	BytesForwarded, BytesDropped int64
	BytesQueued                  int64 // read, scheduled, not yet written
}

// Proxy forwards TCP connections accepted on a loopback port to a target
// address, applying its current Fault. It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	fault  atomic.Pointer[Fault]

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[*pipePair]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, refused, reset atomic.Int64
	forwarded, dropped       atomic.Int64
	queued                   atomic.Int64
}

// NewProxy listens on 127.0.0.1:0 and forwards to target. seed drives the
// drop and jitter choices.
func NewProxy(target string, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy for %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		conns: make(map[*pipePair]struct{})}
	p.fault.Store(&Fault{Mode: Pass})
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Fault returns the current setting.
func (p *Proxy) Fault() Fault { return *p.fault.Load() }

// Set changes the setting; it applies to existing connections at once.
// Setting Reset resets every open connection.
func (p *Proxy) Set(f Fault) {
	p.fault.Store(&f)
	if f.Mode == Reset {
		p.ResetAll()
	}
}

// ResetAll resets every open connection (RST, not FIN).
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	pairs := make([]*pipePair, 0, len(p.conns))
	for pp := range p.conns {
		pairs = append(pairs, pp)
	}
	p.mu.Unlock()
	for _, pp := range pairs {
		pp.abort()
		p.reset.Add(1)
	}
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	return Stats{Accepted: p.accepted.Load(), Refused: p.refused.Load(), Reset: p.reset.Load(),
		BytesForwarded: p.forwarded.Load(), BytesDropped: p.dropped.Load(), BytesQueued: p.queued.Load()}
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
	return err
}

// chance reports true with probability pct/100.
func (p *Proxy) chance(pct int) bool {
	if pct <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(100) < pct
}

// jitter returns d ± j, never negative.
func (p *Proxy) jitter(d, j time.Duration) time.Duration {
	if j > 0 {
		p.mu.Lock()
		d += time.Duration(p.rng.Int64N(int64(2*j)+1)) - j
		p.mu.Unlock()
	}
	return max(d, 0)
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.accept(c)
	}
}

func (p *Proxy) accept(c net.Conn) {
	f := p.Fault()
	if f.Mode == Reset || (f.Mode == Drop && p.chance(f.Percent)) {
		p.refused.Add(1)
		resetConn(c)
		return
	}
	p.accepted.Add(1)
	p.wg.Add(1)
	go p.serve(c)
}

// serve dials the target and runs both directions until either side ends.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		resetConn(client)
		return
	}
	pp := &pipePair{a: client, b: server, done: make(chan struct{})}
	if !p.track(pp) {
		pp.abort()
		return
	}
	defer p.untrack(pp)
	done := make(chan struct{}, 2)
	go func() { p.pipe(pp, client, server); done <- struct{}{} }()
	go func() { p.pipe(pp, server, client); done <- struct{}{} }()
	<-done
	<-done
	_ = client.Close()
	_ = server.Close()
}

func (p *Proxy) track(pp *pipePair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[pp] = struct{}{}
	return true
}

func (p *Proxy) untrack(pp *pipePair) {
	p.mu.Lock()
	delete(p.conns, pp)
	p.mu.Unlock()
}

// pipePair is one proxied connection: a is the accepted side, b the dialled.
type pipePair struct {
	a, b net.Conn
	once sync.Once
	done chan struct{} // closed by abort
}

// abort resets both sides once.
func (pp *pipePair) abort() {
	pp.once.Do(func() {
		if pp.done != nil {
			close(pp.done)
		}
		resetConn(pp.a)
		resetConn(pp.b)
	})
}

// resetConn closes c with an RST when it is TCP.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// chunk is a read buffer scheduled for delivery at a time.
type chunk struct {
	data []byte
	at   time.Time
}

// pipe copies src to dst through a delivery queue, so delayed chunks keep
// their order without slowing the reader. A clean end of src (EOF) is passed
// on as a half-close of dst; any other error resets the pair.
func (p *Proxy) pipe(pp *pipePair, src, dst net.Conn) {
	queue := make(chan chunk, 64)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if !p.deliver(dst, queue, pp.done) {
			pp.abort()
		}
	}()
	if err := p.read(src, queue, writerDone); !errors.Is(err, io.EOF) {
		pp.abort()
	}
	close(queue)
	<-writerDone
}

// read reads src, decides each chunk's fate under the current fault and
// queues the ones to deliver.
func (p *Proxy) read(src net.Conn, queue chan<- chunk, writerDone <-chan struct{}) error {
	var last time.Time
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			if at, ok := p.schedule(n, &last); ok {
				p.queued.Add(int64(n))
				select {
				case queue <- chunk{data: buf[:n], at: at}:
				case <-writerDone:
					p.queued.Add(-int64(n))
					return net.ErrClosed
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// schedule returns when to deliver an n-byte chunk, or false to drop it.
// Delivery times never go backwards, so order is kept.
func (p *Proxy) schedule(n int, last *time.Time) (time.Time, bool) {
	f := p.Fault()
	switch {
	case f.Mode == Blackhole, f.Mode == Reset, f.Mode == Drop && p.chance(f.Percent):
		p.dropped.Add(int64(n))
		return time.Time{}, false
	}
	at := time.Now()
	if f.Mode == Delay {
		at = at.Add(p.jitter(f.Delay, f.Jitter))
	}
	if at.Before(*last) {
		at = *last
	}
	*last = at
	return at, true
}

// deliver writes queued chunks to dst at their times; false when a write
// failed or the pair was aborted.
func (p *Proxy) deliver(dst net.Conn, queue <-chan chunk, abort <-chan struct{}) bool {
	defer func() {
		for c := range queue {
			p.queued.Add(-int64(len(c.data)))
		}
	}()
	for c := range queue {
		ok := sleepUntil(c.at, abort)
		if ok {
			_, err := dst.Write(c.data)
			ok = err == nil
		}
		p.queued.Add(-int64(len(c.data)))
		if !ok {
			return false
		}
		p.forwarded.Add(int64(len(c.data)))
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	return true
}

// sleepUntil waits until t; false when abort closed first.
func sleepUntil(t time.Time, abort <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-abort:
		return false
	}
}

var _ io.Closer = (*Proxy)(nil)
