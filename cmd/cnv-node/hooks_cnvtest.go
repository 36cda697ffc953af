//go:build cnvtest

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/runtime/clock"
)

// testHooks are the fault injector's controls, compiled only into a binary
// built with -tags cnvtest (the fault-injection suite and the process
// tests build it so): a shifted wall clock, and rewritten peer addresses
// so that every dial goes through the suite's proxies.
type testHooks struct {
	dialMap     []string
	clockOffset time.Duration
}

func addTestHooks(fl *pflag.FlagSet, h *testHooks) {
	fl.StringSliceVar(&h.dialMap, "test-dial-map", nil, "test build only: FROM=TO rewrites a peer address this node dials (fault injection)")
	fl.DurationVar(&h.clockOffset, "test-clock-offset", 0, "test build only: shift this node's wall clock")
}

func (h testHooks) clock() clock.Clock { return clock.System{Offset: h.clockOffset} }

func (h testHooks) dialer() (dialer, error) {
	m := map[string]string{}
	for _, p := range h.dialMap {
		from, to, ok := strings.Cut(p, "=")
		if !ok || from == "" || to == "" {
			return dialer{}, fmt.Errorf("--test-dial-map %q: want FROM=TO", p)
		}
		m[from] = to
	}
	if len(m) == 0 {
		return dialer{}, nil
	}
	return dialer{rewrite: func(a string) string {
		if to, ok := m[a]; ok {
			return to
		}
		return a
	}}, nil
}
