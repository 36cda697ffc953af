package mux

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cnv-project/cnv/tlsutil"
)

func listen(t *testing.T, cfg Config) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// echo serves proto on m: every accepted connection echoes one line.
func echo(t *testing.T, m *Mux, proto byte) {
	l := m.Listen(proto)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 64)
				n, _ := c.Read(b)
				c.Write(append([]byte{proto}, b[:n]...))
			}()
		}
	}()
}

func roundTrip(dialer *Mux, proto byte, addr string) ([]byte, error) {
	c, err := dialer.Dial(proto, addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		return nil, err
	}
	b := make([]byte, 64)
	n, err := c.Read(b)
	return b[:n], err
}

func TestProtocolsShareOnePort(t *testing.T) {
	m := listen(t, Config{})
	echo(t, m, 'R')
	echo(t, m, 'C')
	for _, p := range []byte{'R', 'C'} {
		got, err := roundTrip(m, p, m.Addr().String())
		if err != nil || !bytes.Equal(got, []byte{p, 'h', 'i'}) {
			t.Fatalf("%c: %q %v", p, got, err)
		}
	}
	if got, _ := roundTrip(m, 'X', m.Addr().String()); len(got) > 0 {
		t.Fatal("an unknown protocol was served")
	}
}

func TestTokenChallenge(t *testing.T) {
	m := listen(t, Config{Token: "sixteen-chars-at-least", Handshake: 300 * time.Millisecond})
	echo(t, m, 'R')
	addr := m.Addr().String()
	good := listen(t, Config{Token: "sixteen-chars-at-least"})
	if got, err := roundTrip(good, 'R', addr); err != nil || string(got) != "Rhi" {
		t.Fatalf("right token: %q %v", got, err)
	}
	for name, d := range map[string]*Mux{"wrong token": listen(t, Config{Token: "another-token-entirely"}), "no token": listen(t, Config{})} {
		if got, _ := roundTrip(d, 'R', addr); string(got) == "Rhi" {
			t.Errorf("%s: served", name)
		}
	}
	waitFor(t, func() bool { return m.Stats().Refused >= 2 })
	if st := m.Stats(); st.Authenticated != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// bundles writes a CA, two node certificates and a client certificate.
func bundles(t *testing.T) (n1, n2, client *tlsutil.Bundle) {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey, err := tlsutil.CreateCA(tlsutil.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, caCert, 0o600)
	load := func(o tlsutil.CertOptions, name string) *tlsutil.Bundle {
		c, k, err := tlsutil.CreateCert(caCert, caKey, o)
		if err != nil {
			t.Fatal(err)
		}
		f := tlsutil.Files{CA: ca, Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
		os.WriteFile(f.Cert, c, 0o600)
		os.WriteFile(f.Key, k, 0o600)
		b, err := tlsutil.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return load(tlsutil.CertOptions{Node: "n1"}, "n1"), load(tlsutil.CertOptions{Node: "n2"}, "n2"), load(tlsutil.CertOptions{Client: "ops"}, "ops")
}

func tlsCfg(b *tlsutil.Bundle) Config {
	return Config{ServerTLS: b.NodeServer(), ClientTLS: b.NodeClient(), Identity: func(cs tls.ConnectionState) string {
		id, _ := tlsutil.PeerIdentity(cs)
		return id.Name
	}}
}

func TestOnlyNodeCertificatesConnect(t *testing.T) {
	n1, n2, client := bundles(t)
	cfg := tlsCfg(n1)
	cfg.Handshake = 500 * time.Millisecond
	m := listen(t, cfg)
	echo(t, m, 'R')
	addr := m.Addr().String()
	if got, err := roundTrip(listen(t, tlsCfg(n2)), 'R', addr); err != nil || string(got) != "Rhi" {
		t.Fatalf("node certificate: %q %v", got, err)
	}
	for name, d := range map[string]*Mux{"client certificate": listen(t, tlsCfg(client)), "plaintext": listen(t, Config{}),
		"token": listen(t, Config{Token: "sixteen-chars-at-least"})} {
		if got, _ := roundTrip(d, 'R', addr); string(got) == "Rhi" {
			t.Errorf("%s: served", name)
		}
	}
}

// Strangers are shed beyond MaxPending, ended after Handshake, and may not
// make the mux read more than PreAuthBytes.
func TestStrangersAreBounded(t *testing.T) {
	m := listen(t, Config{Token: "sixteen-chars-at-least", MaxPending: 4, Handshake: 300 * time.Millisecond, PreAuthBytes: 1 << 10})
	echo(t, m, 'R')
	addr := m.Addr().String()
	var silent []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	waitFor(t, func() bool { return len(m.pending) == 4 })
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	expectClosed(t, extra, 2*time.Second) // shed at once
	for _, c := range silent {
		expectClosed(t, c, 2*time.Second) // ended after the handshake time
	}
	flood, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	flood.Write(make([]byte, 4<<10))
	expectClosed(t, flood, time.Second)
	if got, err := roundTrip(listen(t, Config{Token: "sixteen-chars-at-least"}), 'R', addr); err != nil || string(got) != "Rhi" {
		t.Fatalf("still serving: %q %v", got, err)
	}
	if st := m.Stats(); st.Shed == 0 {
		t.Fatalf("nothing shed: %+v", st)
	}
}

func TestPerPeerCapAndIdle(t *testing.T) {
	m := listen(t, Config{MaxPerPeer: 2, Idle: 200 * time.Millisecond})
	l := m.Listen('R')
	held := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	d := listen(t, Config{})
	var cs []net.Conn
	for i := 0; i < 3; i++ {
		c, err := d.Dial('R', m.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	expectClosed(t, cs[2], 2*time.Second) // a third connection from the same peer
	a := <-held
	start := time.Now()
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("idle read: %v after %v", err, time.Since(start))
	}
}

func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a challenge nonce
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection still open after %v", within)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return
		}
		t.Fatalf("read: %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
