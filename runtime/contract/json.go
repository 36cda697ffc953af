package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// This file holds the hand-writable JSON forms described in doc.go. The
// codec (msgpack) form is the plain struct and does not come through here.

// jsonDuration is a time.Duration written as a Go duration string.
type jsonDuration time.Duration

func (d jsonDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *jsonDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration %q: want a Go duration string like \"250ms\"", ErrInvalidContract, b)
	}
	*d = jsonDuration(v)
	return nil
}

// strictDecode decodes one JSON value into v, refusing unknown fields and
// trailing data.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, ErrInvalidContract) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrInvalidContract, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after JSON value", ErrInvalidContract)
	}
	return nil
}

// variant splits a tagged-union value: a bare string names a variant
// without parameters; an object must hold exactly one key, the variant name,
// whose value is returned raw.
func variant(data []byte, what string) (name string, raw json.RawMessage, err error) {
	if err := json.Unmarshal(data, &name); err == nil {
		return name, nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || len(obj) != 1 {
		return "", nil, fmt.Errorf("%w: %s must be a name or an object with exactly one key, got %s",
			ErrInvalidContract, what, truncate(data))
	}
	for k, v := range obj {
		name, raw = k, v
	}
	return name, raw, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

func isNull(data []byte) bool { return string(bytes.TrimSpace(data)) == "null" }

// MarshalJSON writes "none" or {"hard"|"soft"|"must_start_by": "D"}.
func (d DeadlineSpec) MarshalJSON() ([]byte, error) {
	if d.Kind == NoDeadline {
		return []byte(`"none"`), nil
	}
	if int(d.Kind) >= len(deadlineNames) {
		return nil, fmt.Errorf("%w: unknown deadline kind %d", ErrInvalidContract, uint8(d.Kind))
	}
	return json.Marshal(map[string]jsonDuration{d.Kind.String(): jsonDuration(d.Duration)})
}

// UnmarshalJSON reads the form MarshalJSON writes and validates it.
func (d *DeadlineSpec) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	name, raw, err := variant(data, "deadline")
	if err != nil {
		return err
	}
	var out DeadlineSpec
	for k, n := range deadlineNames {
		if n == name {
			out.Kind = DeadlineKind(k)
		}
	}
	switch {
	case name == "none" && raw == nil:
	case out.Kind == NoDeadline || raw == nil:
		return fmt.Errorf("%w: deadline: want \"none\", {\"hard\": D}, {\"soft\": D} or {\"must_start_by\": D}, got %s",
			ErrInvalidContract, truncate(data))
	default:
		var v jsonDuration
		if err := strictDecode(raw, &v); err != nil {
			return err
		}
		out.Duration = time.Duration(v)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*d = out
	return nil
}

type globalSharedJSON struct {
	Max          uint32 `json:"max"`
	RateLimitRPS uint32 `json:"rate_limit_rps,omitempty"`
}

// MarshalJSON writes "unlimited", "single_tenant_exclusive",
// {"tenant_wide_shared": N}, {"global_shared": N} or
// {"global_shared": {"max": N, "rate_limit_rps": R}}.
func (m ConcurrencyModel) MarshalJSON() ([]byte, error) {
	switch m.Kind {
	case Unlimited, SingleTenantExclusive:
		return json.Marshal(m.Kind.String())
	case TenantWideShared:
		return json.Marshal(map[string]uint32{m.Kind.String(): m.Max})
	case GlobalShared:
		if m.RateLimitRPS == 0 {
			return json.Marshal(map[string]uint32{m.Kind.String(): m.Max})
		}
		return json.Marshal(map[string]globalSharedJSON{m.Kind.String(): {m.Max, m.RateLimitRPS}})
	}
	return nil, fmt.Errorf("%w: unknown concurrency model %d", ErrInvalidContract, uint8(m.Kind))
}

// UnmarshalJSON reads the forms MarshalJSON writes and validates them.
func (m *ConcurrencyModel) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	name, raw, err := variant(data, "concurrency")
	if err != nil {
		return err
	}
	out, err := concurrencyVariant(name, raw)
	if err != nil {
		return err
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*m = out
	return nil
}

func concurrencyVariant(name string, raw json.RawMessage) (ConcurrencyModel, error) {
	switch {
	case name == "unlimited" && raw == nil:
		return ConcurrencyModel{Kind: Unlimited}, nil
	case name == "single_tenant_exclusive" && raw == nil:
		return ConcurrencyModel{Kind: SingleTenantExclusive}, nil
	case name == "tenant_wide_shared" && raw != nil:
		var n uint32
		err := strictDecode(raw, &n)
		return ConcurrencyModel{Kind: TenantWideShared, Max: n}, err
	case name == "global_shared" && raw != nil:
		var g globalSharedJSON
		if _, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 32); err == nil {
			err = strictDecode(raw, &g.Max)
			return ConcurrencyModel{Kind: GlobalShared, Max: g.Max}, err
		}
		err := strictDecode(raw, &g)
		return ConcurrencyModel{Kind: GlobalShared, Max: g.Max, RateLimitRPS: g.RateLimitRPS}, err
	}
	return ConcurrencyModel{}, fmt.Errorf("%w: concurrency: want \"unlimited\", \"single_tenant_exclusive\", "+
		"{\"tenant_wide_shared\": N} or {\"global_shared\": N | {\"max\": N, \"rate_limit_rps\": R}}, got %q",
		ErrInvalidContract, name)
}

type exponentialJSON struct {
	MaxAttempts  uint32       `json:"max_attempts"`
	InitialDelay jsonDuration `json:"initial_delay"`
	MaxDelay     jsonDuration `json:"max_delay"`
	Multiplier   float64      `json:"multiplier,omitempty"`
	Jitter       float64      `json:"jitter,omitempty"`
}

type linearJSON struct {
	MaxAttempts uint32       `json:"max_attempts"`
	Delay       jsonDuration `json:"delay"`
	MaxDelay    jsonDuration `json:"max_delay,omitzero"`
	Jitter      float64      `json:"jitter,omitempty"`
}

type foreverJSON struct {
	InitialDelay jsonDuration `json:"initial_delay"`
	MaxDelay     jsonDuration `json:"max_delay"`
	Multiplier   float64      `json:"multiplier,omitempty"`
	Jitter       float64      `json:"jitter,omitempty"`
}

// MarshalJSON writes "none" or a one-key object naming the kind (see doc.go).
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	var body any
	switch p.Kind {
	case NoRetry:
		return []byte(`"none"`), nil
	case ExponentialBackoff:
		body = exponentialJSON{p.MaxAttempts, jsonDuration(p.InitialDelay), jsonDuration(p.MaxDelay), p.Multiplier, p.Jitter}
	case LinearBackoff:
		body = linearJSON{p.MaxAttempts, jsonDuration(p.InitialDelay), jsonDuration(p.MaxDelay), p.Jitter}
	case Forever:
		body = foreverJSON{jsonDuration(p.InitialDelay), jsonDuration(p.MaxDelay), p.Multiplier, p.Jitter}
	default:
		return nil, fmt.Errorf("%w: unknown retry kind %d", ErrInvalidContract, uint8(p.Kind))
	}
	return json.Marshal(map[string]any{p.Kind.String(): body})
}

