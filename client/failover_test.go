package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// recorder is a fake node that records the bodies it was sent and
// answers with answer (which may hijack and drop the connection).
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	answer func(w http.ResponseWriter, n int)
	srv    *httptest.Server
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, n int)) *recorder {
	r := &recorder{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		n := len(r.bodies)
		r.mu.Unlock()
		r.answer(w, n)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func ok(w http.ResponseWriter, _ int) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"node":"x","results":[{"request_id":"r","decision":"allow"}]}`)
}

func unavailable(w http.ResponseWriter, _ int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"error":{"kind":"Unavailable","message":"no leader; retry shortly"}}`)
}

// drop reads the request and closes the connection without answering:
// the write may have committed, the client cannot know.
func drop(w http.ResponseWriter, _ int) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func signingClient(t *testing.T, retryFor time.Duration) *Client {
	_, priv, err := principal.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Key: ed25519.PrivateKey(priv), Timeout: 5 * time.Second, RetryFor: retryFor})
	t.Cleanup(c.Close)
	return c
}

func invokeOne(c *Client, addrs string) error {
	_, err := c.Invoke(context.Background(), addrs, invocation.Invocation{Capability: "user.read"})
	return err
}

func TestEndpoints(t *testing.T) {
	got := Endpoints(" a:1, ,b:2,")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("%q", got)
	}
	if err := New(Options{}).Get(context.Background(), " , ", "/x", nil); !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("empty list: %v", err)
	}
}

// A dead endpoint and one answering 503 are passed over; the request
// lands on the live one.
func TestFailoverMovesOn(t *testing.T) {
	busy := newRecorder(t, unavailable)
	live := newRecorder(t, ok)
	c := signingClient(t, 0)
	list := deadAddr(t) + "," + busy.addr() + "," + live.addr()
	if err := invokeOne(c, list); err != nil {
		t.Fatal(err)
	}
	if busy.count() != 1 || live.count() != 1 {
		t.Fatalf("busy %d live %d", busy.count(), live.count())
	}
	// The endpoint that answered is tried first next time.
	if err := invokeOne(c, list); err != nil || busy.count() != 1 || live.count() != 2 {
		t.Fatalf("sticky: %v busy %d live %d", err, busy.count(), live.count())
	}
}

// A write whose answer was lost is retried elsewhere with exactly the
// same signed body, so it carries the same request id.
func TestFailoverKeepsTheRequestID(t *testing.T) {
	lost := newRecorder(t, drop)
	live := newRecorder(t, ok)
	c := signingClient(t, 0)
	if err := invokeOne(c, lost.addr()+","+live.addr()); err != nil {
		t.Fatal(err)
	}
	if lost.count() != 1 || live.count() != 1 || string(lost.bodies[0]) != string(live.bodies[0]) {
		t.Fatalf("bodies differ:\n%s\n%s", lost.bodies, live.bodies)
	}
	if !strings.Contains(string(live.bodies[0]), "signature") {
		t.Fatalf("not a signed batch: %s", live.bodies[0])
	}
}

// A definite answer (400) is not retried anywhere.
func TestFailoverStopsOnDefiniteAnswers(t *testing.T) {
	bad := newRecorder(t, func(w http.ResponseWriter, _ int) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"kind":"InvalidInput","message":"no"}}`)
	})
	live := newRecorder(t, ok)
	err := invokeOne(signingClient(t, time.Second), bad.addr()+","+live.addr())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || live.count() != 0 {
		t.Fatalf("%v, live %d", err, live.count())
	}
}

// With RetryFor, passes repeat with backoff until an endpoint answers;
// without it one pass fails with every endpoint named.
func TestFailoverRetriesWithBackoff(t *testing.T) {
	flaky := newRecorder(t, func(w http.ResponseWriter, n int) {
		if n < 3 {
			unavailable(w, n)
			return
		}
		ok(w, n)
	})
	dead := deadAddr(t)
	if err := invokeOne(signingClient(t, 0), dead+","+flaky.addr()); err == nil || !strings.Contains(err.Error(), "every endpoint failed") {
		t.Fatalf("one pass: %v", err)
	}
	var ae *APIError
	if err := invokeOne(signingClient(t, 0), dead+","+flaky.addr()); !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("the last answer is kept: %v", err)
	}
	if err := invokeOne(signingClient(t, 5*time.Second), dead+","+flaky.addr()); err != nil || flaky.count() != 3 {
		t.Fatalf("with retries: %v after %d", err, flaky.count())
	}
}
