package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample is one scraped value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is every sample of every node at one time.
type scrape struct {
	at      time.Time
	samples []sample
}

// history is the scrapes in time order.
type history struct{ scrapes []scrape }

// scrapeAll fetches /metrics from every address, labelling samples with
// instance. A node that does not answer has no samples at that time (as
// in Prometheus); only a scrape where no node answered is an error.
func scrapeAll(ctx context.Context, hc *http.Client, addrs []string, at time.Time) (scrape, error) {
	sc := scrape{at: at}
	var errs []error
	for _, a := range addrs {
		ss, err := scrapeOne(ctx, hc, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("scrape %s: %w", a, err))
			continue
		}
		for i := range ss {
			ss[i].labels["instance"] = a
		}
		sc.samples = append(sc.samples, ss...)
	}
	if len(errs) == len(addrs) {
		return sc, errors.Join(errs...)
	}
	return sc, nil
}

func scrapeOne(ctx context.Context, hc *http.Client, addr string) ([]sample, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseExposition(resp.Body)
}

// parseExposition turns the text format into samples: histograms become
// NAME_bucket{le}, NAME_sum and NAME_count, summaries NAME{quantile},
// NAME_sum and NAME_count, as Prometheus stores them.
func parseExposition(r io.Reader) ([]sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	var out []sample
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			out = append(out, samplesOf(name, m)...)
		}
	}
	return out, nil
}

func samplesOf(name string, m *dto.Metric) []sample {
	labels := func(extra ...string) map[string]string {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	switch {
	case m.Counter != nil:
		return []sample{{name, labels(), m.Counter.GetValue()}}
	case m.Gauge != nil:
		return []sample{{name, labels(), m.Gauge.GetValue()}}
	case m.Untyped != nil:
		return []sample{{name, labels(), m.Untyped.GetValue()}}
	case m.Histogram != nil:
		return histogramSamples(name, m.Histogram, labels)
	case m.Summary != nil:
		return summarySamples(name, m.Summary, labels)
	}
	return nil
}

func histogramSamples(name string, h *dto.Histogram, labels func(...string) map[string]string) []sample {
	out := []sample{{name + "_sum", labels(), h.GetSampleSum()}, {name + "_count", labels(), float64(h.GetSampleCount())}}
	inf := false
	for _, b := range h.GetBucket() {
		inf = inf || math.IsInf(b.GetUpperBound(), 1)
		out = append(out, sample{name + "_bucket", labels("le", fmt.Sprint(b.GetUpperBound())), float64(b.GetCumulativeCount())})
	}
	if !inf { // the +Inf bucket is implicit in the exposition
		out = append(out, sample{name + "_bucket", labels("le", "+Inf"), float64(h.GetSampleCount())})
	}
	return out
}

func summarySamples(name string, s *dto.Summary, labels func(...string) map[string]string) []sample {
	out := []sample{{name + "_sum", labels(), s.GetSampleSum()}, {name + "_count", labels(), float64(s.GetSampleCount())}}
	for _, q := range s.GetQuantile() {
		out = append(out, sample{name, labels("quantile", fmt.Sprint(q.GetQuantile())), q.GetValue()})
	}
	return out
}
