package contract

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// The example from the capability-file documentation: FastPath, idempotent,
// timeout 5ms, tenant-wide shared 3, tenant isolated, everything else
// defaulted.
func TestParseHandWritten(t *testing.T) {
	c, err := ParseJSON([]byte(`{"class":"fast_path","timeout":"5ms","concurrency":{"tenant_wide_shared":3},
		"isolation":"tenant_isolated","idempotent":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Temporal.Class, want.Temporal.Timeout, want.Temporal.Idempotent = FastPath, 5*time.Millisecond, true
	want.Concurrency.Model = ConcurrencyModel{Kind: TenantWideShared, Max: 3}
	want.Concurrency.Isolation = TenantIsolated
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

// The idempotent flag is kept next to a retry policy.
func TestParseIdempotentWithRetry(t *testing.T) {
	c, err := ParseJSON([]byte(`{"idempotent":true,"retry":{"linear":{"max_attempts":3,"delay":"100ms"}},
		"deadline":{"must_start_by":"2s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Temporal.Idempotent || c.Temporal.Retry != Linear(3, 100*time.Millisecond) ||
		c.Temporal.Deadline != StartBy(2*time.Second) || c.Temporal.Class != Interactive {
		t.Fatalf("got %+v", c.Temporal)
	}
}

func TestParseVariants(t *testing.T) {
	cases := map[string]func(Contract) bool{
		`{"deadline":"none"}`:           func(c Contract) bool { return c.Temporal.Deadline == DeadlineSpec{} },
		`{"deadline":{"hard":"1m30s"}}`: func(c Contract) bool { return c.Temporal.Deadline == Hard(90*time.Second) },
		`{"deadline":{"soft":"1s"}}`:    func(c Contract) bool { return c.Temporal.Deadline == Soft(time.Second) },
		`{"deadline":null}`:             func(c Contract) bool { return c.Temporal.Deadline == DeadlineSpec{} },
		`{"concurrency":"single_tenant_exclusive"}`: func(c Contract) bool {
			return c.Concurrency.Model == ConcurrencyModel{Kind: SingleTenantExclusive}
		},
		`{"concurrency":{"global_shared":7}}`: func(c Contract) bool {
			return c.Concurrency.Model == ConcurrencyModel{Kind: GlobalShared, Max: 7}
		},
		`{"concurrency":{"global_shared":{"max":100,"rate_limit_rps":1000}}}`: func(c Contract) bool {
			return c.Concurrency.Model == ConcurrencyModel{Kind: GlobalShared, Max: 100, RateLimitRPS: 1000}
		},
		`{"idempotent":true,"retry":{"forever":{"initial_delay":"1ms","max_delay":"1s","jitter":0.1}}}`: func(c Contract) bool {
			return c.Temporal.Retry == RetryPolicy{Kind: Forever, InitialDelay: time.Millisecond, MaxDelay: time.Second, Jitter: 0.1}
		},
		`{"retry":"none"}`: func(c Contract) bool { return c.Temporal.Retry == RetryPolicy{} },
		`{"resources":{"max_memory_bytes":1024,"max_cpu_time":"2s"}}`: func(c Contract) bool {
			return c.Concurrency.Limits == ResourceLimits{MaxMemoryBytes: 1024, MaxCPUTime: 2 * time.Second}
		},
		`{"version":"3.0.0-rc1","description":"d","experimental":true}`: func(c Contract) bool {
			return c.Metadata == Metadata{Version: "3.0.0-rc1", Experimental: true, Description: "d"}
		},
	}
	for in, ok := range cases {
		c, err := ParseJSON([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !ok(c) {
			t.Errorf("%s: decoded %+v", in, c)
		}
	}
}

func TestParseRejects(t *testing.T) {
	bad := []string{
		`{"clas":"batch"}`,
		`{"class":"FastPath"}`,
		`{"class":"batch"} {}`,
		`null`,
		`[]`,
		`{"timeout":"5"}`,
		`{"timeout":5000000}`,
		`{"timeout":"-1s"}`,
		`{"timeout":"200h"}`,
		`{"deadline":{"hard":"1s","soft":"2s"}}`,
		`{"deadline":{"hard":"0s"}}`,
		`{"deadline":"hard"}`,
		`{"deadline":{"none":"1s"}}`,
		`{"deadline":{"late":"1s"}}`,
		`{"concurrency":"tenant_wide_shared"}`,
		`{"concurrency":{"tenant_wide_shared":0}}`,
		`{"concurrency":{"tenant_wide_shared":-1}}`,
		`{"concurrency":{"unlimited":3}}`,
		`{"concurrency":{"global_shared":{"max":1,"rps":2}}}`,
		`{"retry":{"exponential":{"max_attempts":3,"initial_delay":"1ms","max_delay":"1s"}}}`, // not idempotent
		`{"idempotent":true,"retry":{"exponential":{"max_attempts":3,"initial_delay":"1ms"}}}`,
		`{"idempotent":true,"retry":{"linear":{"max_attempts":3,"delay":"1ms","multiplier":2}}}`,
		`{"idempotent":true,"retry":"forever"}`,
		`{"isolation":"containerized"}`,
		`{"resources":{"max_memory":1}}`,
		`{"version":"1.0_0"}`,
		`{"version":""}`,
	}
	for _, in := range bad {
		if _, err := ParseJSON([]byte(in)); !errors.Is(err, ErrInvalidContract) {
			t.Errorf("%s: want ErrInvalidContract, got %v", in, err)
		}
	}
}

// A contract embedded in a larger document (the capability file) decodes
// through encoding/json, and an absent contract keeps the default.
func TestEmbedded(t *testing.T) {
	var doc struct {
		Contract Contract `json:"contract"`
	}
	doc.Contract = Default()
	if err := json.Unmarshal([]byte(`{"contract":{"class":"batch","concurrency":"single_tenant_exclusive"}}`), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Contract.Temporal.Class != Batch || doc.Contract.Concurrency.Model.Kind != SingleTenantExclusive {
		t.Fatalf("got %+v", doc.Contract)
	}
	if err := json.Unmarshal([]byte(`{"contract":{"class":"batch","timeout":"1"}}`), &doc); !errors.Is(err, ErrInvalidContract) {
		t.Fatalf("an invalid embedded contract must fail with ErrInvalidContract, got %v", err)
	}
}
