package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// conn is one server connection: a reader goroutine that parses frames and
// submits invocations, and a writer goroutine draining the proto.OutQueue.
type conn struct {
	srv  *Server
	nc   net.Conn
	log  hclog.Logger
	out  *proto.OutQueue
	pool *chunkPool

	// Reader-owned.
	cur   *chunk
	r, w  int
	local []byte // frames produced while processing one read
	now   int64
	hello bool
	// authed is set once a session is open: from then on the reader uses
	// read chunks instead of frame-sized buffers.
	authed   atomic.Bool
	preAuth  bool // holds a srv.preAuth token
	lastID   uint32
	last     *session
	fatal    error // a protocol error that ends the connection
	stopping atomic.Bool

	challenge [proto.ChallengeSize]byte

	mu       sync.Mutex
	sessions map[uint32]*session   // by id, until the client closes them
	live     map[*session]struct{} // not yet torn down
	reserved int
	nextID   uint32
	closing  bool
	opens    sync.WaitGroup
}

func newConn(srv *Server, nc net.Conn) *conn {
	return &conn{
		srv: srv, nc: nc, log: srv.log.With("remote", nc.RemoteAddr().String()),
		out: proto.NewOutQueue(), pool: newChunkPool(limits.HotReadChunkBytes, limits.MaxHotConnChunks, &srv.chunkStalls),
		sessions: make(map[uint32]*session), live: make(map[*session]struct{}),
	}
}

// serve runs the connection until the peer leaves, framing is lost or the
// server closes.
func (c *conn) serve() {
	go c.out.Run(c.nc, c.srv.cfg.WriteTimeout)
	err := c.authenticate()
	if err == nil {
		err = c.readLoop()
	}
	c.finish(err)
}

