package client

import (
	"errors"
	"testing"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/wire"
)

func TestAPIErrorClassification(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		definite  bool
		notLeader bool
		kind      cnverr.Kind
	}{
		{400, `{"error":{"kind":"InvalidInput","message":"bad"}}`, true, false, cnverr.InvalidInput},
		{409, `{"error":{"kind":"Conflict","message":"reused"}}`, true, false, cnverr.Conflict},
		{503, `{"error":{"kind":"Unavailable","message":"x","details":{"not_leader":true}}}`, false, true, cnverr.Unavailable},
		{429, `{"error":{"kind":"ResourceExhausted","message":"slow down"}}`, false, false, cnverr.ResourceExhausted},
		{502, `<html>bad gateway</html>`, false, false, cnverr.InternalError},
	}
	for _, tc := range cases {
		err := apiError(tc.status, []byte(tc.body))
		var ae *APIError
		if !errors.As(err, &ae) || ae.Definite() != tc.definite || ae.NotLeader() != tc.notLeader || ae.Err.Kind != tc.kind {
			t.Errorf("%d %s: %+v", tc.status, tc.body, err)
		}
		if IsDefinite(err) != tc.definite {
			t.Errorf("%d: IsDefinite %v", tc.status, IsDefinite(err))
		}
	}
	if BaseURL("127.0.0.1:8001") != "http://127.0.0.1:8001" || BaseURL("https://x/") != "https://x" {
		t.Error("BaseURL")
	}
}

// FuzzDecodeAnswers feeds arbitrary node answers to the client's decoders.
func FuzzDecodeAnswers(f *testing.F) {
	f.Add(503, []byte(`{"error":{"kind":"Unavailable","message":"x","details":{"not_leader":true}}}`), "application/json")
	f.Add(200, []byte(`{"node":"n1","results":[{"request_id":"r","decision":"allow"}]}`), "application/json")
	f.Add(200, []byte{0x81, 0xa4, 'n', 'o', 'd', 'e', 0xa2, 'n', '1'}, "application/msgpack")
	f.Fuzz(func(t *testing.T, status int, b []byte, ct string) {
		if err := apiError(status, b); err != nil {
			var ae *APIError
			if errors.As(err, &ae) {
				_ = ae.Error()
				ae.NotLeader()
			}
		}
		var r wire.InvokeResponse
		decodeResponse(ct, b, &r)
		var st wire.Status
		decodeResponse(ct, b, &st)
	})
}
