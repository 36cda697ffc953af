// Package client is cnv's Go client: it talks to any node's HTTP API,
// signs invocation batches with the caller's key, and decodes the API's
// shapes (wire). It imports only runtime packages and wire, so
// outside tools can use it without the server.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/wire"
)

// Options configure a Client.
type Options struct {
	// Key signs invocations; reads need none.
	Key ed25519.PrivateKey
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// Dial, when set, replaces the TCP dialer (fault injection rewrites
	// peer addresses through it).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Msgpack sends and accepts msgpack instead of JSON.
	Msgpack bool
	// MaxConnsPerHost bounds connections per node (default 256).
	MaxConnsPerHost int
	// Token is the cluster token, sent with every request; nodes started
	// with --cluster-token require it for membership changes and
	// node-to-node calls.
	Token string
	// TLS, when set, speaks HTTPS to addresses without a scheme (the
	// cluster's CA checks the server; a client certificate, if the
	// config carries one, is offered).
	TLS *tls.Config
	// RetryFor is how long a request keeps passing over its endpoints
	// (with backoff) after a pass in which every endpoint failed with a
	// connection error or a 503; 0 makes one pass.
	RetryFor time.Duration
	// Logger, when set, hears of each endpoint that failed (Debug).
	Logger hclog.Logger
}

// Client is safe for concurrent use.
type Client struct {
	opts Options
	hc   *http.Client
	pref sync.Map // endpoint list -> index of the endpoint that answered last
}

// New returns a client.
func New(o Options) *Client {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxConnsPerHost == 0 {
		o.MaxConnsPerHost = 256
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if o.Dial != nil {
		dial = o.Dial
	}
	tr := &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        o.MaxConnsPerHost * 4,
		MaxIdleConnsPerHost: o.MaxConnsPerHost,
		MaxConnsPerHost:     o.MaxConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSClientConfig:     o.TLS,
	}
	return &Client{opts: o, hc: &http.Client{Transport: tr, Timeout: o.Timeout}}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// APIError is an error answer from a node.
type APIError struct {
	Status int
	Err    *cnverr.Error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%d %s)", e.Err.Message, e.Status, e.Err.Kind)
}

// Unwrap exposes the structured error.
func (e *APIError) Unwrap() error { return e.Err }

// Definite reports whether the request certainly changed nothing (a 4xx
// other than timeout or throttling). A 5xx or a transport error leaves a
// write's outcome unknown.
func (e *APIError) Definite() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// NotLeader reports whether the node refused because it is not the leader.
func (e *APIError) NotLeader() bool {
	v, _ := e.Err.Details["not_leader"].(bool)
	return v
}

// IsDefinite reports whether err is an API answer that certainly changed
// nothing.
func IsDefinite(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Definite()
}

// BaseURL turns "host:port" or a URL into a base URL without a trailing slash.
func BaseURL(addr string) string { return baseURL(addr, false) }

func baseURL(addr string, tls bool) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimRight(addr, "/")
	}
	if tls {
		return "https://" + addr
	}
	return "http://" + addr
}

// URL is the base URL of the node at addr as this client speaks to it.
func (c *Client) URL(addr string) string { return baseURL(addr, c.opts.TLS != nil) }

// Raw, passed as Do's out, receives a 2xx answer undecoded.
type Raw struct {
	ContentType string
	Body        []byte
	Node        string
}

// Do sends one request: in (nil for none) encoded as JSON or msgpack,
// out (nil to discard) decoded from a 2xx answer; other answers become
// *APIError.
func (c *Client) Do(ctx context.Context, method, addr, path string, in, out any, hdr http.Header) error {
	var body io.Reader
	if in != nil {
		b, err := c.encode(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.DoRaw(ctx, method, addr, path, body, out, hdr)
}

// DoRaw is Do with an already encoded body. addr may list several
// endpoints (see Endpoints): the request fails over between them.
func (c *Client) DoRaw(ctx context.Context, method, addr, path string, body io.Reader, out any, hdr http.Header) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = io.ReadAll(body); err != nil {
			return fmt.Errorf("read request body: %w", err)
		}
	}
	return c.failover(ctx, addr, b, func(ep string, body io.Reader) error {
		return c.doOne(ctx, method, ep, path, body, out, hdr)
	})
}

// doOne sends one request to one endpoint.
func (c *Client) doOne(ctx context.Context, method, addr, path string, body io.Reader, out any, hdr http.Header) error {
	req, err := http.NewRequestWithContext(ctx, method, c.URL(addr)+path, body)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	ct := wire.ContentJSON
	if c.opts.Msgpack {
		ct = wire.ContentMsgpack
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ct)
	}
	if req.Header.Get("Accept") == "" { // a relay passes on its client's
		req.Header.Set("Accept", ct)
	}
	if c.opts.Token != "" {
		req.Header.Set(wire.HeaderToken, c.opts.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if c.opts.TLS != nil && strings.Contains(err.Error(), "does not look like a TLS handshake") {
			return cnverr.New(cnverr.Unauthenticated, "%s speaks plain HTTP, not TLS: drop the CA option (--ca, CNV_CA) for this cluster", addr)
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxResponseBody+1))
	if err != nil {
		return err
	}
	if len(b) > limits.MaxResponseBody {
		return cnverr.New(cnverr.TooLarge, "response from %s exceeds %d bytes", addr, limits.MaxResponseBody)
	}
	if resp.StatusCode == http.StatusBadRequest && c.opts.TLS == nil && bytes.Contains(b, []byte("HTTP request to an HTTPS server")) {
		return cnverr.New(cnverr.Unauthenticated, "%s speaks HTTPS: give the cluster CA certificate (--ca or CNV_CA; cluster up's cluster.env sets it)", addr)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*Raw); ok {
		raw.ContentType, raw.Body, raw.Node = resp.Header.Get("Content-Type"), b, resp.Header.Get(wire.HeaderNode)
		return nil
	}
	return decodeResponse(resp.Header.Get("Content-Type"), b, out)
}

func (c *Client) encode(v any) ([]byte, error) {
	if c.opts.Msgpack {
		return codec.Marshal(v)
	}
	return json.Marshal(v)
}

func decodeResponse(ct string, b []byte, out any) error {
	if strings.HasPrefix(ct, wire.ContentMsgpack) {
		return codec.UnmarshalLimit(b, len(b), out)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

func apiError(status int, b []byte) error {
	var er wire.ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error != nil {
		return &APIError{Status: status, Err: er.Error}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &APIError{Status: status, Err: cnverr.New(cnverr.InternalError, "HTTP %d: %s", status, msg)}
}
