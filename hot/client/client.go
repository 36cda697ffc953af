package client

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Options configure a client connection.
type Options struct {
	// Key is the private key the certificates were issued to; it signs the
	// proof of possession when a session opens.
	Key ed25519.PrivateKey
	// DialTimeout bounds the TCP connect and the hello exchange (default 5s).
	DialTimeout time.Duration
	// Window is the session window to ask for; 0 takes the server's.
	Window int
	// WriteTimeout bounds one write of requests (default 10s).
	WriteTimeout time.Duration
	// Name is sent in hello, for the server's logs.
	Name string
	Log  hclog.Logger
	// TLS, when set, speaks the protocol over TLS (a node started with
	// --tls-cert serves its hot path over TLS).
	TLS *tls.Config
}

// Conn is a client connection to a hot-path server. Its methods are safe
// for concurrent use.
type Conn struct {
	nc      net.Conn
	opts    Options
	log     hclog.Logger
	out     *proto.OutQueue
	welcome proto.WelcomeMsg

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]chan ctlReply
	sessions map[uint32]*Session
	err      error // why the connection ended
	done     chan struct{}
	res      Result // reused for every callback (reader-owned)
}

type ctlReply struct {
	t   proto.FrameType
	msg any
	err error
}

// Dial connects to a hot-path server and exchanges hello and welcome.
func Dial(addr string, opts Options) (*Conn, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	nc, err := dial(addr, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", proto.ErrConnClosed, err)
	}
	c := &Conn{
		nc: nc, opts: opts, log: opts.Log.Named("hotwire-client"), out: proto.NewOutQueue(),
		pending: make(map[uint64]chan ctlReply), sessions: make(map[uint32]*Session), done: make(chan struct{}),
	}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	go c.out.Run(nc, opts.WriteTimeout)
	go c.readLoop()
	return c, nil
}

// handshake sends hello and reads welcome synchronously.
func (c *Conn) handshake() error {
	_ = c.nc.SetDeadline(time.Now().Add(c.opts.DialTimeout))
	defer c.nc.SetDeadline(time.Time{})
	b, err := proto.AppendControl(nil, proto.FrameHello, proto.HelloMsg{Magic: proto.Magic, Version: proto.Version, Client: c.opts.Name})
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("%w: hello: %w", proto.ErrConnClosed, err)
	}
	t, body, err := proto.ReadFrame(c.nc)
	if err != nil {
		return fmt.Errorf("%w: welcome: %w", proto.ErrConnClosed, err)
	}
	switch t {
	case proto.FrameWelcome:
		if err := proto.ParseControl(t, body, &c.welcome); err != nil {
			return err
		}
		if c.welcome.Version != proto.Version || len(c.welcome.Challenge) != proto.ChallengeSize {
			return fmt.Errorf("%w: welcome version %d", proto.ErrProtocol, c.welcome.Version)
		}
		return nil
	case proto.FrameError:
		var m proto.ErrorMsg
		if err := proto.ParseControl(t, body, &m); err != nil {
			return err
		}
		return m.Err()
	}
	return fmt.Errorf("%w: expected welcome, got %s", proto.ErrProtocol, t)
}

// Node is the server's node ID from welcome.
func (c *Conn) Node() string { return c.welcome.Node }

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is up).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection: invocations in flight fail with
// proto.ErrConnClosed. The server closes the sessions and answers nothing
// more.
func (c *Conn) Close() error {
	c.shutdown(proto.ErrConnClosed)
	return nil
}

// shutdown ends the connection once, failing everything pending with err.
func (c *Conn) shutdown(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending, sessions := c.pending, c.sessions
	c.pending, c.sessions = map[uint64]chan ctlReply{}, map[uint32]*Session{}
	c.mu.Unlock()
	c.nc.Close()
	c.out.Close()
	for _, ch := range pending {
		ch <- ctlReply{err: err}
	}
	for _, s := range sessions {
		s.end(err)
	}
	close(c.done)
}

