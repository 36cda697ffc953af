package node

import (
	"time"

	"github.com/cnv-project/cnv/runtime/delegation"
)

// fullScanEvery is how many watch ticks may pass without a scan when
// nothing was applied; link windows close with time alone.
const fullScanEvery = 5

// watch re-reads the live sessions' links every WatchInterval when the
// applied index moved (and every fullScanEvery ticks regardless) and ends
// the sessions whose chain was revoked or expired.
func (a *Authority) watch() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.WatchInterval)
	defer t.Stop()
	var last uint64
	idle := 0
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		idx := a.cfg.Node.FSM().AppliedIndex()
		if idx == last && idle < fullScanEvery {
			idle++
			continue
		}
		last, idle = idx, 0
		a.scan()
	}
}

// scan checks every live session's links in one read of the state.
func (a *Authority) scan() {
	a.mu.Lock()
	sessions := make([]*liveSession, 0, len(a.live))
	var hashes []delegation.Hash
	for _, s := range a.live {
		if len(s.links) > 0 {
			sessions = append(sessions, s)
			hashes = append(hashes, s.links...)
		}
	}
	a.mu.Unlock()
	if len(hashes) == 0 {
		return
	}
	states, found, err := a.cfg.Node.FSM().LinkStates(hashes)
	if err != nil {
		a.cfg.Log.Warn("reading delegation links for hot-path sessions failed", "error", err)
		return
	}
	now := a.cfg.Clock.Now().UnixNano()
	i := 0
	for _, s := range sessions {
		for _, h := range s.links {
			if err := linkUsable(h, states[i], found[i], now); err != nil && !s.isRevoked() {
				a.cfg.Log.Info("ending hot-path session", "certificate", s.cert, "reason", err)
				s.revoke()
			}
			i++
		}
	}
}
