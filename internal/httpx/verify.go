package httpx

import (
	"net/http"

	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// VerifyCertificate answers POST /v1/certificates/verify: it checks the
// signed bytes and signature of a certificate (the JSON invoke returns)
// against the trusted node keys at time now.
func VerifyCertificate(w http.ResponseWriter, r *http.Request, tr certificate.Trust, now int64) {
	var doc struct {
		SignedBytes []byte `json:"signed_bytes"`
		Signature   []byte `json:"signature"`
	}
	b, err := ReadBody(w, r, limits.MaxCertificateBytes)
	switch {
	case err == nil && IsMsgpack(r):
		if err = codec.Unmarshal(b, &doc); err != nil {
			err = badBody(err)
		}
	case err == nil:
		err = DecodeLoose(b, &doc)
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	c, err := certificate.ImportSigned(doc.SignedBytes, doc.Signature, tr, now)
	if err != nil {
		Error(w, r, err)
		return
	}
	Write(w, r, http.StatusOK, map[string]any{"valid": true, "certificate": c.Body()})
}
