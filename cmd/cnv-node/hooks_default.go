//go:build !cnvtest

package main

import (
	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/runtime/clock"
)

// testHooks is empty in the production binary: nothing can shift its
// clock or redirect its dials (see hooks_cnvtest.go for the test build).
type testHooks struct{}

func addTestHooks(*pflag.FlagSet, *testHooks) {}

func (testHooks) clock() clock.Clock { return clock.System{} }

func (testHooks) dialer() (dialer, error) { return dialer{}, nil }
