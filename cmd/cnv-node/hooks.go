package main

import (
	"context"
	"net"
	"time"
)

// dialer dials peers: Raft (Timeout) and the node-to-node client
// (Context). The production binary dials addresses as they are; a binary
// built with the cnvtest tag can rewrite them (hooks_cnvtest.go).
type dialer struct {
	rewrite func(addr string) string
}

// Timeout dials addr for Raft.
func (d dialer) Timeout(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", d.addr(addr), timeout)
}

// Context dials addr for the node-to-node client.
func (d dialer) Context(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr(addr))
}

func (d dialer) addr(a string) string {
	if d.rewrite == nil {
		return a
	}
	return d.rewrite(a)
}