// UnmarshalJSON reads the forms MarshalJSON writes and validates them.
func (p *RetryPolicy) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	name, raw, err := variant(data, "retry")
	if err != nil {
		return err
	}
	out, err := retryVariant(name, raw)
	if err != nil {
		return err
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*p = out
	return nil
}

func retryVariant(name string, raw json.RawMessage) (RetryPolicy, error) {
	switch {
	case name == "none" && raw == nil:
		return RetryPolicy{}, nil
	case name == "exponential" && raw != nil:
		var e exponentialJSON
		err := strictDecode(raw, &e)
		return RetryPolicy{ExponentialBackoff, e.MaxAttempts, time.Duration(e.InitialDelay),
			time.Duration(e.MaxDelay), e.Multiplier, e.Jitter}, err
	case name == "linear" && raw != nil:
		var l linearJSON
		err := strictDecode(raw, &l)
		return RetryPolicy{LinearBackoff, l.MaxAttempts, time.Duration(l.Delay), time.Duration(l.MaxDelay), 0, l.Jitter}, err
	case name == "forever" && raw != nil:
		var f foreverJSON
		err := strictDecode(raw, &f)
		return RetryPolicy{Forever, 0, time.Duration(f.InitialDelay), time.Duration(f.MaxDelay), f.Multiplier, f.Jitter}, err
	}
	return RetryPolicy{}, fmt.Errorf("%w: retry: want \"none\", {\"exponential\": {…}}, {\"linear\": {…}} or {\"forever\": {…}}, got %q",
		ErrInvalidContract, name)
}

