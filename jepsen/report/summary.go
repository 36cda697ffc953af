package report

import (
	"bytes"
	"html/template"
	"os"
	"path/filepath"
)

// SummaryRow is one run of a campaign.
type SummaryRow struct {
	Scenario string
	Seed     int64
	OK       bool
	Report   string // path of the run's page
	Problems int
	Error    string // the run could not be carried out
}

// WriteSummary writes a campaign's index page linking every run's report.
func WriteSummary(path string, rows []SummaryRow) error {
	dir := filepath.Dir(path)
	for i := range rows {
		if rel, err := filepath.Rel(dir, rows[i].Report); err == nil && rows[i].Report != "" {
			rows[i].Report = rel
		}
	}
	var buf bytes.Buffer
	if err := summary.Execute(&buf, rows); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

var summary = template.Must(template.New("summary").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cnv jepsen campaign</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}
.pass{color:#2a9d4b;font-weight:bold}.fail{color:#c0392b;font-weight:bold}</style></head><body>
<h1>cnv jepsen campaign: {{len .}} runs</h1>
<table><tr><th>scenario</th><th>seed</th><th>result</th><th>problems</th><th>report</th></tr>
{{range .}}<tr><td>{{.Scenario}}</td><td>{{.Seed}}</td>
<td>{{if .Error}}<span class="fail">error</span> {{.Error}}{{else if .OK}}<span class="pass">pass</span>{{else}}<span class="fail">FAIL</span>{{end}}</td>
<td>{{.Problems}}</td><td>{{if .Report}}<a href="{{.Report}}">{{.Report}}</a>{{end}}</td></tr>
{{end}}</table></body></html>
`))
