package report

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cnv-project/cnv/jepsen/history"
)

// Plot geometry, in SVG units.
const (
	plotW, plotH         = 1000.0, 340.0
	padL, padR, padT     = 60.0, 60.0, 20.0
	padB                 = 40.0
	innerW, innerH       = plotW - padL - padR, plotH - padT - padB
	minLatency, bucketNS = float64(100 * time.Microsecond), int64(time.Second)
)

var outcomeColor = map[history.Outcome]string{history.OK: "#2a9d4b", history.Fail: "#c0392b", history.Unknown: "#e67e22"}

var faultPalette = []string{"#7fb3d5", "#f5b7b1", "#d7bde2", "#f9e79f", "#a3e4d7", "#fad7a0", "#d5dbdb"}

// plot draws latency (log scale, left axis) and throughput (ok ops per
// second, right axis) over time, with fault intervals shaded behind.
func plot(h *history.History) string {
	span := timeSpan(h)
	maxLat := minLatency * 10
	for _, o := range h.Ops {
		maxLat = math.Max(maxLat, float64(o.End-o.Invoke))
	}
	p := &svg{span: float64(span), maxLat: maxLat}
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" font-family="sans-serif" font-size="11">`, plotW, plotH)
	p.faults(h.Faults)
	p.axes()
	p.points(h.Ops)
	p.throughput(h.Ops, span)
	p.b.WriteString(`</svg>`)
	return p.b.String()
}

func timeSpan(h *history.History) int64 {
	span := int64(time.Second)
	for _, o := range h.Ops {
		span = max(span, o.End)
	}
	for _, f := range h.Faults {
		span = max(span, f.End)
	}
	return span
}

type svg struct {
	b            strings.Builder
	span, maxLat float64
}

func (p *svg) x(ns int64) float64 { return padL + innerW*float64(ns)/p.span }

// y maps a latency in ns onto the log-scaled left axis.
func (p *svg) y(lat float64) float64 {
	lat = math.Max(lat, minLatency)
	f := math.Log(lat/minLatency) / math.Log(p.maxLat/minLatency)
	return padT + innerH*(1-f)
}

func (p *svg) faults(fs []history.Fault) {
	colors := map[string]string{}
	names := make([]string, 0)
	for _, f := range fs {
		if _, ok := colors[f.Nemesis]; !ok {
			colors[f.Nemesis] = faultPalette[len(colors)%len(faultPalette)]
			names = append(names, f.Nemesis)
		}
	}
	for _, f := range fs {
		x0, x1 := p.x(f.Start), p.x(f.End)
		fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" opacity="0.45"><title>%s: %s (%v → %v)</title></rect>`,
			x0, padT, math.Max(x1-x0, 1), innerH, colors[f.Nemesis], esc(f.Nemesis), esc(f.Detail), dur(f.Start), dur(f.End))
	}
	sort.Strings(names)
	for i, n := range names {
		fmt.Fprintf(&p.b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			padL+float64(i)*150, plotH-12, colors[n], padL+float64(i)*150+14, plotH-3, esc(n))
	}
}

func (p *svg) axes() {
	fmt.Fprintf(&p.b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#555"/>`, padL, padT, innerW, innerH)
	for lat := minLatency; lat <= p.maxLat*1.0001; lat *= 10 {
		y := p.y(lat)
		fmt.Fprintf(&p.b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%v</text>`,
			padL, padL+innerW, y, y, padL-4, y+4, time.Duration(lat))
	}
	step := niceStep(p.span)
	for t := 0.0; t <= p.span; t += step {
		x := p.x(int64(t))
		fmt.Fprintf(&p.b, `<text x="%.1f" y="%.0f" text-anchor="middle">%v</text>`, x, padT+innerH+14, time.Duration(t).Round(time.Second))
	}
	fmt.Fprintf(&p.b, `<text x="12" y="%.0f" transform="rotate(-90 12 %.0f)" text-anchor="middle">latency (log)</text>`, padT+innerH/2, padT+innerH/2)
	fmt.Fprintf(&p.b, `<text x="%.0f" y="%.0f" transform="rotate(90 %.0f %.0f)" text-anchor="middle">ok ops/s</text>`,
		plotW-10, padT+innerH/2, plotW-10, padT+innerH/2)
}

// niceStep picks a tick step of 1, 2 or 5 times a power of ten seconds.
func niceStep(span float64) float64 {
	raw := span / 10
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return math.Max(m*pow, float64(time.Second))
		}
	}
	return raw
}

func (p *svg) points(ops []history.Op) {
	for _, o := range ops {
		fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="1.8" fill="%s"><title>%s %s on %s: %s in %v</title></circle>`,
			p.x(o.Invoke), p.y(float64(o.End-o.Invoke)), outcomeColor[o.Outcome],
			esc(string(o.Kind)), esc(o.Value+o.Key), esc(o.Node), o.Outcome, time.Duration(o.End-o.Invoke).Round(time.Microsecond))
	}
}

// throughput draws ok completions per second as a step line.
func (p *svg) throughput(ops []history.Op, span int64) {
	n := int(span/bucketNS) + 1
	counts := make([]int, n)
	peak := 1
	for _, o := range ops {
		if o.Outcome == history.OK {
			i := int(o.End / bucketNS)
			counts[i]++
			peak = max(peak, counts[i])
		}
	}
	var pts []string
	for i, c := range counts {
		y := padT + innerH*(1-float64(c)/float64(peak))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", p.x(int64(i)*bucketNS), y, p.x(min(int64(i+1)*bucketNS, span)), y))
	}
	fmt.Fprintf(&p.b, `<polyline points="%s" fill="none" stroke="#1f4e79" stroke-width="1.5"/>`, strings.Join(pts, " "))
	fmt.Fprintf(&p.b, `<text x="%.0f" y="%.0f">%d</text><text x="%.0f" y="%.0f">0</text>`,
		padL+innerW+4, padT+8, peak, padL+innerW+4, padT+innerH)
}

func esc(s string) string { return html.EscapeString(s) }

func dur(ns int64) time.Duration { return time.Duration(ns).Round(time.Millisecond) }
