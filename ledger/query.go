package ledger

import (
	"bytes"
	"fmt"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
)

// DefaultQueryLimit is the page size when Query.Limit is 0.
const DefaultQueryLimit = 100

// Query selects events. Every set field must match (filters are ANDed).
// Results come in index order, one page at a time: pass Page.Next as Start
// to get the next page.
type Query struct {
	Actor       string          `json:"actor,omitempty"`
	Tenant      string          `json:"tenant,omitempty"`
	Correlation string          `json:"correlation_id,omitempty"`
	Capability  capability.Path `json:"capability,omitempty"`
	Type        event.Type      `json:"type,omitempty"`
	Decision    policy.Decision `json:"decision,omitempty"`
	// Since and Until bound the event time, inclusive, in Unix
	// nanoseconds; 0 leaves that end open.
	Since int64 `json:"since,omitempty"`
	Until int64 `json:"until,omitempty"`
	// Start is the first index considered.
	Start uint64 `json:"start,omitempty"`
	// Limit is the page size (DefaultQueryLimit when 0, at most
	// limits.MaxQueryLimit).
	Limit int `json:"limit,omitempty"`
}

// Page is one page of query results.
type Page struct {
	Events []event.Event `json:"events"`
	// More reports whether further events match; Next (the last
	// returned index + 1) is then the Start of the next page.
	More bool   `json:"more"`
	Next uint64 `json:"next,omitempty"`
}

func (q *Query) check() error {
	if q.Limit < 0 || q.Limit > limits.MaxQueryLimit {
		return fmt.Errorf("%w: limit %d (1 to %d)", ErrInvalidQuery, q.Limit, limits.MaxQueryLimit)
	}
	if q.Type != "" {
		if _, err := event.ParseType(string(q.Type)); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidQuery, err)
		}
	}
	if q.Decision != "" && !event.ValidDecision(q.Decision) {
		return fmt.Errorf("%w: decision %q", ErrInvalidQuery, q.Decision)
	}
	if q.Since < 0 || q.Until < 0 || (q.Until != 0 && q.Since > q.Until) {
		return fmt.Errorf("%w: time range [%d, %d]", ErrInvalidQuery, q.Since, q.Until)
	}
	for _, v := range []string{q.Actor, q.Tenant, q.Correlation, string(q.Capability)} {
		if bytes.IndexByte([]byte(v), 0) >= 0 {
			return fmt.Errorf("%w: filter value contains NUL", ErrInvalidQuery)
		}
	}
	return nil
}

// Query returns one page of matching events. It is served from the
// secondary indexes: the cost is proportional to the page, not the ledger.
func (s *Store) Query(q Query) (*Page, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultQueryLimit
	}
	page := &Page{Events: []event.Event{}}
	err := s.view(func(r *reader) error {
		m := r.matcher(&q)
		for idx, ok := m.next(q.Start); ok; idx, ok = m.next(idx + 1) {
			if len(page.Events) == limit {
				page.More, page.Next = true, page.Events[limit-1].Index+1
				return nil
			}
			e, err := r.event(idx)
			if err != nil {
				return err
			}
			page.Events = append(page.Events, e)
		}
		return m.err()
	})
	return page, err
}

// Count returns how many events match q (Start and the filters; Limit is
// ignored). It walks index keys only, without decoding events.
func (s *Store) Count(q Query) (uint64, error) {
	q.Limit = 0
	if err := q.check(); err != nil {
		return 0, err
	}
	var n uint64
	err := s.view(func(r *reader) error {
		m := r.matcher(&q)
		for idx, ok := m.next(q.Start); ok; idx, ok = m.next(idx + 1) {
			n++
		}
		return m.err()
	})
	return n, err
}

// matcher finds matching indexes by intersecting posting lists (a
// leapfrog join): each list seeks to the current candidate, and the
// candidate jumps to the largest index any list reports, until all agree.
type matcher struct {
	lists  []*postingCursor
	lo, hi uint64 // the index range the time bounds allow
}

func (r *reader) matcher(q *Query) *matcher {
	m := &matcher{hi: r.size}
	if r.empty {
		return m
	}
	m.lo, m.hi = r.timeRange(q.Since, q.Until)
	for i, v := range [numIndexes]string{
		idxActor: q.Actor, idxTenant: q.Tenant, idxCorrelation: q.Correlation,
		idxCapability: string(q.Capability), idxType: string(q.Type), idxDecision: string(q.Decision),
	} {
		if v != "" {
			m.lists = append(m.lists, newPostingCursor(r.idxB(i), r.tailsB(), i, v))
		}
	}
	return m
}

// timeRange maps an inclusive time range to the index range [lo, hi).
// Event times never decrease with the index, so the range is contiguous.
func (r *reader) timeRange(since, until int64) (uint64, uint64) {
	lo, hi := uint64(0), r.size
	c := r.timeB().Cursor()
	if since > 0 {
		lo = r.size
		if k, v := c.Seek(u64(uint64(since))); k != nil {
			lo, _ = getU64(v)
		}
	}
	if until > 0 {
		if k, v := c.Seek(u64(uint64(until) + 1)); k != nil {
			hi, _ = getU64(v)
		}
	}
	return lo, hi
}

// next returns the first matching index >= from.
func (m *matcher) next(from uint64) (uint64, bool) {
	cand := max(from, m.lo)
	if cand >= m.hi {
		return 0, false
	}
	for i, agreed := 0, 0; agreed < len(m.lists); i = (i + 1) % len(m.lists) {
		idx, ok := m.lists[i].seek(cand)
		if !ok || idx >= m.hi {
			return 0, false
		}
		if idx == cand {
			agreed++
		} else {
			cand, agreed = idx, 1
		}
	}
	return cand, true
}

// err reports a corrupt index chunk met while matching.
func (m *matcher) err() error {
	for _, l := range m.lists {
		if l.err != nil {
			return l.err
		}
	}
	return nil
}
