package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cnv-project/cnv/jepsen/checker"
	"github.com/cnv-project/cnv/jepsen/history"
)

// File names inside a run's directory.
const (
	IndexFile   = "index.html"
	CounterFile = "counter.html"
	HistoryFile = "history.json"
)

// Write writes the run's page, the counter visualisation and the history
// into dir (created if needed) and returns the page's path.
func Write(dir string, h *history.History, res *checker.Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := writeHistory(filepath.Join(dir, HistoryFile), h); err != nil {
		return "", err
	}
	hasCounter := res.Counter != nil && res.Counter.Ops > 0
	if hasCounter {
		info := res.Counter.Info
		info.AddAnnotations(faultAnnotations(h.Faults))
		if err := porcupine.VisualizePath(res.Counter.Model, info, filepath.Join(dir, CounterFile)); err != nil {
			return "", fmt.Errorf("counter visualisation: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, pageData(h, res, hasCounter)); err != nil {
		return "", err
	}
	path := filepath.Join(dir, IndexFile)
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// faultAnnotations shows the fault intervals on porcupine's timeline.
func faultAnnotations(fs []history.Fault) []porcupine.Annotation {
	out := make([]porcupine.Annotation, len(fs))
	for i, f := range fs {
		out[i] = porcupine.Annotation{Tag: "nemesis", Start: f.Start, End: f.End, Description: f.Nemesis,
			Details: f.Detail, BackgroundColor: "#f5b7b1"}
	}
	return out
}

func writeHistory(path string, h *history.History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := history.Encode(f, h); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type faultRow struct {
	history.Fault
	From, To time.Duration
}

type data struct {
	H          *history.History
	OK         bool
	Verdicts   []checker.Verdict
	Plot       template.HTML
	Faults     []faultRow
	Counts     map[string]int
	HasCounter bool
	Started    string
}

func pageData(h *history.History, res *checker.Result, hasCounter bool) data {
	d := data{H: h, OK: res.OK(), Verdicts: res.Verdicts, HasCounter: hasCounter,
		Plot:    template.HTML(plot(h)), // built from escaped parts in svg.go
		Counts:  map[string]int{},
		Started: time.Unix(0, h.Start).UTC().Format(time.RFC3339)}
	for _, o := range h.Ops {
		d.Counts[string(o.Outcome)]++
	}
	for _, f := range h.Faults {
		d.Faults = append(d.Faults, faultRow{Fault: f, From: dur(f.Start), To: dur(f.End)})
	}
	return d
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cnv jepsen: {{.H.Scenario}} seed {{.H.Seed}}</title>
<style>
body{font-family:sans-serif;margin:1.5em;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
.pass{color:#2a9d4b;font-weight:bold}.fail{color:#c0392b;font-weight:bold}.unknown{color:#e67e22;font-weight:bold}
code{background:#f4f4f4;padding:2px 4px}iframe{width:100%;height:600px;border:1px solid #ccc}
</style></head><body>
<h1>{{.H.Scenario}} — {{if .OK}}<span class="pass">PASS</span>{{else}}<span class="fail">FAIL</span>{{end}}</h1>
<p>seed <b>{{.H.Seed}}</b>, started {{.Started}};
ops: {{index .Counts "ok"}} ok, {{index .Counts "fail"}} fail, {{index .Counts "unknown"}} unknown.</p>
<p>Reproduce: <code>{{.H.Command}}</code></p>
<h2>Verdicts</h2>
<table><tr><th>checker</th><th>result</th><th>summary</th><th>problems</th></tr>
{{range .Verdicts}}<tr><td>{{.Name}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Summary}}</td>
<td>{{range .Problems}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
<h2>Latency and throughput, faults shaded</h2>
{{.Plot}}
<p>Points: <span style="color:#2a9d4b">ok</span>, <span style="color:#c0392b">fail</span>,
<span style="color:#e67e22">unknown</span>; line: ok completions per second.</p>
<h2>Faults</h2>
<table><tr><th>nemesis</th><th>from</th><th>to</th><th>detail</th></tr>
{{range .Faults}}<tr><td>{{.Nemesis}}</td><td>{{.From}}</td><td>{{.To}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
{{if .HasCounter}}<h2>Delegation counter history (porcupine)</h2>
<p><a href="counter.html">open full page</a></p>
<iframe src="counter.html"></iframe>{{end}}
<p>Raw history: <a href="history.json">history.json</a>
(re-check: <code>go run ./jepsen --check history.json</code>)</p>
</body></html>
`))
