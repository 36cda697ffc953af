package main

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/cluster"
	hotnode "github.com/cnv-project/cnv/hot/node"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/tlsutil"
)

// startHot serves the hot path on addr ("" : off) with the built-in
// FastPath capabilities hot.counter and hot.echo.
func startHot(addr string, node *cluster.Node, clk clock.Clock, reg prometheus.Registerer, tlsb *tlsutil.Bundle, log hclog.Logger) (*hotnode.Service, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsb != nil {
		ln = tls.NewListener(ln, tlsb.APIServer(false)) // sessions authenticate by certificate and proof, not TLS
	}
	svc, err := hotnode.Start(hotnode.ServiceConfig{Node: node, Listener: ln, Log: log, Clock: clk, Registerer: reg})
	if err != nil {
		ln.Close()
		return nil, err
	}
	log.Info("hot path serving", "hot", ln.Addr().String())
	return svc, nil
}

// stopHot ends the hot-path sessions (settling their leases) and commits
// the last batches, while the node is still up.
func stopHot(svc *hotnode.Service, log hclog.Logger) {
	if svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Close(ctx); err != nil {
		log.Warn("hot path shutdown", "error", err)
	}
}
