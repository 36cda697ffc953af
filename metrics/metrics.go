package metrics

import (
	"net/http"
	"strings"
	"sync"
	"unicode"

	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every cnv metric.
const Namespace = "cnv"

// Registry is a process's metrics.
type Registry struct {
	*prometheus.Registry
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{Registry: r}
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// BridgeRaft installs go-metrics' process-wide sink (Raft reports through
// go-metrics' global, which is why this is process-wide) so that what Raft
// reports lands in r. Call it once per process.
func (r *Registry) BridgeRaft() error {
	sink := &raftSink{reg: r.Registry, families: map[string]*family{}}
	conf := gometrics.DefaultConfig(Namespace)
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false // the Go collector reports the runtime
	conf.EnableServiceLabel = false
	_, err := gometrics.NewGlobal(conf, sink)
	return err
}

// raftSink is a go-metrics sink that registers one Prometheus family per
// key the first time it is reported: gauges as gauges, counters as
// counters named …_total, samples (Raft's timings, in milliseconds) as
// summaries without quantiles (cumulative count and sum, so they never
// go down between scrapes).
type raftSink struct {
	reg      prometheus.Registerer
	mu       sync.Mutex
	families map[string]*family
}

type family struct {
	kind    string
	labels  []string
	gauge   *prometheus.GaugeVec
	counter *prometheus.CounterVec
	summary *prometheus.SummaryVec
}

// perPeer lists the Raft keys whose legacy form carries a peer's id as a
// last part, beside the labelled form (peer_id). The legacy form is
// dropped (cluster also sets raft's NoLegacyTelemetry): an id in a metric
// name would make one family per peer.
var perPeer = [][]string{
	{"raft", "replication", "appendEntries", "rpc"},
	{"raft", "replication", "appendEntries", "logs"},
	{"raft", "replication", "heartbeat"},
	{"raft", "replication", "installSnapshot"},
}

// trimKey drops the service prefix, and reports legacy per-peer keys.
func trimKey(key []string) ([]string, bool) {
	k := key
	if len(k) > 0 && k[0] == Namespace {
		k = k[1:]
	}
	for _, p := range perPeer {
		if len(k) == len(p)+1 && equal(k[:len(p)], p) {
			return nil, false
		}
	}
	return k, true
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// Name turns key parts into a Prometheus name: cnv_ plus the parts in
// snake_case ("appendEntries" → "append_entries").
func Name(parts ...string) string {
	var b strings.Builder
	b.WriteString(Namespace)
	for _, p := range parts {
		b.WriteByte('_')
		b.WriteString(snake(p))
	}
	return b.String()
}

func snake(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			prevLower = true
		default:
			b.WriteByte('_')
			prevLower = false
		}
	}
	return b.String()
}

func (s *raftSink) family(kind string, key []string, labels []gometrics.Label) (*family, []string) {
	key, ok := trimKey(key)
	if !ok {
		return nil, nil
	}
	names := make([]string, len(labels))
	values := make([]string, len(labels))
	for i, l := range labels {
		names[i], values[i] = snake(l.Name), l.Value
	}
	name := Name(key...)
	if kind == "counter" {
		name += "_total"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.families[name]; ok {
		if f.kind != kind || !equal(f.labels, names) {
			return nil, nil // one key reported two ways: keep the first
		}
		return f, values
	}
	f := &family{kind: kind, labels: names}
	help := "Raft's " + strings.Join(key, ".") + " (go-metrics " + kind
	var c prometheus.Collector
	switch kind {
	case "gauge":
		f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help + ")."}, names)
		c = f.gauge
	case "counter":
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help + ")."}, names)
		c = f.counter
	default:
		f.summary = prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: name, Help: help + "; timings in milliseconds)."}, names)
		c = f.summary
	}
	if err := s.reg.Register(c); err != nil {
		return nil, nil
	}
	s.families[name] = f
	return f, values
}

func (s *raftSink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

func (s *raftSink) SetGaugeWithLabels(key []string, val float32, labels []gometrics.Label) {
	if f, v := s.family("gauge", key, labels); f != nil {
		f.gauge.WithLabelValues(v...).Set(float64(val))
	}
}

// EmitKey is a one-off key/value; Raft does not use it.
func (s *raftSink) EmitKey(key []string, val float32) {}

func (s *raftSink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

func (s *raftSink) IncrCounterWithLabels(key []string, val float32, labels []gometrics.Label) {
	if f, v := s.family("counter", key, labels); f != nil && val >= 0 {
		f.counter.WithLabelValues(v...).Add(float64(val))
	}
}

func (s *raftSink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

func (s *raftSink) AddSampleWithLabels(key []string, val float32, labels []gometrics.Label) {
	if f, v := s.family("summary", key, labels); f != nil {
		f.summary.WithLabelValues(v...).Observe(float64(val))
	}
}