// request sends a control frame and waits for its reply.
func (c *Conn) request(ctx context.Context, t proto.FrameType, build func(id uint64) any) (ctlReply, error) {
	ch := make(chan ctlReply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return ctlReply{}, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	b, err := proto.AppendControl(nil, t, build(id))
	if err != nil {
		c.cancel(id)
		return ctlReply{}, err
	}
	c.out.Push(b)
	select {
	case r := <-ch:
		return r, r.err
	case <-ctx.Done():
		c.cancel(id)
		return ctlReply{}, ctx.Err()
	}
}

func (c *Conn) cancel(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// reply delivers a control reply to its waiter.
func (c *Conn) reply(id uint64, r ctlReply) bool {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
	return ch != nil
}

// readLoop reads and dispatches server frames until the connection ends.
// Result outputs are borrowed from its buffer while callbacks run.
func (c *Conn) readLoop() {
	buf := make([]byte, limits.HotReadChunkBytes)
	r, w := 0, 0
	var err error
	for err == nil {
		buf, r, w, err = c.readMore(buf, r, w)
		for err == nil {
			t, body, n, derr := proto.DecodeFrame(buf[r:w], limits.MaxHotFrameBytes)
			if derr != nil || n == 0 {
				err = derr
				break
			}
			r += n
			err = c.dispatch(t, body)
		}
		if r == w {
			r, w = 0, 0
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: %w", proto.ErrConnClosed, err)
	}
	c.shutdown(err)
}

// readMore makes room (moving the partial frame to the front, or growing
// the buffer for a frame longer than it) and reads.
func (c *Conn) readMore(buf []byte, r, w int) ([]byte, int, int, error) {
	size, err := proto.FrameSize(buf[r:w], limits.MaxHotFrameBytes)
	if err != nil {
		return buf, r, w, err
	}
	if size > len(buf) {
		nb := make([]byte, size)
		buf, r, w = nb, 0, copy(nb, buf[r:w])
	} else if len(buf)-w < proto.MinRead || r+size > len(buf) {
		w = copy(buf, buf[r:w])
		r = 0
	}
	n, err := c.nc.Read(buf[w:])
	if n > 0 {
		return buf, r, w + n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return buf, r, w, err
}

func (c *Conn) dispatch(t proto.FrameType, body []byte) error {
	switch t {
	case proto.FrameResult, proto.FrameRefused:
		r, err := proto.ParseResult(t, body)
		if err != nil {
			return err
		}
		c.session(r.Session).deliver(&r)
		return nil
	case proto.FrameOpened, proto.FrameClosed, proto.FrameError:
		return c.onControl(t, body)
	}
	return fmt.Errorf("%w: %s from server", proto.ErrUnknownFrame, t)
}

func (c *Conn) session(id uint32) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

func (c *Conn) onControl(t proto.FrameType, body []byte) error {
	switch t {
	case proto.FrameOpened:
		var m proto.OpenedMsg
		if err := proto.ParseControl(t, body, &m); err != nil {
			return err
		}
		if !c.reply(m.ID, ctlReply{t: t, msg: m}) {
			// Its OpenSession gave up waiting: close the orphan.
			c.out.Push(proto.AppendControlOrLog(nil, proto.FrameClose, proto.CloseMsg{Session: m.Session}, c.log))
		}
	case proto.FrameClosed:
		var m proto.ClosedMsg
		if err := proto.ParseControl(t, body, &m); err != nil {
			return err
		}
		c.reply(m.ID, ctlReply{t: t, msg: m})
	case proto.FrameError:
		var m proto.ErrorMsg
		if err := proto.ParseControl(t, body, &m); err != nil {
			return err
		}
		return c.onError(m)
	}
	return nil
}

// onError routes an error frame: the end of the connection (fatal), the
// answer to a request (id), the end of a session (session), or a complaint
// about a frame the client sent.
func (c *Conn) onError(m proto.ErrorMsg) error {
	err := m.Err()
	switch {
	case m.Fatal:
		return err
	case m.ID != 0:
		c.reply(m.ID, ctlReply{t: proto.FrameError, err: err})
	case m.Session != 0:
		if s := c.session(m.Session); s != nil {
			s.kill(err)
		}
	default:
		c.log.Warn("server reported an error", "error", err)
	}
	return nil
}

// dial connects to addr, over TLS when the options ask for it.
func dial(addr string, opts Options) (net.Conn, error) {
	d := &net.Dialer{Timeout: opts.DialTimeout}
	if opts.TLS != nil {
		return tls.DialWithDialer(d, "tcp", addr, opts.TLS)
	}
	return d.Dial("tcp", addr)
}
