package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary `make build` produces has no test hooks: nothing can shift its
// clock or redirect its dials from the command line.
func TestProductionBinaryHasNoTestHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "cnv-node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "agent", "--help").CombinedOutput()
	if strings.Contains(string(help), "test-") {
		t.Fatalf("agent --help lists a test flag:\n%s", help)
	}
	for _, flag := range []string{"--test-clock-offset=1h", "--test-dial-map=a=b"} {
		out, err := exec.Command(bin, "agent", "--node-id", "n1", "--data-dir", t.TempDir(), flag).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != exitUsage || !strings.Contains(string(out), "unknown flag") {
			t.Errorf("%s: %v %s", flag, err, out)
		}
	}
	// The address rewriter is not even linked in (the test build has it).
	syms, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(syms), "main.testHooks.dialer.func1") {
		t.Error("the address rewriter is linked into the production binary")
	}
	test := buildBinary(t, t.TempDir())
	if syms, _ := exec.Command("go", "tool", "nm", test).Output(); !strings.Contains(string(syms), "main.testHooks.dialer.func1") {
		t.Error("the test build has no address rewriter: this check looks for the wrong symbol")
	}
}
