package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// metricName finds the metric names in a PromQL expression: every cnv
// metric and the Go and process collectors' are prefixed so.
var metricName = regexp.MustCompile(`\b(cnv|go|process)_[a-z0-9_]+\b`)

// dashboardExprs returns every query of docs/grafana/cnv-dashboard.json.
func dashboardExprs(t *testing.T) []string {
	b, err := os.ReadFile("../../docs/grafana/cnv-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

// scrapedNames returns the sample names a node's /metrics exposes.
func scrapedNames(t *testing.T, addr string) map[string]bool {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return sampleNames(resp.Body)
}

func sampleNames(r io.Reader) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// Every metric a dashboard query names exists on a live cluster (three
// processes under cluster up, after a forwarded write and a refused one).
func TestDashboardMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dir := t.TempDir()
	u := startUp(t, buildBinary(t, dir), dir, 3, "--insecure") // scraped with plain HTTP
	cl := u.admin(t)
	for _, a := range u.https { // through every node: the followers forward
		if _, err := cl.Invoke(context.Background(), a, invocation.Invocation{Capability: "hot.echo"}); err != nil {
			t.Fatal(err)
		}
	}
	cl.Do(context.Background(), http.MethodPost, u.https[0], "/v1/invoke", map[string]any{}, nil, nil)
	names := map[string]bool{}
	testcluster.WaitFor(t, "invocations counted", 10*time.Second, func() error {
		for _, a := range u.https {
			for n := range scrapedNames(t, a) {
				names[n] = true
			}
		}
		if !names["cnv_invocations_total"] || !names["cnv_forwarded_requests_total"] {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	for _, e := range dashboardExprs(t) {
		found := metricName.FindAllString(e, -1)
		if len(found) == 0 {
			t.Errorf("%s names no cnv_, go_ or process_ metric", e)
		}
		for _, n := range found {
			if !names[n] {
				t.Errorf("the dashboard queries %s, which no node exposes (%s)", n, e)
			}
		}
	}
}

func TestSampleNames(t *testing.T) {
	got := sampleNames(strings.NewReader("# HELP a x\n# TYPE a counter\na{x=\"1\"} 2\nb 3\n\n"))
	if len(got) != 2 || !got["a"] || !got["b"] {
		t.Fatalf("%v", got)
	}
}
