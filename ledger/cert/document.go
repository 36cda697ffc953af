package cert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// uncovered are the answer fields the signature does not cover: a
// verifier neither checks nor shows them.
var uncovered = map[string]bool{"duplicate": true}

// VerifyDocument verifies one answer document (JSON, or msgpack when
// msgpack is set) as `invoke --json` prints it or POST /v1/invoke answers
// it: Check on its proof, then every field it shows against what the
// signed bytes state, and for an allow its validity window at now. A
// field that disagrees makes it invalid, naming the field
// (certificate.ErrFieldMismatch); a field no answer has is refused.
func VerifyDocument(doc []byte, msgpack bool, trust certificate.Trust, now int64) (*Checked, error) {
	if len(doc) > limits.MaxCertificateBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", certificate.ErrInvalid, len(doc), limits.MaxCertificateBytes)
	}
	var a certificate.Answer
	shown := doc
	if msgpack {
		if err := codec.UnmarshalStrict(doc, len(doc), &a); err != nil {
			return nil, fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
		}
		b, err := json.Marshal(&a)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
		}
		shown = b
	} else if err := jsonv2.Unmarshal(doc, &a, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
	}
	c, err := Check(&a, trust)
	if err != nil {
		return nil, err
	}
	want, err := json.Marshal(&c.Answer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
	}
	if err := compareJSON(shown, want); err != nil {
		return nil, err
	}
	if c.View.Allowed() {
		if err := CheckWindow(c.View, now); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// compareJSON checks that every field of shown (a JSON object) equals the
// same field of want; fields shown empty may be absent from want.
func compareJSON(shown, want []byte) error {
	s, err := generic(shown)
	if err != nil {
		return fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
	}
	w, err := generic(want)
	if err != nil {
		return fmt.Errorf("%w: %v", certificate.ErrInvalid, err)
	}
	return compare("", s, w)
}

func generic(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func compare(path string, shown, want any) error {
	sm, ok := shown.(map[string]any)
	if !ok {
		if reflect.DeepEqual(shown, want) || (want == nil && empty(shown)) {
			return nil
		}
		return mismatch(path, shown, want)
	}
	wm, ok := want.(map[string]any)
	if !ok {
		if want == nil && empty(shown) {
			return nil
		}
		return mismatch(path, shown, want)
	}
	keys := make([]string, 0, len(sm))
	for k := range sm {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first disagreement named is always the same one
	for _, k := range keys {
		if path == "" && uncovered[k] {
			continue
		}
		p := k
		if path != "" {
			p = path + "." + k
		}
		if err := compare(p, sm[k], wm[k]); err != nil {
			return err
		}
	}
	return nil
}

// empty reports whether a decoded JSON value is the zero a field omitted
// from an answer stands for.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		return x == "0"
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !empty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func mismatch(path string, shown, want any) error {
	if want == nil {
		return fmt.Errorf("%w: %s is %s, but the signed event states no %s", certificate.ErrFieldMismatch, path, short(shown), path)
	}
	return fmt.Errorf("%w: %s is %s, but the signed event states %s", certificate.ErrFieldMismatch, path, short(shown), short(want))
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
