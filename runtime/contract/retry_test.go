package contract

import (
	"math/rand/v2"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestDelay(t *testing.T) {
	exp := Exponential(4, 10*ms, 30*ms)
	lin := Linear(3, 100*ms)
	linCap := RetryPolicy{Kind: LinearBackoff, MaxAttempts: 10, InitialDelay: 100 * ms, MaxDelay: 250 * ms}
	forever := RetryForever(ms, time.Second)
	triple := RetryPolicy{Kind: ExponentialBackoff, MaxAttempts: 10, InitialDelay: ms, MaxDelay: time.Hour, Multiplier: 3}
	cases := []struct {
		name    string
		p       RetryPolicy
		attempt int
		want    time.Duration
		ok      bool
	}{
		{"none", RetryPolicy{}, 1, 0, false},
		{"attempt 0 is not an attempt", exp, 0, 0, false},
		{"exp after first try", exp, 1, 10 * ms, true},
		{"exp doubles", exp, 2, 20 * ms, true},
		{"exp capped", exp, 3, 30 * ms, true},
		{"exp max_attempts counts the first try", exp, 4, 0, false},
		{"multiplier 3", triple, 3, 9 * ms, true},
		{"linear step 1", lin, 1, 100 * ms, true},
		{"linear step 2", lin, 2, 200 * ms, true},
		{"linear exhausted", lin, 3, 0, false},
		{"linear capped", linCap, 3, 250 * ms, true},
		{"forever grows", forever, 5, 16 * ms, true},
		{"forever capped", forever, 11, time.Second, true},
		{"forever never overflows", forever, 1 << 30, time.Second, true},
	}
	for _, tc := range cases {
		got, ok := tc.p.Delay(tc.attempt)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Delay(%d) = %v, %v; want %v, %v", tc.name, tc.attempt, got, ok, tc.want, tc.ok)
		}
	}
}

// With max_attempts = n, exactly n-1 retries follow the first try.
func TestMaxAttemptsCountsFirstTry(t *testing.T) {
	for _, p := range []RetryPolicy{Exponential(5, ms, time.Second), Linear(5, ms)} {
		tries := 1
		for attempt := 1; ; attempt++ {
			if _, ok := p.Delay(attempt); !ok {
				break
			}
			tries++
		}
		if tries != 5 {
			t.Errorf("%v: %d tries, want 5", p.Kind, tries)
		}
	}
}

func TestJitteredDelay(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	p := RetryPolicy{Kind: ExponentialBackoff, MaxAttempts: 8, InitialDelay: 10 * ms, MaxDelay: time.Second, Jitter: 0.5}
	distinct := map[time.Duration]bool{}
	for i := 0; i < 2000; i++ {
		s, attempt := rng.Uint64(), 1+rng.IntN(7)
		full, _ := p.Delay(attempt)
		d, ok := p.JitteredDelay(attempt, s)
		if !ok || d > full || float64(d) <= float64(full)*(1-p.Jitter) {
			t.Fatalf("seed %d: JitteredDelay(%d, %d) = %v, %v; want in (%v, %v]", seed, attempt, s, d, ok, time.Duration(float64(full)*0.5), full)
		}
		if again, _ := p.JitteredDelay(attempt, s); again != d {
			t.Fatalf("seed %d: JitteredDelay is not deterministic: %v then %v", seed, d, again)
		}
		if attempt == 3 {
			distinct[d] = true
		}
	}
	if len(distinct) < 10 {
		t.Fatalf("seed %d: jitter produced only %d distinct waits", seed, len(distinct))
	}
	p.Jitter = 0
	if d, _ := p.JitteredDelay(2, 42); d != 20*ms {
		t.Fatalf("no jitter must give the plain delay, got %v", d)
	}
	if _, ok := p.JitteredDelay(8, 42); ok {
		t.Fatal("JitteredDelay must stop where Delay stops")
	}
}

func TestRetryValidate(t *testing.T) {
	bad := map[string]RetryPolicy{
		"none with parameters":   {MaxAttempts: 3},
		"zero attempts":          Exponential(0, ms, time.Second),
		"too many attempts":      Exponential(101, ms, time.Second),
		"zero initial delay":     Exponential(3, 0, time.Second),
		"max below initial":      Exponential(3, time.Second, ms),
		"exp without max":        {Kind: ExponentialBackoff, MaxAttempts: 3, InitialDelay: ms},
		"multiplier below 1":     {Kind: ExponentialBackoff, MaxAttempts: 3, InitialDelay: ms, MaxDelay: time.Second, Multiplier: 0.5},
		"multiplier too large":   {Kind: ExponentialBackoff, MaxAttempts: 3, InitialDelay: ms, MaxDelay: time.Second, Multiplier: 17},
		"jitter 1":               {Kind: ExponentialBackoff, MaxAttempts: 3, InitialDelay: ms, MaxDelay: time.Second, Jitter: 1},
		"negative jitter":        {Kind: ExponentialBackoff, MaxAttempts: 3, InitialDelay: ms, MaxDelay: time.Second, Jitter: -0.1},
		"linear multiplier":      {Kind: LinearBackoff, MaxAttempts: 3, InitialDelay: ms, Multiplier: 2},
		"forever with attempts":  {Kind: Forever, MaxAttempts: 3, InitialDelay: ms, MaxDelay: time.Second},
		"delay beyond the bound": Exponential(3, ms, 169*time.Hour),
		"unknown kind":           {Kind: 9},
	}
	for name, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: %+v must not validate", name, p)
		}
	}
	for _, p := range []RetryPolicy{{}, Exponential(3, ms, time.Second), Linear(3, ms), RetryForever(ms, time.Minute)} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