type resourcesJSON struct {
	MaxMemoryBytes        uint64       `json:"max_memory_bytes,omitempty"`
	MaxCPUTime            jsonDuration `json:"max_cpu_time,omitzero"`
	MaxFileDescriptors    uint32       `json:"max_file_descriptors,omitempty"`
	MaxNetworkConnections uint32       `json:"max_network_connections,omitempty"`
}

// MarshalJSON writes the set limits, with max_cpu_time as a duration string.
func (r ResourceLimits) MarshalJSON() ([]byte, error) {
	return json.Marshal(resourcesJSON{r.MaxMemoryBytes, jsonDuration(r.MaxCPUTime), r.MaxFileDescriptors, r.MaxNetworkConnections})
}

// UnmarshalJSON reads the form MarshalJSON writes and validates it.
func (r *ResourceLimits) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var w resourcesJSON
	if err := strictDecode(data, &w); err != nil {
		return err
	}
	out := ResourceLimits{w.MaxMemoryBytes, time.Duration(w.MaxCPUTime), w.MaxFileDescriptors, w.MaxNetworkConnections}
	if err := out.Validate(); err != nil {
		return err
	}
	*r = out
	return nil
}

// contractJSON is the flat hand-written form of a Contract.
type contractJSON struct {
	Class        DurationClass    `json:"class"`
	Timeout      jsonDuration     `json:"timeout,omitzero"`
	Deadline     DeadlineSpec     `json:"deadline,omitzero"`
	Retry        RetryPolicy      `json:"retry,omitzero"`
	Idempotent   bool             `json:"idempotent"`
	Concurrency  ConcurrencyModel `json:"concurrency"`
	Isolation    IsolationLevel   `json:"isolation"`
	Resources    ResourceLimits   `json:"resources,omitzero"`
	Version      string           `json:"version"`
	Experimental bool             `json:"experimental,omitempty"`
	Description  string           `json:"description,omitempty"`
}

func (c Contract) toJSON() contractJSON {
	t, cc, m := c.Temporal, c.Concurrency, c.Metadata
	return contractJSON{t.Class, jsonDuration(t.Timeout), t.Deadline, t.Retry, t.Idempotent,
		cc.Model, cc.Isolation, cc.Limits, m.Version, m.Experimental, m.Description}
}

func (w contractJSON) contract() Contract {
	return Contract{
		Temporal:    TemporalContract{w.Class, w.Deadline, time.Duration(w.Timeout), w.Retry, w.Idempotent},
		Concurrency: ConcurrencyContract{w.Concurrency, w.Isolation, w.Resources},
		Metadata:    Metadata{w.Version, w.Experimental, w.Description},
	}
}

// MarshalJSON writes the flat form described in doc.go.
func (c Contract) MarshalJSON() ([]byte, error) { return json.Marshal(c.toJSON()) }

// UnmarshalJSON reads the flat form described in doc.go: absent fields take
// Default()'s values, unknown fields are errors, and the result is
// validated.
func (c *Contract) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	w := Default().toJSON()
	if err := strictDecode(data, &w); err != nil {
		return err
	}
	out := w.contract()
	if err := out.Validate(); err != nil {
		return err
	}
	*c = out
	return nil
}
