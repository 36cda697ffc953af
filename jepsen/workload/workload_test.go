package workload

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/jepsen/history"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/wire"
)

func TestClassify(t *testing.T) {
	limit := fmt.Errorf("%w: link ab used 3 of 3", delegation.ErrUsageLimitExceeded).Error()
	revoked := fmt.Errorf("%w: link ab", delegation.ErrRevoked).Error()
	cases := []struct {
		decision, reason string
		want             history.Decision
	}{
		{"allow", "", history.Allow},
		{"deny", limit, history.DenyLimit},
		{"deny", revoked, history.DenyRevoked},
		{"deny", "delegation expired: not_after", history.DenyOther},
		{"deny", "", history.DenyOther},
	}
	for _, c := range cases {
		if got := Classify(c.decision, c.reason); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.decision, c.reason, got, c.want)
		}
	}
}

func apiErr(status int) error {
	return &client.APIError{Status: status, Err: cnverr.New(cnverr.Unavailable, "x")}
}

func TestWriteOutcome(t *testing.T) {
	op := history.Op{Kind: history.Invoke}
	cases := []struct {
		name string
		outs []wire.Outcome
		err  error
		want history.Outcome
	}{
		{"transport failure", nil, errors.New("connection reset"), history.Unknown},
		{"no leader", nil, apiErr(http.StatusServiceUnavailable), history.Unknown},
		{"timeout", nil, apiErr(http.StatusRequestTimeout), history.Unknown},
		{"bad request", nil, apiErr(http.StatusBadRequest), history.Fail},
		{"per-item rejection", []wire.Outcome{{Error: cnverr.New(cnverr.InvalidInput, "bad")}}, nil, history.Fail},
		{"no decision", []wire.Outcome{{}}, nil, history.Unknown},
		{"allowed", []wire.Outcome{{Decision: "allow", LedgerIndex: 7,
			UseCounts: []wire.UseCount{{Link: "other", Used: 9}, {Link: "k", Used: 2, Max: 3}}}}, nil, history.OK},
	}
	for _, c := range cases {
		got := writeOutcome(op, c.outs, c.err, "k")
		if got.Outcome != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Outcome, c.want)
		}
	}
	got := writeOutcome(op, cases[len(cases)-1].outs, nil, "k")
	if got.Index != 7 || !got.HasIndex || got.Uses != 2 || got.Decision != history.Allow {
		t.Fatalf("allowed outcome %+v", got)
	}
}
