package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The subset of PromQL the dashboard uses, evaluated over the scrapes
// this program took: selectors with = matchers, rate(SEL[D]),
// sum/max/min [by (labels)] (EXPR), histogram_quantile(Q, EXPR) and
// number literals. Anything else is a parse error, so a dashboard query
// the renderer cannot draw fails loudly.

// expr is a parsed expression.
type expr interface {
	eval(h *history, at int) []series
}

// series is one labelled value.
type series struct {
	labels map[string]string
	value  float64
}

type selector struct {
	name     string
	matchers map[string]string
}

type rateOf struct {
	sel    selector
	window time.Duration
}

type aggregate struct {
	op   string
	by   []string
	expr expr
}

type quantile struct {
	q    float64
	expr expr
}

type number float64

// parse parses one expression of the subset.
func parse(s string) (expr, error) {
	p := &parser{toks: tokenize(s)}
	e, err := p.expr()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return e, nil
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				j = len(s) - i - 2
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		case strings.ContainsRune("(){}[],=", c):
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("(){}[],=\"", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string { t := p.peek(); p.pos++; return t }

func (p *parser) want(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("want %q, got %q", t, got)
	}
	return nil
}

func (p *parser) expr() (expr, error) {
	switch t := p.peek(); {
	case t == "sum" || t == "max" || t == "min":
		return p.aggregate()
	case t == "rate":
		return p.rate()
	case t == "histogram_quantile":
		return p.quantile()
	case t != "" && (unicode.IsDigit(rune(t[0])) || t[0] == '.'):
		v, err := strconv.ParseFloat(p.next(), 64)
		return number(v), err
	}
	return p.selector()
}

func (p *parser) aggregate() (expr, error) {
	a := &aggregate{op: p.next()}
	if p.peek() == "by" {
		p.next()
		labels, err := p.labelList()
		if err != nil {
			return nil, err
		}
		a.by = labels
	}
	inner, err := p.parenthesised()
	a.expr = inner
	return a, err
}

func (p *parser) labelList() ([]string, error) {
	if err := p.want("("); err != nil {
		return nil, err
	}
	var out []string
	for p.peek() != ")" && p.peek() != "" {
		out = append(out, p.next())
		if p.peek() == "," {
			p.next()
		}
	}
	return out, p.want(")")
}

func (p *parser) parenthesised() (expr, error) {
	if err := p.want("("); err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	return e, p.want(")")
}

func (p *parser) rate() (expr, error) {
	p.next()
	if err := p.want("("); err != nil {
		return nil, err
	}
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	if err := p.want("["); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(p.next())
	if err != nil {
		return nil, err
	}
	if err := p.want("]"); err != nil {
		return nil, err
	}
	return &rateOf{sel: *sel.(*selector), window: d}, p.want(")")
}

func (p *parser) quantile() (expr, error) {
	p.next()
	if err := p.want("("); err != nil {
		return nil, err
	}
	q, err := strconv.ParseFloat(p.next(), 64)
	if err != nil {
		return nil, err
	}
	if err := p.want(","); err != nil {
		return nil, err
	}
	inner, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &quantile{q: q, expr: inner}, p.want(")")
}

func (p *parser) selector() (expr, error) {
	name := p.next()
	if name == "" || !isIdent(name) {
		return nil, fmt.Errorf("want a metric name, got %q", name)
	}
	sel := &selector{name: name, matchers: map[string]string{}}
	if p.peek() != "{" {
		return sel, nil
	}
	p.next()
	for p.peek() != "}" {
		k := p.next()
		if err := p.want("="); err != nil {
			return nil, err
		}
		v, err := strconv.Unquote(p.next())
		if err != nil {
			return nil, err
		}
		sel.matchers[k] = v
		if p.peek() == "," {
			p.next()
		}
	}
	return sel, p.want("}")
}

func isIdent(s string) bool {
	for i, c := range s {
		if !(c == '_' || unicode.IsLetter(c) || i > 0 && unicode.IsDigit(c)) {
			return false
		}
	}
	return true
}

// metricNames lists the metric names an expression reads.
func metricNames(e expr) []string {
	switch v := e.(type) {
	case *selector:
		return []string{v.name}
	case *rateOf:
		return []string{v.sel.name}
	case *aggregate:
		return metricNames(v.expr)
	case *quantile:
		return metricNames(v.expr)
	}
	return nil
}

func (s *selector) eval(h *history, at int) []series {
	var out []series
	for _, smp := range h.scrapes[at].samples {
		if smp.name == s.name && matches(smp.labels, s.matchers) {
			out = append(out, series{labels: smp.labels, value: smp.value})
		}
	}
	return out
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// eval of a rate: per series, the increase over the samples inside the
// window divided by their time span (a counter reset counts from zero).
func (r *rateOf) eval(h *history, at int) []series {
	end := h.scrapes[at].at
	first := map[string]series{}
	firstAt := map[string]time.Time{}
	for i := at; i >= 0 && end.Sub(h.scrapes[i].at) <= r.window; i-- {
		for _, s := range r.sel.eval(h, i) {
			k := key(s.labels)
			first[k], firstAt[k] = s, h.scrapes[i].at
		}
	}
	var out []series
	for _, last := range r.sel.eval(h, at) {
		k := key(last.labels)
		dt := end.Sub(firstAt[k]).Seconds()
		if dt <= 0 {
			continue
		}
		inc := last.value - first[k].value
		if inc < 0 {
			inc = last.value
		}
		out = append(out, series{labels: last.labels, value: inc / dt})
	}
	return out
}

func (a *aggregate) eval(h *history, at int) []series {
	groups := map[string]*series{}
	var order []string
	for _, s := range a.expr.eval(h, at) {
		labels := map[string]string{}
		for _, l := range a.by {
			labels[l] = s.labels[l]
		}
		k := key(labels)
		g, ok := groups[k]
		if !ok {
			g = &series{labels: labels, value: s.value}
			groups[k], order = g, append(order, k)
			continue
		}
		g.value = combine(a.op, g.value, s.value)
	}
	sort.Strings(order)
	out := make([]series, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	return out
}

func combine(op string, a, b float64) float64 {
	switch op {
	case "max":
		return math.Max(a, b)
	case "min":
		return math.Min(a, b)
	}
	return a + b
}

// eval of histogram_quantile: Prometheus's linear interpolation inside
// the bucket where the rank falls.
func (q *quantile) eval(h *history, at int) []series {
	type bucket struct{ le, count float64 }
	groups := map[string][]bucket{}
	labelsOf := map[string]map[string]string{}
	for _, s := range q.expr.eval(h, at) {
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if err != nil {
			continue
		}
		rest := map[string]string{}
		for k, v := range s.labels {
			if k != "le" {
				rest[k] = v
			}
		}
		k := key(rest)
		groups[k], labelsOf[k] = append(groups[k], bucket{le, s.value}), rest
	}
	var out []series
	for k, bs := range groups {
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
		total := bs[len(bs)-1].count
		if total == 0 {
			continue
		}
		rank, lower, prev := q.q*total, 0.0, 0.0
		for _, b := range bs {
			if b.count >= rank {
				v := b.le
				if math.IsInf(b.le, 1) {
					v = lower
				} else if b.count > prev {
					v = lower + (b.le-lower)*(rank-prev)/(b.count-prev)
				}
				out = append(out, series{labels: labelsOf[k], value: v})
				break
			}
			lower, prev = b.le, b.count
		}
	}
	return out
}

func (n number) eval(*history, int) []series {
	return []series{{labels: map[string]string{}, value: float64(n)}}
}

// key is a canonical form of a label set.
func key(labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s=%q,", k, labels[k])
	}
	return b.String()
}
