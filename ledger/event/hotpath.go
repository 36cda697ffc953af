package event

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/limits"
)

// HotPathSession is one certificate's share of a HotPathBatch: what one
// hot-path session ran on the node since its previous batch. Its digest
// chains from Prev (the session's previous batch digest), so a session's
// batches form one verifiable chain (runtime/hotpath.BatchDigest).
type HotPathSession struct {
	Certificate string `json:"certificate_id"`
	Shard       uint32 `json:"shard"`
	// Number is the batch's position in its session: 1, 2, 3, ...
	Number uint64 `json:"number"`
	Count  uint64 `json:"count"`
	OK     uint64 `json:"ok"`
	// Failed counts handler failures, deadline overruns and aborts.
	Failed uint64 `json:"failed,omitempty"`
	First  int64  `json:"first"`
	Last   int64  `json:"last"`
	Prev   string `json:"prev"`
	Digest string `json:"digest"`
	Final  bool   `json:"final,omitempty"`
}

func (s HotPathSession) validate() error {
	switch {
	case s.OK+s.Failed != s.Count || s.OK > s.Count:
		return fmt.Errorf("%w: session %s: ok %d + failed %d != count %d", ErrInvalidEvent, s.Certificate, s.OK, s.Failed, s.Count)
	case s.Number == 0:
		return fmt.Errorf("%w: session %s: batch number 0", ErrInvalidEvent, s.Certificate)
	case s.Count > 0 && (s.First < 0 || s.Last < s.First):
		return fmt.Errorf("%w: session %s: window [%d, %d]", ErrInvalidEvent, s.Certificate, s.First, s.Last)
	}
	return checkAll(checkID("certificate_id", s.Certificate), checkHexHash("prev", s.Prev, false),
		checkHexHash("digest", s.Digest, false))
}

// validSessions checks a batch's sessions: bounded, each valid, and their
// counts summing to the batch total.
func validSessions(ss []HotPathSession, total uint64) error {
	if len(ss) == 0 {
		return nil
	}
	if len(ss) > limits.MaxHotPathSessions {
		return fmt.Errorf("%w: %d sessions, limit %d", ErrInvalidEvent, len(ss), limits.MaxHotPathSessions)
	}
	var sum uint64
	for _, s := range ss {
		if err := s.validate(); err != nil {
			return err
		}
		if sum+s.Count < sum {
			return fmt.Errorf("%w: session counts overflow", ErrInvalidEvent)
		}
		sum += s.Count
	}
	if sum != total {
		return fmt.Errorf("%w: session counts sum to %d, total says %d", ErrInvalidEvent, sum, total)
	}
	return nil
}

// Lease operations of a HotPathLease event.
const (
	LeaseGranted  = "lease"
	LeaseReturned = "return"
)

// HotPathLease records a block of delegation-link uses leased to a node for
// a hot-path session (charged on every link of the certificate's chain), or
// the settlement when the session ends: the leased uses it did not spend
// credited back. UseCounts are the link counters after the change.
type HotPathLease struct {
	NodeID      string `json:"node_id"`
	Lease       string `json:"lease"`
	Certificate string `json:"certificate_id"`
	Op          string `json:"op"`
	// Uses is the block granted (lease) or the uses credited back (return).
	Uses uint64 `json:"uses"`
	// Spent is, on return, how many of the session's leased uses it spent.
	Spent     uint64     `json:"spent,omitempty"`
	UseCounts []UseCount `json:"use_counts"`
}

func (p HotPathLease) validate() error {
	if p.Op != LeaseGranted && p.Op != LeaseReturned {
		return fmt.Errorf("%w: lease op %q (want %q or %q)", ErrInvalidEvent, p.Op, LeaseGranted, LeaseReturned)
	}
	if p.Op == LeaseGranted && (p.Uses == 0 || p.Spent != 0) {
		return fmt.Errorf("%w: a lease grants at least one use and spends none", ErrInvalidEvent)
	}
	if len(p.UseCounts) == 0 || len(p.UseCounts) > limits.MaxChainDepth {
		return fmt.Errorf("%w: %d use counts (1 to %d)", ErrInvalidEvent, len(p.UseCounts), limits.MaxChainDepth)
	}
	if len(p.Lease) > limits.MaxHotLeaseIDLen {
		return fmt.Errorf("%w: lease id is %d bytes, limit %d", ErrInvalidEvent, len(p.Lease), limits.MaxHotLeaseIDLen)
	}
	for _, u := range p.UseCounts {
		if err := checkHexHash("use count link", u.Link, false); err != nil {
			return err
		}
	}
	return checkAll(checkID("node_id", p.NodeID), checkID("lease", p.Lease), checkID("certificate_id", p.Certificate))
}

// EventType implements Payload.
func (HotPathLease) EventType() Type { return TypeHotPathLease }
