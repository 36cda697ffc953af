package contract

import (
	"testing"
	"time"
)

func TestClassOrderingAndBounds(t *testing.T) {
	want := []struct {
		c            DurationClass
		typical, max time.Duration
	}{
		{FastPath, 100 * time.Microsecond, time.Millisecond},
		{Interactive, 100 * time.Millisecond, 500 * time.Millisecond},
		{UserInitiated, 5 * time.Second, 30 * time.Second},
		{Batch, 300 * time.Second, 1800 * time.Second},
		{LongRunning, 3600 * time.Second, 86400 * time.Second},
	}
	all := AllClasses()
	if len(all) != len(want) {
		t.Fatalf("AllClasses has %d classes, want %d", len(all), len(want))
	}
	for i, w := range want {
		if all[i] != w.c {
			t.Errorf("AllClasses()[%d] = %v, want %v", i, all[i], w.c)
		}
		if w.c.Typical() != w.typical || w.c.Max() != w.max {
			t.Errorf("%v: typical %v max %v, want %v %v", w.c, w.c.Typical(), w.c.Max(), w.typical, w.max)
		}
		if w.c.Typical() > w.c.Max() {
			t.Errorf("%v: typical above max", w.c)
		}
		for j := i + 1; j < len(want); j++ {
			if !(w.c < want[j].c) || w.c.Max() >= want[j].c.Max() {
				t.Errorf("%v must order before %v", w.c, want[j].c)
			}
		}
	}
}

func TestMeetsDeadline(t *testing.T) {
	cases := []struct {
		c    DurationClass
		d    time.Duration
		want bool
	}{
		{FastPath, time.Millisecond, true},
		{FastPath, 10 * time.Millisecond, true},
		{FastPath, 999 * time.Microsecond, false},
		{Interactive, 100 * time.Microsecond, false},
		{Interactive, 500 * time.Millisecond, true},
		{DurationClass(0), time.Hour, false},
	}
	for _, tc := range cases {
		if got := tc.c.MeetsDeadline(tc.d); got != tc.want {
			t.Errorf("%v.MeetsDeadline(%v) = %v, want %v", tc.c, tc.d, got, tc.want)
		}
	}
}

func TestClassText(t *testing.T) {
	for _, c := range AllClasses() {
		b, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back DurationClass
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("%v: text %q decodes to %v, %v", c, b, back, err)
		}
	}
	if _, err := DurationClass(0).MarshalText(); err == nil {
		t.Error("the zero class must not encode")
	}
	if _, err := ParseClass("FastPath"); err == nil {
		t.Error("class names are snake_case")
	}
}
