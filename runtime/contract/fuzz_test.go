package contract

import (
	"reflect"
	"testing"
)

// FuzzParseJSON: whatever ParseJSON accepts is valid and survives a JSON
// round trip unchanged; nothing panics.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"class":"fast_path","deadline":{"hard":"5ms"},"concurrency":{"tenant_wide_shared":3},"idempotent":true}`,
		`{"idempotent":true,"retry":{"exponential":{"max_attempts":5,"initial_delay":"10ms","max_delay":"1s","multiplier":2,"jitter":0.2}}}`,
		`{"idempotent":true,"retry":{"linear":{"max_attempts":3,"delay":"100ms"}}}`,
		`{"concurrency":{"global_shared":{"max":100,"rate_limit_rps":1000}},"resources":{"max_memory_bytes":1}}`,
		`{"deadline":"none","retry":"none","concurrency":"unlimited"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseJSON(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid contract: %v", err)
		}
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJSON(b)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip of %s: %+v, %v", b, back, err)
		}
		if c.EffectiveTimeout() <= 0 {
			t.Fatalf("valid contract with timeout %v", c.EffectiveTimeout())
		}
	})
}
