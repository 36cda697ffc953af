package hotlease

import (
	"testing"
	"time"
)

func TestPacerLeasesAheadOfASteadyRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := newPacer(1024, 65536, t0)
	if p.wait(1024) != maxPaceWait || p.wait(200) != 0 {
		t.Fatalf("idle session: wait %v / %v", p.wait(1024), p.wait(200))
	}
	// 400,000 uses/s with 4ms commits: lease while 3,200 or more remain.
	p.observe(400, t0.Add(time.Millisecond))
	p.observe(4400, t0.Add(11*time.Millisecond))
	p.observe(8400, t0.Add(21*time.Millisecond))
	p.leased(4*time.Millisecond, false)
	p.leased(4*time.Millisecond, false)
	if thr := p.threshold(); thr < 2500 || thr > 4000 {
		t.Fatalf("threshold %d at rate %.0f, latency %v", thr, p.rate, p.lat)
	}
	if p.want < 4*1024 {
		t.Fatalf("next block %d does not cover four commits", p.want)
	}
	// 10,000 in hand lasts about 17ms beyond the threshold.
	if d := p.wait(10000); d < 10*time.Millisecond || d > 25*time.Millisecond {
		t.Fatalf("wait %v", d)
	}
	for i := 0; i < 20; i++ {
		p.leased(4*time.Millisecond, true) // ran dry each time: grows to the cap
	}
	if p.want != 65536 {
		t.Fatalf("block %d, want the cap", p.want)
	}
}
