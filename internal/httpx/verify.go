package httpx

import (
	"net/http"

	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Verified is what POST /v1/certificates/verify answers for a document
// that verifies: the view its signed bytes state.
type Verified struct {
	Valid       bool              `json:"valid"`
	Decision    string            `json:"decision"`
	Certificate *certificate.View `json:"certificate,omitempty"`
	Receipt     *certificate.View `json:"receipt,omitempty"`
}

// VerifyCertificate answers POST /v1/certificates/verify: it verifies one
// answer document (a ledger certificate or receipt, as invoke returns it)
// against the trusted node keys at time now; every field it shows must
// agree with its signed bytes.
func VerifyCertificate(w http.ResponseWriter, r *http.Request, tr certificate.Trust, now int64) {
	b, err := ReadBody(w, r, limits.MaxCertificateBytes)
	if err != nil {
		Error(w, r, err)
		return
	}
	c, err := cert.VerifyDocument(b, IsMsgpack(r), tr, now)
	if err != nil {
		Error(w, r, err)
		return
	}
	Write(w, r, http.StatusOK, VerifiedOf(c))
}

// VerifiedOf is the answer for a checked document.
func VerifiedOf(c *cert.Checked) Verified {
	return Verified{Valid: true, Decision: c.Answer.Decision, Certificate: c.Answer.Certificate, Receipt: c.Answer.Receipt}
}
