package ledger

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

func TestExportImportSameRoot(t *testing.T) {
	src := openTest(t)
	mustAppend(t, src, AppendOptions{Time: t0, RaftIndex: 3}, sampleEvents()...)
	fillLedger(t, src, 10)
	var buf bytes.Buffer
	n, err := src.Export(&buf, 0, 0)
	if err != nil || n != src.Head().Size {
		t.Fatalf("exported %d: %v", n, err)
	}
	dst := openTest(t)
	res, err := dst.Import(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != n || !bytes.Equal(res.Head.Root, src.Head().Root) || res.Head.Size != n {
		t.Fatalf("import %+v, source head %+v", res, src.Head())
	}
	// Exporting the copy gives the same bytes.
	var again bytes.Buffer
	dst.Export(&again, 0, 0)
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatal("re-export differs")
	}
	// Re-running the import skips what is there.
	res, err = dst.Import(bytes.NewReader(buf.Bytes()))
	if err != nil || res.Imported != 0 || res.Skipped != n {
		t.Fatalf("re-import %+v %v", res, err)
	}
}

func TestImportResumes(t *testing.T) {
	src := openTest(t)
	for i := 0; i < 2500; i += 500 {
		batch := make([]event.Event, 500)
		for j := range batch {
			batch[j] = decision("a", "t", "user.read", policy.Allow, "")
		}
		mustAppend(t, src, AppendOptions{Time: t0 + int64(i)}, batch...)
	}
	var buf bytes.Buffer
	src.Export(&buf, 0, 0)
	lines := strings.SplitAfter(buf.String(), "\n")
	dst := openTest(t)
	if _, err := dst.Import(strings.NewReader(strings.Join(lines[:1500], ""))); err != nil {
		t.Fatal(err)
	}
	res, err := dst.Import(strings.NewReader(buf.String()))
	if err != nil || res.Skipped != 1500 || res.Imported != 1000 || !bytes.Equal(res.Head.Root, src.Head().Root) {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestImportRejects(t *testing.T) {
	src := openTest(t)
	mustAppend(t, src, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""), decision("b", "t", "user.read", policy.Deny, "x"))
	var buf bytes.Buffer
	src.Export(&buf, 0, 0)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for name, c := range map[string]struct {
		input string
		want  error
	}{
		"gap":           {lines[1] + "\n", ErrSequence},
		"bad json":      {"{nope\n", event.ErrDecode},
		"unknown field": {strings.Replace(lines[0], `"actor"`, `"extra":1,"actor"`, 1), event.ErrDecode},
		"unknown type":  {strings.Replace(lines[0], `"PolicyDecision"`, `"Nope"`, 1), event.ErrDecode},
		"invalid event": {strings.Replace(lines[0], `"allow"`, `"maybe"`, 1), event.ErrInvalidEvent},
		"time reversed": {lines[0] + "\n" + strings.Replace(lines[1], `"time":`+itoa(t0), `"time":1`, 1), ErrSequence},
		"long line":     {strings.Repeat(" ", 5<<20), event.ErrDecode},
	} {
		dst := openTest(t)
		_, err := dst.Import(strings.NewReader(c.input))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A differing event at an existing index is a conflict, not a skip.
	dst := openTest(t)
	dst.Import(strings.NewReader(lines[0] + "\n"))
	if _, err := dst.Import(strings.NewReader(strings.Replace(lines[0], `"r1"]`, `"r2"]`, 1))); !errors.Is(err, ErrSequence) {
		t.Errorf("conflict: %v", err)
	}
}

func itoa(v int64) string {
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}
