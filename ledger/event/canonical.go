package event

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/cnv-project/cnv/runtime/policy"
)

// A hand-written canonical encoder for the hot event: a PolicyDecision, of
// which the write path appends one per invocation. It writes exactly the
// bytes runtime/codec writes for the wireEvent (the canonical msgpack the
// ledger hashes): maps with their keys sorted, struct fields under their
// json names in name order, omitempty fields left out when empty, nil
// slices as empty arrays, str for strings, the shortest integer forms
// (signed types as msgpack ints, unsigned as uints). Encoding through
// reflection cost about a tenth of applying an invocation.
//
// It covers the decisions the FSM writes; an event it does not cover
// (another payload, or a decision with effective Constraints) goes through
// codec. canonical_test.go checks the two agree byte for byte over
// generated events and a fuzz target, and the pinned encodings still hold.

// appendDecision appends the canonical encoding of e, whose payload is d,
// and reports false (appending nothing) when d is not one it covers.
func appendDecision(b []byte, e *Event, d *PolicyDecision) ([]byte, bool) {
	if d.Constraints != nil {
		return b, false
	}
	n := 6 // actor, data, index, raft_index, time, type
	for _, s := range []string{string(e.Capability), e.Correlation, e.Tenant} {
		if s != "" {
			n++
		}
	}
	if len(e.Metadata) > 0 {
		n++
	}
	b = mpMap(b, n)
	b = mpStr(mpStr(b, "actor"), e.Actor)
	if e.Capability != "" {
		b = mpStr(mpStr(b, "capability"), string(e.Capability))
	}
	if e.Correlation != "" {
		b = mpStr(mpStr(b, "correlation_id"), e.Correlation)
	}
	b = mpStr(mpMap(mpStr(b, "data"), 1), "policy_decision")
	b = appendDecisionPayload(b, d)
	b = mpUint(mpStr(b, "index"), e.Index)
	if len(e.Metadata) > 0 {
		b = mpStringMap(mpStr(b, "metadata"), e.Metadata)
	}
	b = mpUint(mpStr(b, "raft_index"), e.RaftIndex)
	if e.Tenant != "" {
		b = mpStr(mpStr(b, "tenant"), e.Tenant)
	}
	b = mpInt(mpStr(b, "time"), e.Time)
	b = mpStr(mpStr(b, "type"), string(TypePolicyDecision))
	return b, true
}

func appendDecisionPayload(b []byte, d *PolicyDecision) []byte {
	n := 2 // request, result
	for _, s := range []string{d.ArgsDigest, d.Command, d.RequestID} {
		if s != "" {
			n++
		}
	}
	if len(d.ChainLinks) > 0 {
		n++
	}
	if len(d.UseCounts) > 0 {
		n++
	}
	b = mpMap(b, n)
	if d.ArgsDigest != "" {
		b = mpStr(mpStr(b, "args_digest"), d.ArgsDigest)
	}
	if len(d.ChainLinks) > 0 {
		b = mpStrings(mpStr(b, "chain_links"), d.ChainLinks)
	}
	if d.Command != "" {
		b = mpStr(mpStr(b, "command"), d.Command)
	}
	b = appendRequest(mpStr(b, "request"), &d.Request)
	if d.RequestID != "" {
		b = mpStr(mpStr(b, "request_id"), d.RequestID)
	}
	b = appendResult(mpStr(b, "result"), &d.Result)
	if len(d.UseCounts) > 0 {
		b = mpArray(mpStr(b, "use_counts"), len(d.UseCounts))
		for i := range d.UseCounts {
			u := &d.UseCounts[i]
			if u.Max != 0 {
				b = mpMap(b, 3)
				b = mpStr(mpStr(b, "link"), u.Link)
				b = mpUint(mpStr(b, "max"), u.Max)
			} else {
				b = mpStr(mpStr(mpMap(b, 2), "link"), u.Link)
			}
			b = mpUint(mpStr(b, "used"), u.Used)
		}
	}
	return b
}

