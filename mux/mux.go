package mux

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config configures a Mux.
type Config struct {
	// ServerTLS secures accepted connections and ClientTLS dialed ones;
	// set both or neither. ServerTLS decides who may connect (its
	// ClientAuth and VerifyConnection).
	ServerTLS, ClientTLS *tls.Config
	// Token, without TLS, authenticates connections by challenge and
	// response; without TLS and without a token nothing is authenticated
	// (loopback development only).
	Token string
	// Handshake bounds the time from accept (or dial) to the protocol
	// byte (default 5s).
	Handshake time.Duration
	// Idle closes an accepted connection that reads nothing this long
	// (0: never).
	Idle time.Duration
	// MaxPending bounds connections not yet authenticated (default 32);
	// more are closed at once.
	MaxPending int
	// PreAuthBytes bounds what an unauthenticated connection may make the
	// mux read (default 8 KiB; a TLS 1.3 client flight with a certificate
	// is about 2 KiB).
	PreAuthBytes int64
	// MaxPerPeer bounds the authenticated connections of one peer (its
	// certificate's identity, else its IP; default 64).
	MaxPerPeer int
	// Dial dials a raw connection (nil: net.DialTimeout over TCP).
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
	// Identity names the peer of an authenticated TLS connection (for the
	// per-peer cap and logs); nil: the certificate's subject CN.
	Identity func(tls.ConnectionState) string
	Logger   hclog.Logger
}

func (c *Config) defaults() error {
	if (c.ServerTLS == nil) != (c.ClientTLS == nil) {
		return errors.New("mux: ServerTLS and ClientTLS go together")
	}
	if c.Handshake == 0 {
		c.Handshake = 5 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 32
	}
	if c.PreAuthBytes == 0 {
		c.PreAuthBytes = 8 << 10
	}
	if c.MaxPerPeer == 0 {
		c.MaxPerPeer = 64
	}
	if c.Dial == nil {
		c.Dial = func(a string, t time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, t) }
	}
	if c.Identity == nil {
		c.Identity = func(cs tls.ConnectionState) string {
			if len(cs.PeerCertificates) == 0 {
				return ""
			}
			return cs.PeerCertificates[0].Subject.CommonName
		}
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return nil
}

// Stats are a mux's counters.
type Stats struct {
	Accepted, Authenticated, Refused, Shed uint64
}

// Mux serves protocols on one listener.
type Mux struct {
	cfg     Config
	ln      net.Listener
	log     hclog.Logger
	pending chan struct{}
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	subs    map[byte]*Listener
	perPeer map[string]int

	accepted, authenticated, refused, shed atomic.Uint64
}

// New serves ln until Close.
func New(ln net.Listener, cfg Config) (*Mux, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := &Mux{cfg: cfg, ln: ln, log: cfg.Logger.Named("mux"), pending: make(chan struct{}, cfg.MaxPending),
		done: make(chan struct{}), subs: map[byte]*Listener{}, perPeer: map[string]int{}}
	go m.serve()
	return m, nil
}

// Listen returns the listener of one protocol (one per byte).
func (m *Mux) Listen(proto byte) *Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.subs[proto]; ok {
		return l
	}
	l := &Listener{m: m, proto: proto, ch: make(chan net.Conn)}
	m.subs[proto] = l
	return l
}

// Addr is the listener's address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Stats returns the counters.
func (m *Mux) Stats() Stats {
	return Stats{Accepted: m.accepted.Load(), Authenticated: m.authenticated.Load(), Refused: m.refused.Load(), Shed: m.shed.Load()}
}

// Close stops accepting and closes the listener; handed-off connections
// stay with their owners.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

func (m *Mux) serve() {
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.log.Warn("accept failed; retrying", "error", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		m.accepted.Add(1)
		select {
		case m.pending <- struct{}{}:
			go func() {
				defer func() { <-m.pending }()
				m.handle(c)
			}()
		default:
			m.shed.Add(1)
			c.Close() // too many strangers at once
		}
	}
}

// handle authenticates one connection and hands it to its protocol.
func (m *Mux) handle(raw net.Conn) {
	bc := &budgetConn{Conn: raw}
	bc.left.Store(m.cfg.PreAuthBytes)
	_ = raw.SetDeadline(time.Now().Add(m.cfg.Handshake))
	conn, proto, peer, err := m.authenticate(bc)
	if err != nil {
		m.refused.Add(1)
		m.log.Debug("connection refused", "remote", raw.RemoteAddr().String(), "error", err)
		raw.Close()
		return
	}
	l, ok := m.listener(proto)
	if !ok || !m.acquire(peer) {
		m.refused.Add(1)
		m.log.Debug("connection refused", "remote", raw.RemoteAddr().String(), "proto", proto, "peer", peer, "known_proto", ok)
		raw.Close()
		return
	}
	bc.left.Store(-1)
	_ = raw.SetDeadline(time.Time{})
	m.authenticated.Add(1)
	pc := &peerConn{Conn: conn, idle: m.cfg.Idle, release: func() { m.release(peer) }}
	select {
	case l.ch <- pc:
	case <-time.After(m.cfg.Handshake):
		pc.Close()
	case <-m.done:
		pc.Close()
	}
}

