package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Every query of the dashboard is in the subset the renderer evaluates.
func TestDashboardQueriesParse(t *testing.T) {
	d, err := loadDashboard("../../docs/grafana/cnv-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			e, err := parse(tg.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
				continue
			}
			if len(metricNames(e)) == 0 {
				t.Errorf("panel %q: %s reads no metric", p.Title, tg.Expr)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("%d queries", n)
	}
}

func TestParseRefusesWhatItCannotEvaluate(t *testing.T) {
	for _, q := range []string{"a + b", "rate(x)", "avg(x)", "sum by (l) x", "x{l=~\"a\"}", "histogram_quantile(x, y)"} {
		if _, err := parse(q); err == nil {
			t.Errorf("%s parsed", q)
		}
	}
}

const expoA = `# TYPE req_total counter
req_total{code="200"} 10
req_total{code="500"} 1
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 0
lat_seconds_bucket{le="0.2"} 0
lat_seconds_bucket{le="+Inf"} 0
lat_seconds_sum 0
lat_seconds_count 0
`

const expoB = `# TYPE req_total counter
req_total{code="200"} 30
req_total{code="500"} 3
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 50
lat_seconds_bucket{le="0.2"} 100
lat_seconds_bucket{le="+Inf"} 100
lat_seconds_sum 12
lat_seconds_count 100
`

func historyOf(t *testing.T, texts ...string) *history {
	h := &history{}
	start := time.Unix(1000, 0)
	for i, s := range texts {
		ss, err := parseExposition(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		h.scrapes = append(h.scrapes, scrape{at: start.Add(time.Duration(i) * 10 * time.Second), samples: ss})
	}
	return h
}

func eval1(t *testing.T, h *history, q string) []series {
	e, err := parse(q)
	if err != nil {
		t.Fatal(err)
	}
	return e.eval(h, len(h.scrapes)-1)
}

func TestEvaluate(t *testing.T) {
	h := historyOf(t, expoA, expoB)
	if got := eval1(t, h, `sum(rate(req_total[1m]))`); len(got) != 1 || got[0].value != 2.2 {
		t.Fatalf("sum of rates: %+v", got)
	}
	byCode := eval1(t, h, `sum by (code) (rate(req_total{code="500"}[1m]))`)
	if len(byCode) != 1 || byCode[0].labels["code"] != "500" || math.Abs(byCode[0].value-0.2) > 1e-9 {
		t.Fatalf("by code: %+v", byCode)
	}
	p50 := eval1(t, h, `histogram_quantile(0.5, sum by (le) (rate(lat_seconds_bucket[1m])))`)
	p75 := eval1(t, h, `histogram_quantile(0.75, sum by (le) (rate(lat_seconds_bucket[1m])))`)
	if len(p50) != 1 || math.Abs(p50[0].value-0.1) > 1e-9 || math.Abs(p75[0].value-0.15) > 1e-9 {
		t.Fatalf("quantiles %+v %+v", p50, p75)
	}
	if got := eval1(t, h, `max(req_total)`); got[0].value != 30 {
		t.Fatalf("max: %+v", got)
	}
}

// render draws one chart per panel and names the dashboard and the
// scrapes it was drawn from.
func TestRender(t *testing.T) {
	d := &dashboard{Title: "t", Panels: []panel{{Title: "requests"}, {Title: "empty"}}}
	d.Panels[0].Targets = []target{{Expr: `sum by (code) (rate(req_total[1m]))`, LegendFormat: "{{code}}"}}
	d.Panels[1].Targets = []target{{Expr: `nothing_here`}}
	svg, err := render(d, historyOf(t, expoA, expoB), []string{"n1"})
	s := string(svg)
	if err != nil || strings.Count(s, "<polyline") != 2 || !strings.Contains(s, "no data") || !strings.Contains(s, "not a Grafana screenshot") {
		t.Fatalf("%v\n%s", err, s)
	}
}

// A node that does not answer leaves a gap; no node answering is an error.
func TestScrapeAllToleratesADeadNode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, expoA) }))
	defer srv.Close()
	dead := "127.0.0.1:1"
	sc, err := scrapeAll(context.Background(), srv.Client(), []string{srv.URL, dead}, time.Now())
	if err != nil || len(sc.samples) == 0 || sc.samples[0].labels["instance"] != srv.URL {
		t.Fatalf("%v %+v", err, sc)
	}
	if _, err := scrapeAll(context.Background(), srv.Client(), []string{dead}, time.Now()); err == nil {
		t.Fatal("no node answered, no error")
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{{9430, "ops", "9.43k/s"}, {0.0123, "s", "12.3ms"}, {2.5, "s", "2.5s"}, {3 << 20, "bytes", "3MiB"}, {2.2e6, "short", "2.2M"}, {0.5, "", "0.5"}} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("%v %s: %s, want %s", c.v, c.unit, got, c.want)
		}
	}
}
