package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
)

type arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type body struct {
	NodeID string `json:"node_id"`
	Args   []arg  `json:"args,omitempty"`
}

// The same mistakes are refused the same way in JSON and in msgpack,
// naming the field.
func TestDecodeBytesIsStrictInBothEncodings(t *testing.T) {
	cases := []struct {
		name      string
		json, msg []byte
		want      string
	}{
		{"duplicate key", []byte(`{"node_id":"a","node_id":"b"}`),
			[]byte("\x82\xa7node_id\xa1a\xa7node_id\xa1b"), "node_id"},
		{"case-changed key", []byte(`{"Node_ID":"a"}`), []byte("\x81\xa7Node_ID\xa1a"), "Node_ID"},
		{"unknown key", []byte(`{"node_id":"a","extra":1}`), []byte("\x82\xa7node_id\xa1a\xa5extra\x01"), "extra"},
		{"invalid UTF-8 in a value", []byte("{\"args\":[{\"name\":\"n\",\"value\":\"\xff\"}]}"),
			[]byte("\x81\xa4args\x91\x82\xa4name\xa1n\xa5value\xa1\xff"), "value"},
	}
	for _, c := range cases {
		for enc, in := range map[string][]byte{"json": c.json, "msgpack": c.msg} {
			var v body
			err := DecodeBytes(in, enc == "msgpack", &v)
			var ce *cnverr.Error
			if !errors.Is(err, ErrBadBody) || !errors.As(err, &ce) || ce.Kind != cnverr.InvalidInput || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s in %s: %v (want InvalidInput naming %q)", c.name, enc, err, c.want)
			}
		}
	}
	var v body
	if err := DecodeBytes([]byte(`{"node_id":"a"} {}`), false, &v); err == nil {
		t.Error("trailing JSON accepted")
	}
	good := codec.MustMarshal(body{NodeID: "n1", Args: []arg{{"k", "é"}}})
	if err := DecodeBytes(good, true, &v); err != nil || v.NodeID != "n1" {
		t.Fatalf("%v %+v", err, v)
	}
}

// An oversized body gets a 413 the client can read, not a reset, while it
// is still sending.
func TestOversizedBodyIs413(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ReadBody(w, r, 64<<10); err != nil {
			Error(w, r, err)
			return
		}
		Write(w, r, http.StatusOK, map[string]string{"ok": "yes"})
	}))
	defer srv.Close()
	for _, n := range []int{64<<10 + 1, 1 << 20, 6 << 20} {
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(make([]byte, n)))
		if err != nil {
			t.Fatalf("%d bytes: %v (want a 413 answer)", n, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"error"`) {
			t.Fatalf("%d bytes: %d %s", n, resp.StatusCode, b)
		}
	}
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(fmt.Sprintf("%q", "x")))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("small body: %v %v", err, resp)
	}
	resp.Body.Close()
}
