package server

import (
	"context"
	"crypto/ed25519"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// Authority decides which certificates may open hot-path sessions. The
// server calls it once per session open and once per session close, from
// per-request goroutines (never on the invocation path), so implementations
// may block (for example on a Raft quota lease) and must be safe for
// concurrent use. CertAuthority is the local implementation; the cluster
// wraps it with revocation state and Raft-leased quotas.
type Authority interface {
	// OpenSession verifies a certificate (its wire-form JSON) presented by
	// holder, whose possession of the private key the server has already
	// verified on this connection, and returns what the dispatcher needs to
	// run the session. The error is sent to the client.
	OpenSession(ctx context.Context, certificateJSON []byte, holder ed25519.PublicKey) (Grant, error)
	// CloseSession is called exactly once per granted session, after the
	// dispatcher session has closed (every accepted invocation completed),
	// also when the connection drops or the server closes. It hands unused
	// quota back (Grant.Quota.Return is exact at that point).
	CloseSession(ctx context.Context, g Grant, u Usage) error
}

// Grant is an authorised hot-path session: the compact handles the
// dispatcher runs it under and the bounds of the authorisation.
type Grant struct {
	// Key names the session in its ledger batches: the certificate ID.
	Key        string
	Capability capability.Path
	CapIndex   uint32
	// Allowed are the effect flags the certificate permits.
	Allowed     capability.Flags
	Agent       hotpath.AgentHandle
	Tenant      hotpath.TenantHandle
	AgentID     string
	TenantID    string
	Correlation uint64
	// Quota is charged one use per accepted invocation; nil is unlimited.
	Quota *hotpath.Quota
	// ExpiresAt (Unix nanoseconds) ends the session: invocations read after
	// it are refused with proto.ErrSessionExpired (a certificate is valid up to
	// and including its expiry). 0 never expires.
	ExpiresAt int64
	// Revoked, when closed, ends the session at once (proto.ErrRevoked). nil
	// never fires.
	Revoked <-chan struct{}
}

// Usage is what a session did, reported at close.
type Usage struct {
	// Accepted invocations entered the dispatcher (each spent one use);
	// Refused ones did not.
	Accepted uint64
	Refused  uint64
}
