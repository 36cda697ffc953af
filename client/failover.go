package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

// An address given to any Client method may be a comma-separated list of
// endpoints ("127.0.0.1:8001,127.0.0.1:8002"). A request goes to one
// endpoint at a time, starting with the one that answered last; a
// connection error or a 503 (no leader, node stopping) moves it to the
// next. When a whole pass fails the client waits (backoff, doubling from
// 100ms to 2s) and passes again, for as long as Options.RetryFor allows.
//
// A retried request carries exactly the same body: a signed invocation
// keeps its request id, so a cluster that committed the first attempt
// answers the retry with the recorded outcome and never applies it twice.

// Endpoints splits a comma-separated address list, dropping empty items.
func Endpoints(addrs string) []string {
	var out []string
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ErrNoEndpoint is an empty address list.
var ErrNoEndpoint = errors.New("no endpoint address given")

// retryable reports whether err may succeed on another endpoint: a
// transport error (no answer) or a 503.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusServiceUnavailable
	}
	var ce *cnverr.Error
	if errors.As(err, &ce) && ce.Kind == cnverr.Unauthenticated { // TLS on one side only
		return false
	}
	return err != nil
}

func failoverBackoff(round int) time.Duration {
	return min(100*time.Millisecond<<min(round, 5), 2*time.Second)
}

// order returns the endpoints starting with the one that answered last.
func (c *Client) order(key string, eps []string) []string {
	v, ok := c.pref.Load(key)
	if !ok {
		return eps
	}
	i := v.(int)
	if i <= 0 || i >= len(eps) {
		return eps
	}
	return append(append([]string{}, eps[i:]...), eps[:i]...)
}

func (c *Client) remember(key string, eps []string, good string) {
	for i, e := range eps {
		if e == good {
			c.pref.Store(key, i)
		}
	}
}

// failover runs one request against the endpoints of addrs until one
// answers with something other than a retryable error.
func (c *Client) failover(ctx context.Context, addrs string, body []byte, send func(addr string, body io.Reader) error) error {
	eps := Endpoints(addrs)
	if len(eps) == 0 {
		return ErrNoEndpoint
	}
	deadline := time.Now().Add(c.opts.RetryFor)
	var last error
	for round := 0; ; round++ {
		for _, ep := range c.order(addrs, eps) {
			if last = send(ep, bodyReader(body)); !retryable(last) || ctx.Err() != nil {
				c.rememberIf(addrs, eps, ep, last)
				return last
			}
			c.log(ep, last)
		}
		wait := failoverBackoff(round)
		if time.Now().Add(wait).After(deadline) {
			return exhausted(eps, last)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return exhausted(eps, last)
		}
	}
}

func (c *Client) rememberIf(key string, eps []string, ep string, err error) {
	if err == nil || !retryable(err) {
		c.remember(key, eps, ep)
	}
}

func (c *Client) log(ep string, err error) {
	if c.opts.Logger != nil {
		c.opts.Logger.Debug("endpoint failed; trying the next", "endpoint", ep, "error", err)
	}
}

func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// exhausted wraps the last error of a failed list of several endpoints.
func exhausted(eps []string, last error) error {
	if len(eps) == 1 {
		return last
	}
	return fmt.Errorf("every endpoint failed (%s); last: %w", strings.Join(eps, ","), last)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stream sends a GET for a long answer (a ledger export) and returns the
// open 2xx response; the caller reads and closes its body. It fails over
// like every request until an endpoint starts answering; ctx, not the
// client's Timeout, bounds the transfer. A non-2xx answer is an *APIError.
func (c *Client) Stream(ctx context.Context, addrs, path string) (*http.Response, error) {
	hc := &http.Client{Transport: c.hc.Transport}
	var resp *http.Response
	err := c.failover(ctx, addrs, nil, func(ep string, _ io.Reader) error {
		var err error
		resp, err = c.openOne(ctx, hc, ep, path)
		return err
	})
	return resp, err
}

func (c *Client) openOne(ctx context.Context, hc *http.Client, addr, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(addr)+path, nil)
	if err != nil {
		return nil, err
	}
	if c.opts.Token != "" {
		req.Header.Set(wire.HeaderToken, c.opts.Token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, apiError(resp.StatusCode, b)
	}
	return resp, nil
}
