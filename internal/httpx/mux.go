package httpx

import (
	"net/http"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Serve runs mux on r, answering a path it does not know (404) or a
// method a path does not take (405, with Allow) in the structured error
// shape like every other error, instead of the mux's plain text. It
// returns the matched route pattern ("" for none).
func Serve(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) string {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r)
		return pattern
	}
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		Error(w, r, cnverr.New(cnverr.MethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path,
			probe.header.Get("Allow")))
	default:
		Error(w, r, cnverr.New(cnverr.NotFound, "no such route: %s %s", r.Method, r.URL.Path))
	}
	return ""
}

// statusProbe records the status a handler answers and drops its body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
