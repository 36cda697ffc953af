package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Config configures a Server. Zero durations and counts take DefaultConfig's
// values.
type Config struct {
	// Dispatcher runs the invocations; the embedder starts and stops it
	// (stop it after the server is closed).
	Dispatcher *hotpath.Dispatcher
	// Authority opens and closes sessions.
	Authority Authority
	Log       hclog.Logger
	// Clock decides session expiry; it is read once per socket read.
	Clock clock.Clock
	// NodeID is reported to clients in welcome.
	NodeID string
	// Window is the session window (invocations in flight) granted when a
	// client asks for none or for more. A session keeps a ring of 2×Window
	// (rounded up to a power of two) 24-byte slots, so with MaxSessions
	// this bounds a connection's session memory.
	Window int
	// MaxConns bounds concurrent connections; MaxSessions the sessions open
	// on one connection.
	MaxConns    int
	MaxSessions int
	// HandshakeTimeout bounds the wait for hello; WriteTimeout one write
	// of responses (a client that stops reading is disconnected);
	// OpenTimeout an authority decision; CloseTimeout the wait for a closing
	// session's invocations in flight. FrameTimeout bounds how long a frame
	// may take to arrive once it has begun; IdleTimeout how long a
	// connection with no open session may stay silent.
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	OpenTimeout      time.Duration
	CloseTimeout     time.Duration
	FrameTimeout     time.Duration
	IdleTimeout      time.Duration
}

// DefaultConfig returns the defaults (no dispatcher or authority).
func DefaultConfig() Config {
	return Config{
		Clock: clock.System{}, Window: 1024, MaxConns: limits.MaxHotConns, MaxSessions: limits.MaxHotSessionsPerConn,
		HandshakeTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second,
		OpenTimeout: 10 * time.Second, CloseTimeout: 5 * time.Second,
		FrameTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.Log == nil {
		c.Log = hclog.NewNullLogger()
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	for _, p := range []struct{ v, d *int }{{&c.Window, &d.Window}, {&c.MaxConns, &d.MaxConns}, {&c.MaxSessions, &d.MaxSessions}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	for _, p := range []struct{ v, d *time.Duration }{{&c.HandshakeTimeout, &d.HandshakeTimeout},
		{&c.WriteTimeout, &d.WriteTimeout}, {&c.OpenTimeout, &d.OpenTimeout}, {&c.CloseTimeout, &d.CloseTimeout},
		{&c.FrameTimeout, &d.FrameTimeout}, {&c.IdleTimeout, &d.IdleTimeout}} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Dispatcher == nil:
		return fmt.Errorf("%w: no dispatcher", proto.ErrBadConfig)
	case c.Authority == nil:
		return fmt.Errorf("%w: no authority", proto.ErrBadConfig)
	case c.Window < 1 || c.Window > limits.MaxSessionWindow:
		return fmt.Errorf("%w: window %d outside [1, %d]", proto.ErrBadConfig, c.Window, limits.MaxSessionWindow)
	case c.MaxConns < 1:
		return fmt.Errorf("%w: max conns %d", proto.ErrBadConfig, c.MaxConns)
	case c.MaxSessions < 1 || c.MaxSessions > limits.MaxHotSessionsPerConn:
		return fmt.Errorf("%w: max sessions %d outside [1, %d]", proto.ErrBadConfig, c.MaxSessions, limits.MaxHotSessionsPerConn)
	case c.HandshakeTimeout < 0 || c.WriteTimeout < 0 || c.OpenTimeout < 0 || c.CloseTimeout < 0 || c.FrameTimeout < 0 || c.IdleTimeout < 0:
		return fmt.Errorf("%w: negative timeout", proto.ErrBadConfig)
	}
	return nil
}

// Server serves the hot-path protocol.
type Server struct {
	cfg    Config
	log    hclog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// preAuth holds a token per connection that has not yet opened a
	// session (limits.MaxHotPreAuthConns).
	preAuth chan struct{}

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup

	accepted, rejected, opened atomic.Uint64
	refused, protocolErrors    atomic.Uint64
	chunkStalls, outputStalls  atomic.Uint64
}

// New returns a server; it serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, log: cfg.Log.Named("hotwire"), ctx: ctx, cancel: cancel, done: make(chan struct{}),
		preAuth:   make(chan struct{}, limits.MaxHotPreAuthConns),
		listeners: make(map[net.Listener]struct{}), conns: make(map[*conn]struct{}),
	}, nil
}

// Serve accepts connections on l until Close, then returns
// proto.ErrServerClosed. Any other accept error is returned as is. l is
// closed on return.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return proto.ErrServerClosed
	}
	defer s.untrack(l)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return proto.ErrServerClosed
			}
			if retryableAccept(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.start(nc)
	}
}

// retryableAccept reports accept errors that pass (out of descriptors, an
// aborted handshake, a timeout): the loop backs off instead of ending.
func retryableAccept(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || (errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) start(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closed || len(s.conns) >= s.cfg.MaxConns {
		closed := s.closed
		s.mu.Unlock()
		s.rejected.Add(1)
		go rejectConn(nc, closed, s.cfg.MaxConns)
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// rejectConn tells a connection over the limit why, then closes it.
func rejectConn(nc net.Conn, closed bool, max int) {
	err := fmt.Errorf("%w: limit %d", proto.ErrTooManyConns, max)
	if closed {
		err = proto.ErrServerClosed
	}
	m := proto.NewErrorMsg(err)
	m.Fatal = true
	if b, e := proto.AppendControl(nil, proto.FrameError, m); e == nil {
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(b)
	}
	_ = nc.Close()
}

// Close stops accepting, ends every connection (each session's invocations
// in flight are answered first, then the client gets a fatal
// proto.ErrServerClosed), tells the authority about every session and
// returns when all is done. It does not stop the dispatcher.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.done)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.cancel()
	return nil
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Stats are a server's counters.
type Stats struct {
	Conns          int    `json:"conns"`
	Accepted       uint64 `json:"accepted_conns"`
	Rejected       uint64 `json:"rejected_conns"`
	SessionsOpened uint64 `json:"sessions_opened"`
	Refused        uint64 `json:"refused_invocations"`
	ProtocolErrors uint64 `json:"protocol_errors"`
	// ChunkStalls counts the times a connection stopped reading because
	// invocations in flight pinned all its read chunks; OutputStalls the
	// times it stopped because too many responses waited to be written.
	ChunkStalls  uint64 `json:"chunk_stalls"`
	OutputStalls uint64 `json:"output_stalls"`
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return Stats{
		Conns: n, Accepted: s.accepted.Load(), Rejected: s.rejected.Load(), SessionsOpened: s.opened.Load(),
		Refused: s.refused.Load(), ProtocolErrors: s.protocolErrors.Load(),
		ChunkStalls: s.chunkStalls.Load(), OutputStalls: s.outputStalls.Load(),
	}
}
