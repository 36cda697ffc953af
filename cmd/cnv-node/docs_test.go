package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// pendingDocs are documents other work in progress writes; links to them
// are expected to dangle until it lands.
var pendingDocs = map[string]bool{"docs/CERTIFICATES.md": true}

// Every relative link in the README and docs/ names a file of the
// repository, and the README links nowhere else.
func TestDocLinks(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			checkLink(t, f, m[1])
		}
	}
}

func checkLink(t *testing.T, file, target string) {
	if strings.Contains(target, "://") {
		if strings.HasSuffix(file, "README.md") {
			t.Errorf("README.md links outside the repository: %s", target)
		}
		return
	}
	target, _, _ = strings.Cut(target, "#")
	if target == "" {
		return
	}
	path := filepath.Clean(filepath.Join(filepath.Dir(file), target))
	rel, err := filepath.Rel("../..", path)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("%s links outside the repository: %s", file, target)
		return
	}
	if _, err := os.Stat(path); err != nil && !pendingDocs[rel] {
		t.Errorf("%s links to %s, which does not exist", file, rel)
	}
}
