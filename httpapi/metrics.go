package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// apiMetrics are the API's own metrics.
type apiMetrics struct {
	requests *prometheus.HistogramVec
	rejected *prometheus.CounterVec
}

func newAPIMetrics(r prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cnv_http_request_duration_seconds",
			Help:    "HTTP API requests served by this node, by route pattern and status code, and how long they took.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18), // 0.1 ms … 13 s
		}, []string{"route", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cnv_invocations_rejected_total",
			Help: "Invocations this node refused before Raft (malformed, unauthenticated, unknown capability, bad chain, …), by error kind.",
		}, []string{"kind"}),
	}
	if r != nil {
		r.MustRegister(m.requests, m.rejected)
	}
	return m
}

func (m *apiMetrics) observe(route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

// reject counts invocations refused before Raft.
func (m *apiMetrics) reject(err error, n int) {
	m.rejected.WithLabelValues(string(cnverr.KindOf(err))).Add(float64(n))
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Flush lets streamed answers (ledger export) reach the client.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// handleMetrics serves the process's registry.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		httpx.Error(w, r, cnverr.New(cnverr.NotFound, "this node reports no metrics"))
		return
	}
	s.cfg.Metrics.ServeHTTP(w, r)
}
