package contract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateRejects(t *testing.T) {
	mut := map[string]func(*Contract){
		"no class":                 func(c *Contract) { c.Temporal.Class = 0 },
		"unknown class":            func(c *Contract) { c.Temporal.Class = LongRunning + 1 },
		"negative timeout":         func(c *Contract) { c.Temporal.Timeout = -time.Second },
		"deadline none with value": func(c *Contract) { c.Temporal.Deadline = DeadlineSpec{Duration: time.Second} },
		"unknown deadline":         func(c *Contract) { c.Temporal.Deadline = DeadlineSpec{Kind: 7, Duration: time.Second} },
		"retry not idempotent":     func(c *Contract) { c.Temporal.Retry = Linear(2, time.Millisecond) },
		"shared without max":       func(c *Contract) { c.Concurrency.Model = ConcurrencyModel{Kind: TenantWideShared} },
		"unlimited with max":       func(c *Contract) { c.Concurrency.Model = ConcurrencyModel{Max: 3} },
		"tenant-wide with rate": func(c *Contract) {
			c.Concurrency.Model = ConcurrencyModel{Kind: TenantWideShared, Max: 1, RateLimitRPS: 1}
		},
		"unknown model":     func(c *Contract) { c.Concurrency.Model = ConcurrencyModel{Kind: 9} },
		"unknown isolation": func(c *Contract) { c.Concurrency.Isolation = 4 },
		"negative cpu time": func(c *Contract) { c.Concurrency.Limits.MaxCPUTime = -1 },
		"bad version":       func(c *Contract) { c.Metadata.Version = "v 1" },
		"long description":  func(c *Contract) { c.Metadata.Description = strings.Repeat("x", 1025) },
	}
	for name, m := range mut {
		c := Default()
		m(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidContract) {
			t.Errorf("%s: want ErrInvalidContract, got %v", name, err)
		}
	}
	if err := fullContract().Validate(); err != nil {
		t.Fatal(err)
	}
}
