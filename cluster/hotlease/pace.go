package hotlease

import (
	"time"
)

// maxPaceWait bounds how long a lease loop sleeps before it looks at its
// session's spend rate again.
const maxPaceWait = 250 * time.Millisecond

// pacer decides when and how much a session leases: the next lease starts
// while the uses in hand still last about two lease commits at the current
// spend rate, and asks for at least four commits' worth, so a busy session
// does not run dry between leases. It is pure: the caller passes times.
type pacer struct {
	low       int64  // static floor of the threshold (LeaseBlock/4)
	want, max uint64 // next block and its cap
	rate      float64
	lat       time.Duration
	lastSpent int64
	lastAt    time.Time
}

func newPacer(block, max uint64, now time.Time) *pacer {
	return &pacer{low: int64(block / 4), want: block, max: max, lat: 5 * time.Millisecond, lastAt: now}
}

// observe updates the spend rate (uses per second, smoothed) from the
// session's spent count at now.
func (p *pacer) observe(spent int64, now time.Time) {
	dt := now.Sub(p.lastAt)
	if dt < time.Millisecond {
		return
	}
	inst := float64(spent-p.lastSpent) / dt.Seconds()
	p.rate = (p.rate + inst) / 2
	p.lastSpent, p.lastAt = spent, now
}

// threshold is the uses in hand at which the next lease starts.
func (p *pacer) threshold() int64 {
	return max(p.low, int64(p.rate*2*p.lat.Seconds()))
}

// wait is how long to sleep before leasing with avail uses in hand (0:
// lease now).
func (p *pacer) wait(avail int64) time.Duration {
	thr := p.threshold()
	if avail <= thr {
		return 0
	}
	if p.rate <= 0 {
		return maxPaceWait
	}
	d := time.Duration(float64(avail-thr) / p.rate * float64(time.Second))
	return min(max(d, time.Millisecond), maxPaceWait)
}

// leased records a lease that took lat; ranDry reports that the session
// had nothing left when it arrived: the next block grows eightfold (up to the cap),
// and it covers at least four commits at the current rate.
func (p *pacer) leased(lat time.Duration, ranDry bool) {
	p.lat = (p.lat + lat) / 2
	if ranDry {
		p.want *= 8
	}
	p.want = max(p.want, uint64(p.rate*4*p.lat.Seconds()))
	p.want = min(p.want, p.max)
}
