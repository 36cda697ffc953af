package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// A panel's drawn lines: one per series of every target.
type line struct {
	name   string
	points []float64 // one per scrape; NaN where the series is absent
}

const (
	panelW, panelH = 560, 250
	plotX, plotY   = 60, 34
	plotW, plotH   = 480, 150
	margin         = 16
)

var palette = []string{"#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0"}

// render draws every panel of d over h as one SVG.
func render(d *dashboard, h *history, addrs []string) ([]byte, error) {
	var b bytes.Buffer
	rows := (len(d.Panels) + 1) / 2
	width, height := 2*panelW+3*margin, rows*(panelH+margin)+margin+50
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#111217"/>`)
	span := h.scrapes[len(h.scrapes)-1].at.Sub(h.scrapes[0].at).Round(1e9)
	fmt.Fprintf(&b, `<text x="%d" y="28" fill="#d8d9da" font-size="16">%s — a rendering of the dashboard's queries</text>`, margin, html.EscapeString(d.Title))
	fmt.Fprintf(&b, `<text x="%d" y="46" fill="#8e8e8e">docs/grafana/cnv-dashboard.json evaluated by scripts/dashrender over %d scrapes (%v) of %s; not a Grafana screenshot</text>`,
		margin, len(h.scrapes), span, html.EscapeString(strings.Join(addrs, ", ")))
	for i, p := range d.Panels {
		lines, err := panelLines(p, h)
		if err != nil {
			return nil, fmt.Errorf("panel %q: %w", p.Title, err)
		}
		x, y := margin+(i%2)*(panelW+margin), 60+(i/2)*(panelH+margin)
		drawPanel(&b, x, y, p, lines, span.String())
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

// panelLines evaluates every target at every scrape.
func panelLines(p panel, h *history) ([]line, error) {
	var out []line
	for _, t := range p.Targets {
		e, err := parse(t.Expr)
		if err != nil {
			return nil, err
		}
		byName := map[string]*line{}
		var names []string
		for i := range h.scrapes {
			for _, s := range e.eval(h, i) {
				n := legend(t.LegendFormat, s.labels)
				l, ok := byName[n]
				if !ok {
					l = &line{name: n, points: nanPoints(len(h.scrapes))}
					byName[n], names = l, append(names, n)
				}
				l.points[i] = s.value
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, *byName[n])
		}
	}
	return out, nil
}

func nanPoints(n int) []float64 {
	p := make([]float64, n)
	for i := range p {
		p[i] = math.NaN()
	}
	return p
}

// legend fills {{label}} placeholders.
func legend(format string, labels map[string]string) string {
	out := format
	for k, v := range labels {
		out = strings.ReplaceAll(out, "{{"+k+"}}", v)
	}
	if out == "" {
		out = key(labels)
	}
	return out
}

func drawPanel(b *bytes.Buffer, x, y int, p panel, lines []line, span string) {
	fmt.Fprintf(b, `<g transform="translate(%d,%d)"><rect width="%d" height="%d" fill="#181b1f" stroke="#2c3235"/>`, x, y, panelW, panelH)
	fmt.Fprintf(b, `<text x="10" y="20" fill="#d8d9da" font-size="13">%s</text>`, html.EscapeString(p.Title))
	lo, hi := valueRange(lines)
	unit := p.FieldConfig.Defaults.Unit
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		yy := plotY + plotH - plotH*i/4
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#2c3235"/>`, plotX, yy, plotX+plotW, yy)
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#8e8e8e" text-anchor="end">%s</text>`, plotX-4, yy+4, formatValue(v, unit))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#8e8e8e">−%s</text><text x="%d" y="%d" fill="#8e8e8e" text-anchor="end">now</text>`,
		plotX, plotY+plotH+14, span, plotX+plotW, plotY+plotH+14)
	for i, l := range lines {
		color := palette[i%len(palette)]
		if pts := polyline(l.points, lo, hi); pts != "" {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, pts)
		}
		lx, ly := 10+(i%3)*180, plotY+plotH+32+(i/3)*14
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/><text x="%d" y="%d" fill="#c7d0d9">%s</text>`,
			lx, ly-4, color, lx+14, ly, html.EscapeString(truncate(l.name, 26)))
	}
	if len(lines) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#8e8e8e" text-anchor="middle">no data</text>`, plotX+plotW/2, plotY+plotH/2)
	}
	b.WriteString("</g>")
}

func valueRange(lines []line) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, v := range l.points {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	lo = math.Min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi * 1.1
}

func polyline(points []float64, lo, hi float64) string {
	var parts []string
	n := len(points)
	for i, v := range points {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		x := float64(plotX) + float64(plotW)*float64(i)/math.Max(1, float64(n-1))
		y := float64(plotY+plotH) - float64(plotH)*(v-lo)/(hi-lo)
		parts = append(parts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	return strings.Join(parts, " ")
}

// formatValue prints v in the panel's Grafana unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		if v < 1 {
			return si(v*1000) + "ms"
		}
		return si(v) + "s"
	case "bytes":
		return si(v/(1<<20)) + "MiB"
	case "ops", "reqps":
		return si(v) + "/s"
	}
	return si(v)
}

// si prints v with three significant digits and a k or M suffix.
func si(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