// stop makes the reader return (server close).
func (c *conn) stop() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// deadline sets the next read's deadline (zero d: none), unless the server
// is stopping the reader.
func (c *conn) deadline(d time.Duration) {
	t := time.Time{}
	if d > 0 {
		t = time.Now().Add(d)
	}
	_ = c.nc.SetReadDeadline(t)
	if c.stopping.Load() {
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// authenticate serves the connection until a session is open. Frames are
// read one at a time into buffers that grow only as their bytes arrive, at
// most limits.MaxHotControlBytes, each within FrameTimeout once begun; the
// hello must come within HandshakeTimeout. So a peer that has proved
// nothing holds only what it sent, for seconds, and at most
// limits.MaxHotPreAuthConns such peers are served at once.
func (c *conn) authenticate() error {
	select {
	case c.srv.preAuth <- struct{}{}:
		c.preAuth = true
	default:
		c.srv.rejected.Add(1)
		c.fatal = fmt.Errorf("%w: %d connections are opening sessions", proto.ErrTooManyConns, limits.MaxHotPreAuthConns)
		return c.fatal
	}
	defer c.releasePreAuth()
	cfg := &c.srv.cfg
	wait := cfg.HandshakeTimeout
	for !c.authed.Load() {
		frame, err := c.readFrame(wait)
		if err != nil {
			return err
		}
		if c.authed.Load() {
			return c.startChunks(frame)
		}
		t := proto.FrameType(frame[proto.LenSize])
		if err := c.handle(t, frame[proto.HeaderSize:], nil); err != nil {
			c.fatal = err
			return err
		}
		c.flushLocal()
		// A client waits for an authority decision before its next frame.
		wait = cfg.HandshakeTimeout + cfg.OpenTimeout
	}
	return c.startChunks(nil)
}

func (c *conn) releasePreAuth() {
	if c.preAuth {
		c.preAuth = false
		<-c.srv.preAuth
	}
}

// readFrame reads one frame: its length within wait, the rest within
// FrameTimeout. Before a session is open a frame may be at most
// limits.MaxHotControlBytes.
func (c *conn) readFrame(wait time.Duration) ([]byte, error) {
	c.deadline(wait)
	var h [proto.HeaderSize]byte
	if _, err := io.ReadFull(c.nc, h[:proto.LenSize]); err != nil {
		return nil, err
	}
	limit := limits.MaxHotControlBytes
	if c.authed.Load() { // the client saw its session opened
		limit = limits.MaxHotFrameBytes
	}
	size, err := proto.FrameSize(h[:proto.LenSize], limit)
	if err != nil {
		c.fatal = err
		return nil, err
	}
	c.deadline(c.srv.cfg.FrameTimeout)
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 1<<10)))
	buf.Write(h[:proto.LenSize])
	if _, err := io.CopyN(buf, c.nc, int64(size-proto.LenSize)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// startChunks moves to chunked reading with the frame already read.
func (c *conn) startChunks(frame []byte) error {
	c.releasePreAuth()
	var ok bool
	if c.cur, ok = c.pool.get(c.srv.done); !ok {
		return proto.ErrServerClosed
	}
	c.w = copy(c.cur.buf, frame)
	return c.process()
}

func (c *conn) readLoop() error {
	for {
		if err := c.fill(); err != nil {
			return err
		}
		c.now = c.srv.cfg.Clock.Now().UnixNano()
		err := c.process()
		c.flushLocal()
		if err != nil {
			return err
		}
		if err := c.waitRoom(); err != nil {
			return err
		}
	}
}

// fill reads more bytes, first moving to a fresh chunk when the current one
// cannot take a useful read or the partial frame at its end.
func (c *conn) fill() error {
	size, _ := proto.FrameSize(c.cur.buf[c.r:c.w], limits.MaxHotFrameBytes)
	if len(c.cur.buf)-c.w < proto.MinRead || (size > 0 && c.r+size > len(c.cur.buf)) {
		if err := c.rotate(); err != nil {
			return err
		}
	}
	c.setReadTimeout()
	n, err := c.nc.Read(c.cur.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// setReadTimeout sets the deadline of the next read: a frame that has
// begun must arrive within FrameTimeout; a connection with no live session
// may be silent for IdleTimeout; one serving sessions waits for its
// client. It holds c.mu so that forget, which arms the idle timeout when
// the last session goes, and the reader agree.
func (c *conn) setReadTimeout() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.w > c.r:
		c.deadline(c.srv.cfg.FrameTimeout)
	case c.idleLocked():
		c.deadline(c.srv.cfg.IdleTimeout)
	default:
		c.deadline(0)
	}
}

func (c *conn) idleLocked() bool { return len(c.live) == 0 && c.reserved == 0 }

// rotate moves the unparsed tail into a fresh chunk and retires the current
// one; it waits when every chunk is pinned by invocations in flight.
func (c *conn) rotate() error {
	next, ok := c.pool.get(c.srv.done)
	if !ok {
		return proto.ErrServerClosed
	}
	n := copy(next.buf, c.cur.buf[c.r:c.w])
	if c.cur != nil {
		c.cur.retire()
	}
	c.cur, c.r, c.w = next, 0, n
	return nil
}

// process handles every complete frame in the buffer.
func (c *conn) process() error {
	for {
		t, body, n, err := proto.DecodeFrame(c.cur.buf[c.r:c.w], limits.MaxHotFrameBytes)
		if err != nil {
			c.fatal = err
			return err
		}
		if n == 0 {
			return nil
		}
		c.r += n
		if err := c.handle(t, body, c.cur); err != nil {
			c.fatal = err
			return err
		}
	}
}

// handle dispatches one frame; only errors that end the connection are
// returned.
func (c *conn) handle(t proto.FrameType, body []byte, ch *chunk) error {
	if !c.hello {
		return c.onHello(t, body)
	}
	switch t {
	case proto.FrameInvoke:
		c.onInvoke(body, ch)
	case proto.FrameOpen:
		c.onOpen(body)
	case proto.FrameClose:
		c.onClose(body)
	case proto.FrameHello:
		c.localError(fmt.Errorf("%w: second hello", proto.ErrProtocol))
	default:
		c.localError(fmt.Errorf("%w: %s", proto.ErrUnknownFrame, t))
	}
	return nil
}

func (c *conn) onHello(t proto.FrameType, body []byte) error {
	if t != proto.FrameHello {
		return fmt.Errorf("%w: expected hello, got %s", proto.ErrProtocol, t)
	}
	var m proto.HelloMsg
	if err := proto.ParseControl(t, body, &m); err != nil {
		return fmt.Errorf("%w: %v", proto.ErrProtocol, err)
	}
	if m.Magic != proto.Magic || m.Version != proto.Version {
		return fmt.Errorf("%w: hello %q version %d, want %q version %d", proto.ErrProtocol, m.Magic, m.Version, proto.Magic, proto.Version)
	}
	if _, err := rand.Read(c.challenge[:]); err != nil {
		return err
	}
	c.hello = true
	cfg := &c.srv.cfg
	c.sendControl(proto.FrameWelcome, proto.WelcomeMsg{
		Version: proto.Version, Node: cfg.NodeID, Challenge: c.challenge[:], MaxFrame: limits.MaxHotFrameBytes,
		MaxArgs: limits.MaxHotArgsBytes, MaxWindow: cfg.Window, MaxSessions: cfg.MaxSessions,
	})
	return nil
}

func (c *conn) onInvoke(body []byte, ch *chunk) {
	id, seq, args, err := proto.ParseInvoke(body)
	if err != nil {
		c.localError(err)
		return
	}
	var s *session
	if ch != nil { // before a session is open (no chunk) there is none to find
		s = c.lookup(id)
	}
	if s == nil {
		c.local = proto.AppendRefused(c.local, id, seq, proto.ErrUnknownSession)
		c.srv.refused.Add(1)
		return
	}
	if err := s.invoke(seq, args, ch, c.now); err != nil {
		s.refused.Add(1)
		c.srv.refused.Add(1)
		c.local = proto.AppendRefused(c.local, id, seq, err)
	}
}

// lookup finds a session, remembering the last one: a connection usually
// streams many invocations of one session in a row.
func (c *conn) lookup(id uint32) *session {
	if id == c.lastID && c.last != nil {
		return c.last
	}
	c.mu.Lock()
	s := c.sessions[id]
	c.mu.Unlock()
	c.last, c.lastID = s, id
	return s
}

func (c *conn) onOpen(body []byte) {
	var m proto.OpenMsg
	if err := proto.ParseControl(proto.FrameOpen, body, &m); err != nil {
		c.localError(err)
		return
	}
	c.mu.Lock()
	// Sessions the client has not closed count (also expired or revoked
	// ones), and so do those still tearing down.
	if max(len(c.sessions), len(c.live))+c.reserved >= c.srv.cfg.MaxSessions {
		c.mu.Unlock()
		c.replyError(m.ID, fmt.Errorf("%w: limit %d", proto.ErrTooManySessions, c.srv.cfg.MaxSessions))
		return
	}
	c.reserved++
	c.mu.Unlock()
	c.opens.Add(1)
	go c.open(m)
}

// open grants and registers a session (its own goroutine: the authority
// may block).
func (c *conn) open(m proto.OpenMsg) {
	defer c.opens.Done()
	s, err := c.grant(m)
	c.mu.Lock()
	c.reserved--
	if err == nil && c.closing {
		c.mu.Unlock()
		s.teardown()
		return
	}
	if err != nil {
		c.mu.Unlock()
		c.replyError(m.ID, err)
		return
	}
	c.nextID++
	s.id = c.nextID
	c.sessions[s.id] = s
	c.live[s] = struct{}{}
	c.mu.Unlock()
	c.authed.Store(true)
	c.srv.opened.Add(1)
	if s.grant.Revoked != nil {
		go s.watch()
	}
	g := s.grant
	c.sendControl(proto.FrameOpened, proto.OpenedMsg{
		ID: m.ID, Session: s.id, Key: g.Key, Capability: string(g.Capability), Agent: g.AgentID,
		Tenant: g.TenantID, Window: s.window, Shard: s.hs.Shard(), ExpiresAt: g.ExpiresAt,
	})
}

// grant checks the proof of possession, asks the authority and opens the
// dispatcher session.
func (c *conn) grant(m proto.OpenMsg) (*session, error) {
	if len(m.PublicKey) != ed25519.PublicKeySize ||
		!ed25519.Verify(m.PublicKey, proto.ProofMessage(c.challenge[:], m.Certificate), m.Signature) {
		return nil, proto.ErrBadProof
	}
	cfg := &c.srv.cfg
	ctx, cancel := context.WithTimeout(c.srv.ctx, cfg.OpenTimeout)
	defer cancel()
	g, err := cfg.Authority.OpenSession(ctx, m.Certificate, ed25519.PublicKey(m.PublicKey))
	if err != nil {
		return nil, err
	}
	window := cfg.Window
	if m.Window > 0 && m.Window < window {
		window = m.Window
	}
	s := newSession(c, g, window)
	s.hs, err = cfg.Dispatcher.OpenSession(hotpath.SessionOptions{
		Key: g.Key, Agent: g.Agent, Tenant: g.Tenant, CapIndex: g.CapIndex, Correlation: g.Correlation,
		Allowed: g.Allowed, Sink: s, Quota: g.Quota, Window: window,
	})
	if err != nil {
		if cerr := cfg.Authority.CloseSession(ctx, g, Usage{}); cerr != nil {
			c.log.Warn("authority close failed", "key", g.Key, "error", cerr)
		}
		return nil, err
	}
	return s, nil
}

func (c *conn) onClose(body []byte) {
	var m proto.CloseMsg
	if err := proto.ParseControl(proto.FrameClose, body, &m); err != nil {
		c.localError(err)
		return
	}
	c.mu.Lock()
	s := c.sessions[m.Session]
	delete(c.sessions, m.Session)
	c.mu.Unlock()
	if c.lastID == m.Session {
		c.last, c.lastID = nil, 0
	}
	if s == nil {
		c.replyError(m.ID, fmt.Errorf("%w: %d", proto.ErrUnknownSession, m.Session))
		return
	}
	c.flushLocal() // refusals for this session go out before closed
	go func() {
		s.teardown()
		c.sendControl(proto.FrameClosed, proto.ClosedMsg{ID: m.ID, Session: s.id, Accepted: s.usage.Accepted, Refused: s.usage.Refused})
	}()
}

// forget drops a torn-down session.
func (c *conn) forget(s *session) {
	c.mu.Lock()
	delete(c.live, s)
	if c.idleLocked() && c.authed.Load() {
		c.deadline(c.srv.cfg.IdleTimeout)
	}
	c.mu.Unlock()
}

// localError queues a non-fatal error frame from the reader.
func (c *conn) localError(err error) {
	c.srv.protocolErrors.Add(1)
	c.local = proto.AppendControlOrLog(c.local, proto.FrameError, proto.NewErrorMsg(err), c.log)
}

// replyError answers a control request with an error.
func (c *conn) replyError(id uint64, err error) {
	m := proto.NewErrorMsg(err)
	m.ID = id
	c.sendControl(proto.FrameError, m)
}

// sendControl queues a control frame from any goroutine.
func (c *conn) sendControl(t proto.FrameType, v any) {
	c.out.Push(proto.AppendControlOrLog(nil, t, v, c.log))
}

func (c *conn) flushLocal() {
	if len(c.local) > 0 {
		c.out.Push(c.local)
		c.local = c.local[:0]
	}
}

// waitRoom stops reading while too many responses wait to be written.
func (c *conn) waitRoom() error {
	if c.out.Pending() > limits.MaxHotConnPendingBytes {
		c.srv.outputStalls.Add(1)
	}
	for c.out.Pending() > limits.MaxHotConnPendingBytes {
		select {
		case <-c.out.Room():
		case <-c.out.Done():
			return proto.ErrConnClosed
		case <-c.srv.done:
			return proto.ErrServerClosed
		}
	}
	return nil
}

// finish tears the connection down: a last error frame when the protocol
// or the server ended it, every session closed (their in-flight
// invocations answered), then the queued frames written and the socket
// closed.
func (c *conn) finish(err error) {
	switch {
	case c.fatal != nil:
		c.srv.protocolErrors.Add(1)
		c.log.Debug("closing connection after a protocol error", "error", c.fatal)
		c.sendFatal(c.fatal)
	case c.stopping.Load() || errors.Is(err, proto.ErrServerClosed):
		c.sendFatal(proto.ErrServerClosed)
	}
	c.mu.Lock()
	c.closing = true
	live := make([]*session, 0, len(c.live))
	for s := range c.live {
		live = append(live, s)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range live {
		wg.Add(1)
		go func() { defer wg.Done(); s.teardown() }()
	}
	wg.Wait()
	c.opens.Wait()
	c.out.Close()
	<-c.out.Done()
	_ = c.nc.Close()
	if c.cur != nil {
		c.cur.retire()
	}
}

func (c *conn) sendFatal(err error) {
	m := proto.NewErrorMsg(err)
	m.Fatal = true
	c.sendControl(proto.FrameError, m)
}
