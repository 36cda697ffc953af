package hotwire

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

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
}

// Conn is a client connection to a hot-path server. Its methods are safe
// for concurrent use.
type Conn struct {
	nc      net.Conn
	opts    Options
	log     hclog.Logger
	out     *outQueue
	welcome welcomeMsg

	mu       sync.Mutex
	nextID   uint64
	pending  map[uint64]chan ctlReply
	sessions map[uint32]*Session
	err      error // why the connection ended
	done     chan struct{}
	res      Result // reused for every callback (reader-owned)
}

type ctlReply struct {
	t   frameType
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
	nc, err := net.DialTimeout("tcp", addr, opts.DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnClosed, err)
	}
	c := &Conn{
		nc: nc, opts: opts, log: opts.Log.Named("hotwire-client"), out: newOutQueue(),
		pending: make(map[uint64]chan ctlReply), sessions: make(map[uint32]*Session), done: make(chan struct{}),
	}
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	go c.out.run(nc, opts.WriteTimeout)
	go c.readLoop()
	return c, nil
}

// handshake sends hello and reads welcome synchronously.
func (c *Conn) handshake() error {
	_ = c.nc.SetDeadline(time.Now().Add(c.opts.DialTimeout))
	defer c.nc.SetDeadline(time.Time{})
	b, err := appendControl(nil, frameHello, helloMsg{Magic: Magic, Version: Version, Client: c.opts.Name})
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("%w: hello: %w", ErrConnClosed, err)
	}
	t, body, err := readFrame(c.nc)
	if err != nil {
		return fmt.Errorf("%w: welcome: %w", ErrConnClosed, err)
	}
	switch t {
	case frameWelcome:
		if err := parseControl(t, body, &c.welcome); err != nil {
			return err
		}
		if c.welcome.Version != Version || len(c.welcome.Challenge) != ChallengeSize {
			return fmt.Errorf("%w: welcome version %d", ErrProtocol, c.welcome.Version)
		}
		return nil
	case frameError:
		var m errorMsg
		if err := parseControl(t, body, &m); err != nil {
			return err
		}
		return m.err()
	}
	return fmt.Errorf("%w: expected welcome, got %s", ErrProtocol, t)
}

// readFrame reads one whole frame (handshake only).
func readFrame(r io.Reader) (frameType, []byte, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	size, err := frameSize(h[:], limits.MaxHotFrameBytes)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, size-headerSize)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return frameType(h[lenSize]), body, nil
}

func signProof(key ed25519.PrivateKey, challenge, certificateJSON []byte) (sig, pub []byte) {
	return ed25519.Sign(key, ProofMessage(challenge, certificateJSON)), key.Public().(ed25519.PublicKey)
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

// Close ends the connection: invocations in flight fail with ErrConnClosed.
// The server closes the sessions and answers nothing more.
func (c *Conn) Close() error {
	c.shutdown(ErrConnClosed)
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
	c.out.close()
	for _, ch := range pending {
		ch <- ctlReply{err: err}
	}
	for _, s := range sessions {
		s.end(err)
	}
	close(c.done)
}

// request sends a control frame and waits for its reply.
func (c *Conn) request(ctx context.Context, t frameType, build func(id uint64) any) (ctlReply, error) {
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
	b, err := appendControl(nil, t, build(id))
	if err != nil {
		c.cancel(id)
		return ctlReply{}, err
	}
	c.out.push(b)
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
			t, body, n, derr := decodeFrame(buf[r:w], limits.MaxHotFrameBytes)
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
		err = fmt.Errorf("%w: %w", ErrConnClosed, err)
	}
	c.shutdown(err)
}

// readMore makes room (moving the partial frame to the front, or growing
// the buffer for a frame longer than it) and reads.
func (c *Conn) readMore(buf []byte, r, w int) ([]byte, int, int, error) {
	size, err := frameSize(buf[r:w], limits.MaxHotFrameBytes)
	if err != nil {
		return buf, r, w, err
	}
	if size > len(buf) {
		nb := make([]byte, size)
		buf, r, w = nb, 0, copy(nb, buf[r:w])
	} else if len(buf)-w < minRead || r+size > len(buf) {
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

func (c *Conn) dispatch(t frameType, body []byte) error {
	switch t {
	case frameResult, frameRefused:
		r, err := parseResult(t, body)
		if err != nil {
			return err
		}
		c.session(r.session).deliver(&r)
		return nil
	case frameOpened, frameClosed, frameError:
		return c.onControl(t, body)
	}
	return fmt.Errorf("%w: %s from server", ErrUnknownFrame, t)
}

func (c *Conn) session(id uint32) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

func (c *Conn) onControl(t frameType, body []byte) error {
	switch t {
	case frameOpened:
		var m openedMsg
		if err := parseControl(t, body, &m); err != nil {
			return err
		}
		if !c.reply(m.ID, ctlReply{t: t, msg: m}) {
			// Its OpenSession gave up waiting: close the orphan.
			c.out.push(appendControlOrLog(nil, frameClose, closeMsg{Session: m.Session}, c.log))
		}
	case frameClosed:
		var m closedMsg
		if err := parseControl(t, body, &m); err != nil {
			return err
		}
		c.reply(m.ID, ctlReply{t: t, msg: m})
	case frameError:
		var m errorMsg
		if err := parseControl(t, body, &m); err != nil {
			return err
		}
		return c.onError(m)
	}
	return nil
}

// onError routes an error frame: the end of the connection (fatal), the
// answer to a request (id), the end of a session (session), or a complaint
// about a frame the client sent.
func (c *Conn) onError(m errorMsg) error {
	err := m.err()
	switch {
	case m.Fatal:
		return err
	case m.ID != 0:
		c.reply(m.ID, ctlReply{t: frameError, err: err})
	case m.Session != 0:
		if s := c.session(m.Session); s != nil {
			s.kill(err)
		}
	default:
		c.log.Warn("server reported an error", "error", err)
	}
	return nil
}
