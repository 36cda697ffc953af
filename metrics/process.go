package metrics

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// ProcessMetrics installs an in-memory go-metrics sink as the process-wide
// sink (Raft reports through go-metrics' global registry, which is why
// this one exists) and returns a renderer of its last complete interval as
// Prometheus text.
func ProcessMetrics(service string) (func() string, error) {
	sink := metrics.NewInmemSink(10*time.Second, time.Minute)
	conf := metrics.DefaultConfig(service)
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = true
	if _, err := metrics.NewGlobal(conf, sink); err != nil {
		return nil, err
	}
	return func() string { return renderInmem(sink) }, nil
}

func promName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, s)
}

func renderInmem(sink *metrics.InmemSink) string {
	data := sink.Data()
	if len(data) == 0 {
		return ""
	}
	iv := data[len(data)-1]
	if len(data) > 1 {
		iv = data[len(data)-2] // the last complete interval
	}
	iv.RLock()
	defer iv.RUnlock()
	var b strings.Builder
	for _, k := range sortedKeys(iv.Gauges) {
		g := iv.Gauges[k]
		name := promName(g.Name)
		fmt.Fprintf(&b, "# TYPE %s gauge\n%s%s %g\n", name, name, labels(g.Labels), g.Value)
	}
	for _, k := range sortedKeys(iv.Counters) {
		c := iv.Counters[k]
		name := promName(c.Name)
		fmt.Fprintf(&b, "# TYPE %s summary\n%s_count%s %d\n%s_sum%s %g\n", name, name, labels(c.Labels), c.Count, name, labels(c.Labels), c.Sum)
	}
	for _, k := range sortedKeys(iv.Samples) {
		s := iv.Samples[k]
		name := promName(s.Name)
		fmt.Fprintf(&b, "# TYPE %s summary\n%s_count%s %d\n%s_sum%s %g\n", name, name, labels(s.Labels), s.Count, name, labels(s.Labels), s.Sum)
	}
	return b.String()
}

func labels(ls []metrics.Label) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s=%q", promName(l.Name), l.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
