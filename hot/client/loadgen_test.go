package client

import "testing"

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.record(v * 1000) // 1µs .. 100ms
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 50}, {0.99, 99}, {0.999, 99.9}} {
		if got := h.quantileMs(c.q); got > c.want || got < c.want*0.93 {
			t.Errorf("q%.3f = %.3fms, want about %.1fms", c.q, got, c.want)
		}
	}
	for v := int64(0); v < 1<<20; v = v*2 + 1 {
		if f := bucketFloor(bucketOf(v)); f > v || v-f > v/16 {
			t.Fatalf("%d lands in a bucket starting at %d", v, f)
		}
	}
}
