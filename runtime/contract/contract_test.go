package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
)

func TestDefaultContract(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Class != Interactive || c.Concurrency.Model.Kind != Unlimited ||
		c.Concurrency.Isolation != Shared || !c.Concurrency.Limits.IsUnlimited() ||
		c.Temporal.Idempotent || c.Temporal.Retry.Kind != NoRetry || c.Temporal.Deadline.Kind != NoDeadline ||
		c.Metadata.Version != "1.0.0" || c.Metadata.Experimental {
		t.Fatalf("Default() = %+v", c)
	}
	if err := (Contract{}).Validate(); !errors.Is(err, ErrInvalidContract) {
		t.Fatalf("the zero contract has no class and must not validate, got %v", err)
	}
}

func TestCompatibility(t *testing.T) {
	tc := func(c DurationClass) TemporalContract { return TemporalContract{Class: c} }
	for _, p := range [][2]DurationClass{{FastPath, Interactive}, {FastPath, Batch}, {Interactive, Batch}} {
		if !tc(p[0]).IsCompatibleWith(tc(p[1])) {
			t.Errorf("%v must fit where %v is expected", p[0], p[1])
		}
		if tc(p[1]).IsCompatibleWith(tc(p[0])) {
			t.Errorf("%v must not fit where %v is expected", p[1], p[0])
		}
	}
	if !tc(Batch).IsCompatibleWith(tc(Batch)) {
		t.Error("a class fits itself")
	}
}

