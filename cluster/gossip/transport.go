package gossip

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Traffic counts the bytes this node's gossip put on and took off the wire
// (after encryption and compression; without IP/UDP/TCP headers).
type Traffic struct {
	PacketsSent         uint64 `json:"packets_sent"`
	PacketBytesSent     uint64 `json:"packet_bytes_sent"`
	PacketsReceived     uint64 `json:"packets_received"`
	PacketBytesReceived uint64 `json:"packet_bytes_received"`
	StreamsOpened       uint64 `json:"streams_opened"`
	StreamsAccepted     uint64 `json:"streams_accepted"`
	StreamBytesSent     uint64 `json:"stream_bytes_sent"`
	StreamBytesReceived uint64 `json:"stream_bytes_received"`
}

// BytesSent is every byte sent, packets and streams.
func (t Traffic) BytesSent() uint64 { return t.PacketBytesSent + t.StreamBytesSent }

// BytesReceived is every byte received, packets and streams.
func (t Traffic) BytesReceived() uint64 { return t.PacketBytesReceived + t.StreamBytesReceived }

// counters are the live Traffic counters.
type counters struct {
	packetsOut, packetBytesOut, packetsIn, packetBytesIn atomic.Uint64
	streamsOut, streamsIn, streamBytesOut, streamBytesIn atomic.Uint64
}

func (c *counters) snapshot() Traffic {
	return Traffic{
		PacketsSent: c.packetsOut.Load(), PacketBytesSent: c.packetBytesOut.Load(),
		PacketsReceived: c.packetsIn.Load(), PacketBytesReceived: c.packetBytesIn.Load(),
		StreamsOpened: c.streamsOut.Load(), StreamsAccepted: c.streamsIn.Load(),
		StreamBytesSent: c.streamBytesOut.Load(), StreamBytesReceived: c.streamBytesIn.Load(),
	}
}

// countingTransport wraps memberlist's NetTransport and counts traffic.
type countingTransport struct {
	inner    *memberlist.NetTransport
	c        counters
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*countingTransport)(nil)

// newTransport binds host:port, retrying a few times when the port is
// picked by the kernel: the UDP bind of the port TCP was given can fail
// when another process holds it, and a fresh pick usually succeeds.
func newTransport(host string, port int, cfg *Config) (*countingTransport, error) {
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{host},
			BindPort:  port,
			Logger:    cfg.Logger.StandardLogger(nil),
		})
		if err == nil {
			return wrapTransport(nt), nil
		}
	}
	return nil, err
}

func wrapTransport(nt *memberlist.NetTransport) *countingTransport {
	t := &countingTransport{
		inner:    nt,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		done:     make(chan struct{}),
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

func (t *countingTransport) forwardPackets() {
	defer t.wg.Done()
	for {
		select {
		case p := <-t.inner.PacketCh():
			t.c.packetsIn.Add(1)
			t.c.packetBytesIn.Add(uint64(len(p.Buf)))
			select {
			case t.packetCh <- p:
			case <-t.done:
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *countingTransport) forwardStreams() {
	defer t.wg.Done()
	for {
		select {
		case conn := <-t.inner.StreamCh():
			t.c.streamsIn.Add(1)
			select {
			case t.streamCh <- &countingConn{Conn: conn, c: &t.c}:
			case <-t.done:
				conn.Close()
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *countingTransport) port() int { return t.inner.GetAutoBindPort() }

func (t *countingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.countPacket(len(b))
	return t.inner.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.countPacket(len(b))
	return t.inner.WriteToAddress(b, a)
}

func (t *countingTransport) countPacket(n int) {
	t.c.packetsOut.Add(1)
	t.c.packetBytesOut.Add(uint64(n))
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.countDial(t.inner.DialTimeout(addr, timeout))
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.countDial(t.inner.DialAddressTimeout(a, timeout))
}

func (t *countingTransport) countDial(conn net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	t.c.streamsOut.Add(1)
	return &countingConn{Conn: conn, c: &t.c}, nil
}

func (t *countingTransport) StreamCh() <-chan net.Conn { return t.streamCh }

func (t *countingTransport) Shutdown() error {
	err := t.inner.Shutdown()
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
	return err
}

// countingConn counts a stream's bytes in both directions.
type countingConn struct {
	net.Conn
	c *counters
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.streamBytesIn.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.streamBytesOut.Add(uint64(n))
	return n, err
}