func appendRequest(b []byte, r *policy.Request) []byte {
	n := 8 // agent_id, agent_type, capability, chain_depth, invoker, key_id, sensitivity, tenant
	for _, set := range []bool{r.Admin, len(r.DataTags) > 0, r.DryRun, len(r.Effects) > 0} {
		if set {
			n++
		}
	}
	b = mpMap(b, n)
	if r.Admin {
		b = append(mpStr(b, "admin"), mpTrue)
	}
	b = mpStr(mpStr(b, "agent_id"), r.AgentID)
	b = mpStr(mpStr(b, "agent_type"), string(r.AgentType))
	b = mpStr(mpStr(b, "capability"), string(r.Capability))
	b = mpInt(mpStr(b, "chain_depth"), int64(r.ChainDepth))
	if len(r.DataTags) > 0 {
		b = mpArray(mpStr(b, "data_tags"), len(r.DataTags))
		for _, t := range r.DataTags {
			b = mpStr(b, string(t))
		}
	}
	if r.DryRun {
		b = append(mpStr(b, "dry_run"), mpTrue)
	}
	if len(r.Effects) > 0 {
		b = mpArray(mpStr(b, "effects"), len(r.Effects))
		for _, e := range r.Effects {
			b = mpUint(b, uint64(e))
		}
	}
	b = mpStr(mpStr(b, "invoker"), string(r.Invoker))
	b = mpStr(mpStr(b, "key_id"), string(r.KeyID))
	b = mpUint(mpStr(b, "sensitivity"), uint64(r.Sensitivity))
	return mpStr(mpStr(b, "tenant"), r.Tenant)
}

func appendResult(b []byte, r *policy.Result) []byte {
	n := 3 // decision, evaluated_rules, policy_hash
	for _, s := range []string{r.Approver, r.MatchedRule, r.Reason, r.Suggestion} {
		if s != "" {
			n++
		}
	}
	b = mpMap(b, n)
	if r.Approver != "" {
		b = mpStr(mpStr(b, "approver"), r.Approver)
	}
	b = mpStr(mpStr(b, "decision"), string(r.Decision))
	b = mpStrings(mpStr(b, "evaluated_rules"), r.EvaluatedRules)
	if r.MatchedRule != "" {
		b = mpStr(mpStr(b, "matched_rule"), r.MatchedRule)
	}
	b = mpStr(mpStr(b, "policy_hash"), r.PolicyHash)
	if r.Reason != "" {
		b = mpStr(mpStr(b, "reason"), r.Reason)
	}
	if r.Suggestion != "" {
		b = mpStr(mpStr(b, "suggestion"), r.Suggestion)
	}
	return b
}

// msgpack, as runtime/codec's handle writes it.
const (
	mpTrue    = 0xc3
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

// mpLen writes a container header: the fix form below fix (0 for none),
// the 8-bit form when b8 is not 0, else the 16- and 32-bit forms.
func mpLen(b []byte, n int, fixBase byte, fix int, b8, b16, b32 byte) []byte {
	switch {
	case n < fix:
		return append(b, fixBase|byte(n))
	case b8 != 0 && n < 256:
		return append(b, b8, byte(n))
	case n < 65536:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
}

func mpStr(b []byte, s string) []byte {
	return append(mpLen(b, len(s), 0xa0, 32, mpStr8, mpStr16, mpStr32), s...)
}

func mpArray(b []byte, n int) []byte { return mpLen(b, n, 0x90, 16, 0, mpArray16, mpArray32) }

func mpMap(b []byte, n int) []byte { return mpLen(b, n, 0x80, 16, 0, mpMap16, mpMap32) }

func mpStrings(b []byte, ss []string) []byte {
	b = mpArray(b, len(ss))
	for _, s := range ss {
		b = mpStr(b, s)
	}
	return b
}

// mpStringMap writes a map with its keys in byte order (canonical).
func mpStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = mpMap(b, len(keys))
	for _, k := range keys {
		b = mpStr(mpStr(b, k), m[k])
	}
	return b
}

func mpUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, mpUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpUint64), v)
}

func mpInt(b []byte, v int64) []byte {
	switch {
	case v > math.MaxInt8:
		switch {
		case v <= math.MaxInt16:
			return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(v))
		case v <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(v))
		}
		return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, mpInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
}