func TestEffectiveTimeout(t *testing.T) {
	cases := []struct {
		name string
		tc   TemporalContract
		want time.Duration
	}{
		{"timeout and tighter hard deadline", TemporalContract{Class: Interactive, Timeout: 10 * time.Second, Deadline: Hard(5 * time.Second)}, 5 * time.Second},
		{"timeout below hard deadline", TemporalContract{Class: Interactive, Timeout: time.Second, Deadline: Hard(5 * time.Second)}, time.Second},
		{"class max", TemporalContract{Class: Interactive}, 500 * time.Millisecond},
		{"class max and hard deadline", TemporalContract{Class: Batch, Deadline: Hard(time.Minute)}, time.Minute},
		{"soft is ignored", TemporalContract{Class: Interactive, Deadline: Soft(time.Millisecond)}, 500 * time.Millisecond},
		{"must-start-by is ignored", TemporalContract{Class: FastPath, Deadline: StartBy(time.Microsecond)}, time.Millisecond},
		{"explicit timeout above the class", TemporalContract{Class: FastPath, Timeout: 5 * time.Millisecond}, 5 * time.Millisecond},
	}
	for _, c := range cases {
		if got := c.tc.EffectiveTimeout(); got != c.want {
			t.Errorf("%s: EffectiveTimeout = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestModelsKeepTheirFields(t *testing.T) {
	tw := ConcurrencyModel{Kind: TenantWideShared, Max: 5}
	gs := ConcurrencyModel{Kind: GlobalShared, Max: 100, RateLimitRPS: 1000}
	for _, m := range []ConcurrencyModel{tw, gs, {Kind: Unlimited}, {Kind: SingleTenantExclusive}, {Kind: GlobalShared, Max: 7}} {
		if err := m.Validate(); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		c := Default()
		c.Concurrency.Model = m
		if back := roundTripJSON(t, c); back.Concurrency.Model != m {
			t.Errorf("JSON: %+v came back as %+v", m, back.Concurrency.Model)
		}
		if back := roundTripCodec(t, c); back.Concurrency.Model != m {
			t.Errorf("codec: %+v came back as %+v", m, back.Concurrency.Model)
		}
	}
}

func TestIsolationLevelsDistinct(t *testing.T) {
	seen := map[string]IsolationLevel{}
	for _, l := range []IsolationLevel{Shared, TenantIsolated, FullyIsolated, Sandboxed} {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[string(b)]; dup {
			t.Fatalf("%d and %d share the name %q", prev, l, b)
		}
		seen[string(b)] = l
		var back IsolationLevel
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("%q decodes to %v, %v", b, back, err)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("want 4 distinct isolation levels, got %d", len(seen))
	}
}

func TestResourceLimitPresets(t *testing.T) {
	if u := UnlimitedResources(); !u.IsUnlimited() || u.MaxMemoryBytes != 0 || u.MaxCPUTime != 0 ||
		u.MaxFileDescriptors != 0 || u.MaxNetworkConnections != 0 {
		t.Errorf("unlimited = %+v", u)
	}
	s := StrictResources()
	want := ResourceLimits{MaxMemoryBytes: 100 * 1024 * 1024, MaxCPUTime: 60 * time.Second, MaxFileDescriptors: 10, MaxNetworkConnections: 5}
	if s != want || s.IsUnlimited() {
		t.Errorf("strict = %+v, want %+v", s, want)
	}
}

func TestCanSatisfy(t *testing.T) {
	const gib = 1 << 30
	with := func(class DurationClass, m ConcurrencyModel) Contract {
		c := Default()
		c.Temporal.Class, c.Concurrency.Model = class, m
		return c
	}
	cases := []struct {
		name string
		c    Contract
		a    AvailableResources
		want bool
	}{
		{"tenant-wide 5 with 10 slots", with(Interactive, ConcurrencyModel{Kind: TenantWideShared, Max: 5}), AvailableResources{TenantSlots: 10, AvailableMemoryBytes: gib}, true},
		{"tenant-wide 5 with 2 slots", with(Interactive, ConcurrencyModel{Kind: TenantWideShared, Max: 5}), AvailableResources{TenantSlots: 2, AvailableMemoryBytes: gib}, false},
		{"tenant-wide 3 with 5 slots", with(Interactive, ConcurrencyModel{Kind: TenantWideShared, Max: 3}), AvailableResources{TenantSlots: 5, AvailableMemoryBytes: gib}, true},
		{"fast unlimited fits one tenant slot", with(FastPath, ConcurrencyModel{}), AvailableResources{TenantSlots: 1, AvailableMemoryBytes: gib}, true},
		{"batch tenant-wide 2 does not fit one slot", with(Batch, ConcurrencyModel{Kind: TenantWideShared, Max: 2}), AvailableResources{TenantSlots: 1, AvailableMemoryBytes: gib}, false},
		{"exclusive needs a tenant slot", with(Batch, ConcurrencyModel{Kind: SingleTenantExclusive}), AvailableResources{GlobalSlots: 9, AvailableMemoryBytes: gib}, false},
		{"exclusive with a tenant slot", with(Batch, ConcurrencyModel{Kind: SingleTenantExclusive}), AvailableResources{TenantSlots: 1, AvailableMemoryBytes: gib}, true},
		{"global shared counts global slots", with(Batch, ConcurrencyModel{Kind: GlobalShared, Max: 4}), AvailableResources{TenantSlots: 100, GlobalSlots: 3, AvailableMemoryBytes: gib}, false},
		{"global shared with enough", with(Batch, ConcurrencyModel{Kind: GlobalShared, Max: 4, RateLimitRPS: 1}), AvailableResources{GlobalSlots: 4, AvailableMemoryBytes: gib}, true},
	}
	for _, tc := range cases {
		if got := tc.c.CanSatisfy(tc.a); got != tc.want {
			t.Errorf("%s: CanSatisfy = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A contract whose memory limit exceeds what is available must not be
// admitted.
func TestCanSatisfyChecksMemory(t *testing.T) {
	c := Default()
	c.Concurrency.Limits.MaxMemoryBytes = 50 << 20
	err := c.CheckResources(AvailableResources{TenantSlots: 10, GlobalSlots: 10, AvailableMemoryBytes: 49 << 20})
	if !errors.Is(err, ErrInsufficientResources) || cnverr.KindOf(err) != cnverr.ResourceExhausted {
		t.Fatalf("50 MiB limit with 49 MiB available: got %v", err)
	}
	if !c.CanSatisfy(AvailableResources{AvailableMemoryBytes: 50 << 20}) {
		t.Fatal("exactly enough memory must be admitted")
	}
	if Default().CanSatisfy(AvailableResources{AvailableMemoryBytes: DefaultMemoryEstimate - 1}) {
		t.Fatal("without a limit the 1 MiB estimate must still be available")
	}
}

func TestEstimateResources(t *testing.T) {
	c := Default()
	c.Concurrency.Limits.MaxMemoryBytes = 50 << 20
	c.Concurrency.Model = ConcurrencyModel{Kind: TenantWideShared, Max: 10}
	e := c.EstimateResources()
	if e.MemoryBytes != 50<<20 || e.SlotsRequired != 10 || e.CPUTime > Interactive.Typical() {
		t.Fatalf("estimate = %+v", e)
	}
	d := Default().EstimateResources()
	if d.MemoryBytes != 1<<20 || d.SlotsRequired != 1 || d.CPUTime != Interactive.Typical() {
		t.Fatalf("default estimate = %+v", d)
	}
	c.Concurrency.Model = ConcurrencyModel{Kind: SingleTenantExclusive}
	if s := c.EstimateResources().SlotsRequired; s != 1 {
		t.Fatalf("exclusive needs 1 slot, got %d", s)
	}
}

func TestEstimatedMemoryNeverExceedsLimit(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for i := 0; i < 1000; i++ {
		c := Default()
		c.Concurrency.Limits.MaxMemoryBytes = 1 + rng.Uint64N(1<<40)
		if e := c.EstimateResources(); e.MemoryBytes > c.Concurrency.Limits.MaxMemoryBytes {
			t.Fatalf("seed %d: estimate %d above limit %d", seed, e.MemoryBytes, c.Concurrency.Limits.MaxMemoryBytes)
		}
	}
}

func fullContract() Contract {
	return Contract{
		Temporal: TemporalContract{
			Class:      UserInitiated,
			Deadline:   Soft(3 * time.Second),
			Timeout:    20 * time.Second,
			Retry:      RetryPolicy{Kind: ExponentialBackoff, MaxAttempts: 4, InitialDelay: 10 * time.Millisecond, MaxDelay: time.Second, Multiplier: 3, Jitter: 0.25},
			Idempotent: true,
		},
		Concurrency: ConcurrencyContract{
			Model:     ConcurrencyModel{Kind: GlobalShared, Max: 100, RateLimitRPS: 1000},
			Isolation: FullyIsolated,
			Limits:    StrictResources(),
		},
		Metadata: Metadata{Version: "2.1.0", Experimental: true, Description: "restarts a service"},
	}
}

func TestFieldsStoredAsGiven(t *testing.T) {
	c := fullContract()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if back := roundTripJSON(t, c); !reflect.DeepEqual(back, c) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, c)
	}
	if back := roundTripCodec(t, c); !reflect.DeepEqual(back, c) {
		t.Errorf("codec round trip:\n got %+v\nwant %+v", back, c)
	}
}

// The canonical encoding is hashed into the capability registry, so its bytes
// are pinned: a change here is a replication-format change.
func TestCodecPinned(t *testing.T) {
	sum := sha256.Sum256(codec.MustMarshal(Default()))
	const want = "eb511bf6b59e987d7249ff7f2a7e24bf7b8061ac800db74383b94a04aa2f9969"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("canonical encoding of Default() hashes to %s, want %s", got, want)
	}
}

func roundTripJSON(t *testing.T, c Contract) Contract {
	t.Helper()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return back
}

func roundTripCodec(t *testing.T, c Contract) Contract {
	t.Helper()
	var back Contract
	if err := codec.Unmarshal(codec.MustMarshal(c), &back); err != nil {
		t.Fatal(err)
	}
	return back
}
