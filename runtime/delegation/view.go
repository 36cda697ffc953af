package delegation

import (
	"encoding/hex"
	"time"

	"github.com/cnv-project/cnv/runtime/principal"
)

// LinkView is a link's every field in readable form, for inspection and
// JSON output. It is a description, not an encoding: links travel as
// tokens.
type LinkView struct {
	Hash        string          `json:"hash"`
	Version     uint8           `json:"version"`
	Nonce       string          `json:"nonce"`
	Issuer      principal.KeyID `json:"issuer"`
	IssuerKey   []byte          `json:"issuer_key"`
	Audience    principal.KeyID `json:"audience"`
	AudienceKey []byte          `json:"audience_key"`
	Constraints Constraints     `json:"constraints"`
	NotBefore   int64           `json:"not_before"`
	NotAfter    int64           `json:"not_after"`
	NotBeforeAt string          `json:"not_before_time"`
	NotAfterAt  string          `json:"not_after_time"`
	MaxUses     uint64          `json:"max_uses"`
	Parent      string          `json:"parent,omitempty"`
	Depth       uint8           `json:"depth"`
	Signature   []byte          `json:"signature"`
}

// View describes l.
func (l Link) View() LinkView {
	b := &l.body
	v := LinkView{
		Hash: l.hash.String(), Version: b.Version, Nonce: hex.EncodeToString(b.Nonce),
		Issuer: b.IssuerID, IssuerKey: b.Issuer, Audience: b.AudienceID, AudienceKey: b.Audience,
		Constraints: b.Constraints, NotBefore: b.NotBefore, NotAfter: b.NotAfter,
		NotBeforeAt: nanosString(b.NotBefore), NotAfterAt: nanosString(b.NotAfter),
		MaxUses: b.MaxUses, Depth: b.Depth, Signature: l.sig,
	}
	if !b.Parent.IsZero() {
		v.Parent = b.Parent.String()
	}
	return v
}

func nanosString(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
