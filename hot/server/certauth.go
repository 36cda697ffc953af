package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/principal"
)

// nonPermission are flag bits that describe a capability without granting
// anything; a certificate need not list them.
const nonPermission = capability.FlagIdempotent | capability.FlagAsyncCapable

// CertAuthority is the local Authority: it opens a session for a ledger
// certificate of an allow proven into a head a trusted node key signed,
// within its time window now, issued to the key that proved itself on the
// connection, and whose capability the Catalog serves on the hot path. It
// grants no quota (unlimited) and knows no revocations: the cluster wraps
// it to add both.
//
// A certificate opens at most one live session per authority at a time
// (proto.ErrSessionExists), so a session's batches, keyed by the
// certificate ID, form one chain on this node.
type CertAuthority struct {
	trust   certificate.Trust
	clock   clock.Clock
	catalog *Catalog
	handles *handles

	mu   sync.Mutex
	live map[string]struct{}
}

// NewCertAuthority returns an authority trusting the node keys in trust.
func NewCertAuthority(trust certificate.Trust, catalog *Catalog, clk clock.Clock) (*CertAuthority, error) {
	switch {
	case len(trust) == 0:
		return nil, fmt.Errorf("%w: certificate authority needs at least one trusted node key", proto.ErrBadConfig)
	case catalog == nil:
		return nil, fmt.Errorf("%w: certificate authority needs a catalog", proto.ErrBadConfig)
	case clk == nil:
		return nil, fmt.Errorf("%w: certificate authority needs a clock", proto.ErrBadConfig)
	}
	return &CertAuthority{trust: trust, clock: clk, catalog: catalog, handles: newHandles(), live: make(map[string]struct{})}, nil
}

// OpenSession implements Authority.
func (a *CertAuthority) OpenSession(_ context.Context, certificateJSON []byte, holder ed25519.PublicKey) (Grant, error) {
	c, err := a.Verify(certificateJSON, holder, a.clock.Now().UnixNano())
	if err != nil {
		return Grant{}, err
	}
	g, err := a.GrantFor(c)
	if err != nil {
		return Grant{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.live[g.Key]; ok {
		return Grant{}, fmt.Errorf("%w: %s", proto.ErrSessionExists, g.Key)
	}
	a.live[g.Key] = struct{}{}
	return g, nil
}

// Verify verifies the ledger certificate at now (its proof into a head
// signed by a trusted node key, every field it shows, an allow within its
// time window) and checks that holder is the key it was issued to.
func (a *CertAuthority) Verify(certificateJSON []byte, holder ed25519.PublicKey, now int64) (*certificate.View, error) {
	return VerifyHolder(certificateJSON, a.trust, holder, now)
}

// VerifyHolder is Verify against the given trusted node keys.
func VerifyHolder(certificateJSON []byte, trust certificate.Trust, holder ed25519.PublicKey, now int64) (*certificate.View, error) {
	c, err := cert.VerifyDocument(certificateJSON, false, trust, now)
	if err != nil {
		return nil, err
	}
	if len(holder) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: no holder key", proto.ErrWrongHolder)
	}
	if want, got := c.View.KeyID, principal.IDOf(holder); want != got {
		return nil, fmt.Errorf("%w: issued to %s, presented by %s", proto.ErrWrongHolder, want, got)
	}
	return c.View, nil
}

// GrantFor maps a verified certificate to a grant: its capability must be in
// the catalog, and the capability's effects within the certificate's.
func (a *CertAuthority) GrantFor(v *certificate.View) (Grant, error) {
	e, ok := a.catalog.Lookup(v.CapabilityID)
	if !ok {
		return Grant{}, fmt.Errorf("%w: %s (%s)", proto.ErrNotHotPath, v.Capability, v.CapabilityID)
	}
	allowed := nonPermission
	for _, eff := range v.Effects {
		allowed |= eff.Flag()
	}
	if !hotpath.Within(e.Flags, allowed) {
		return Grant{}, fmt.Errorf("%w: %s has flags %#x, certificate allows %#x",
			hotpath.ErrEffectNotAllowed, e.Path, uint16(e.Flags), uint16(allowed))
	}
	agent, tenant := a.handles.get(v.AgentID, v.Tenant)
	var corr uint64
	if v.CorrelationID != "" {
		corr = hotpath.CorrelationHash(v.CorrelationID)
	}
	return Grant{
		Key: v.ID, Capability: e.Path, CapIndex: e.Index, Allowed: allowed,
		Agent: agent, Tenant: tenant, AgentID: v.AgentID, TenantID: v.Tenant,
		Correlation: corr, ExpiresAt: v.ExpiresAt,
	}, nil
}

// CloseSession implements Authority: the certificate may open a session
// again, and any quota the grant carried is handed back (the cluster's
// wrapper returns it to the replicated state).
func (a *CertAuthority) CloseSession(_ context.Context, g Grant, _ Usage) error {
	a.mu.Lock()
	delete(a.live, g.Key)
	a.mu.Unlock()
	if g.Quota != nil {
		g.Quota.Return()
	}
	return nil
}