func (m *Mux) listener(proto byte) (*Listener, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.subs[proto]
	return l, ok
}

// authenticate runs the server side of the handshake and returns the
// connection to use, the protocol byte and the peer's name.
func (m *Mux) authenticate(bc *budgetConn) (net.Conn, byte, string, error) {
	var b [1]byte
	switch {
	case m.cfg.ServerTLS != nil:
		tc := tls.Server(bc, m.cfg.ServerTLS)
		if err := tc.Handshake(); err != nil {
			return nil, 0, "", err
		}
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			return nil, 0, "", err
		}
		return tc, b[0], m.cfg.Identity(tc.ConnectionState()), nil
	case m.cfg.Token != "":
		var nonce [nonceSize]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, 0, "", err
		}
		if _, err := bc.Write(nonce[:]); err != nil {
			return nil, 0, "", err
		}
		var resp [1 + sha256.Size]byte
		if _, err := io.ReadFull(bc, resp[:]); err != nil {
			return nil, 0, "", err
		}
		want := tokenMAC(m.cfg.Token, nonce[:], resp[0])
		if subtle.ConstantTimeCompare(resp[1:], want) != 1 {
			return nil, 0, "", ErrBadToken
		}
		return bc, resp[0], hostOf(bc.RemoteAddr()), nil
	}
	if _, err := io.ReadFull(bc, b[:]); err != nil {
		return nil, 0, "", err
	}
	return bc, b[0], hostOf(bc.RemoteAddr()), nil
}

// ErrBadToken is a peer that does not know the cluster token.
var ErrBadToken = errors.New("mux: wrong cluster token")

const nonceSize = 16

func tokenMAC(token string, nonce []byte, proto byte) []byte {
	h := hmac.New(sha256.New, []byte(token))
	h.Write([]byte("cnv-mux-v1\n"))
	h.Write(nonce)
	h.Write([]byte{proto})
	return h.Sum(nil)
}

func hostOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

func (m *Mux) acquire(peer string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.perPeer[peer] >= m.cfg.MaxPerPeer {
		return false
	}
	m.perPeer[peer]++
	return true
}

func (m *Mux) release(peer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.perPeer[peer]--; m.perPeer[peer] <= 0 {
		delete(m.perPeer, peer)
	}
}

// Dial connects to the mux at addr and opens protocol proto on it.
func (m *Mux) Dial(proto byte, addr string, timeout time.Duration) (net.Conn, error) {
	raw, err := m.cfg.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(min(timeout, m.cfg.Handshake)))
	c, err := m.dialHandshake(raw, proto)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("mux: %s: %w", addr, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return c, nil
}

func (m *Mux) dialHandshake(raw net.Conn, proto byte) (net.Conn, error) {
	switch {
	case m.cfg.ClientTLS != nil:
		tc := tls.Client(raw, m.cfg.ClientTLS)
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		_, err := tc.Write([]byte{proto})
		return tc, err
	case m.cfg.Token != "":
		var nonce [nonceSize]byte
		if _, err := io.ReadFull(raw, nonce[:]); err != nil {
			return nil, err
		}
		_, err := raw.Write(append([]byte{proto}, tokenMAC(m.cfg.Token, nonce[:], proto)...))
		return raw, err
	}
	_, err := raw.Write([]byte{proto})
	return raw, err
}

// Listener is one protocol's side of a mux: a net.Listener of the
// connections that named it, and a dialer of the same protocol.
type Listener struct {
	m     *Mux
	proto byte
	ch    chan net.Conn
}

// Accept returns the next authenticated connection of this protocol.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

// Close closes the whole mux.
func (l *Listener) Close() error { return l.m.Close() }

// Addr is the mux's address.
func (l *Listener) Addr() net.Addr { return l.m.Addr() }

// Dial opens this protocol at addr.
func (l *Listener) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	return l.m.Dial(l.proto, addr, timeout)
}

// budgetConn limits what may be read before authentication (left < 0:
// unlimited).
type budgetConn struct {
	net.Conn
	left atomic.Int64
}

var errBudget = errors.New("mux: peer sent too much before authenticating")

func (c *budgetConn) Read(p []byte) (int, error) {
	l := c.left.Load()
	if l < 0 {
		return c.Conn.Read(p)
	}
	if l == 0 {
		return 0, errBudget
	}
	if int64(len(p)) > l {
		p = p[:l]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	return n, err
}

// peerConn is a handed-off connection: an idle deadline on every read, and
// its peer's slot released once on close.
type peerConn struct {
	net.Conn
	idle    time.Duration
	once    sync.Once
	release func()
}

func (c *peerConn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

func (c *peerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
