// Command dashrender draws the panels of cnv's Grafana dashboard
// (docs/grafana/cnv-dashboard.json) as an SVG from a live cluster: it
// scrapes every node's /metrics for a while, evaluates each panel's PromQL
// queries over the scrapes itself (the subset in promql.go; no Prometheus
// or Grafana needed) and draws one chart per panel. The picture in
// docs/METRICS.md is made with it:
//
//	go run ./scripts/dashrender --addr 127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003 \
//	    --duration 2m --interval 2s --out docs/grafana/cnv-dashboard.svg
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// dashboard is the part of Grafana's JSON model the renderer reads.
type dashboard struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title       string `json:"title"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []target `json:"targets"`
}

type target struct {
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
}

func main() {
	dash := flag.String("dashboard", "docs/grafana/cnv-dashboard.json", "Grafana dashboard JSON")
	addrs := flag.String("addr", "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003", "nodes' HTTP addresses, comma-separated")
	duration := flag.Duration("duration", 2*time.Minute, "how long to scrape")
	interval := flag.Duration("interval", 2*time.Second, "time between scrapes")
	out := flag.String("out", "docs/grafana/cnv-dashboard.svg", "SVG file to write")
	flag.Parse()
	if err := run(*dash, strings.Split(*addrs, ","), *duration, *interval, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dashrender:", err)
		os.Exit(1)
	}
}

func run(dashFile string, addrs []string, duration, interval time.Duration, out string) error {
	d, err := loadDashboard(dashFile)
	if err != nil {
		return err
	}
	h, err := collect(context.Background(), addrs, duration, interval)
	if err != nil {
		return err
	}
	svg, err := render(d, h, addrs)
	if err != nil {
		return err
	}
	return os.WriteFile(out, svg, 0o644)
}

func loadDashboard(path string) (*dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// collect scrapes every interval for duration.
func collect(ctx context.Context, addrs []string, duration, interval time.Duration) (*history, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	h := &history{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.Now().Add(duration)
	for now := time.Now(); !now.After(end); now = <-tick.C {
		sc, err := scrapeAll(ctx, hc, addrs, now)
		if err != nil {
			return nil, err
		}
		h.scrapes = append(h.scrapes, sc)
		fmt.Fprintf(os.Stderr, "\rscrape %d", len(h.scrapes))
	}
	fmt.Fprintln(os.Stderr)
	return h, nil
}
