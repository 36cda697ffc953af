package fsm

// Data-driven FSM scenarios: fsm/testdata/*.txt (see datadriven_test.go for
// the file format). Apply is deterministic (keys are derived from names,
// times are the harness's), so each command's printed result is exactly
// reproducible; regenerate with
//
//	go test ./fsm -run TestScenarios -rewrite
//
// Commands (durations are relative to the scenario's start, t0):
//
//	bootstrap admins=root[,root2]           the first leader's bootstrap
//	register name=N type=T tenant=X [admin] [by=root]
//	                                        principal.register
//	capabilities [by=root]                  capability.register, file as input
//	policy [by=root]                        policy.set, document as input
//	link name=L issuer=N audience=N [allow=p,q] [forbid=p] [level=mutate]
//	     [max-uses=N] [not-before=-1h] [not-after=+1h]
//	                                        a link the proposer verified (no entry)
//	invoke as=N cap=C [chain=L1,L2] [tenant=X] [req=ID] [args=k:v,k:v] [dry-run]
//	revoke link=L [by=root] [reason=R]      delegation.revoke
//	time at=+2h                             the next entry's committed time
//	restart                                 close and reopen the store
//	links L1,L2                             link states
//	ledger [last=N]                         ledger size and the last events
//	principals                              registered principals
//	max-request-ids n=N                     bound the request-id table
//
// A command's result prints as its decision (or error), the rule that
// decided, the judged principal of a delegated invocation, the ledger
// index of the decision and the ledger size after the command; then the
// reason and the use counts charged on every link. Key ids and link
// hashes print as the names the scenario gave them.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			s := newScenario(t)
			runDD(t, file, s.run)
		})
	}
}

type scenario struct {
	t     *testing.T
	h     *harness
	names map[string]string // key id, agent id or link hash → name
	links map[string]Link
	reqN  int
}

func newScenario(t *testing.T) *scenario {
	h := &harness{t: t, dir: t.TempDir(), now: t0}
	h.open()
	old := maxRequestIDs
	t.Cleanup(func() { maxRequestIDs = old })
	return &scenario{t: t, h: h, names: map[string]string{}, links: map[string]Link{}}
}

func (s *scenario) fail(c *ddCmd, format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s: %s: %s", c.pos, c.Name, fmt.Sprintf(format, args...))
}

// key is the fixed key of a name; its key id prints as the name.
func (s *scenario) key(name string) principal.KeyID {
	pub := seededKey(name).Public().(ed25519.PublicKey)
	id := principal.IDOf(pub)
	s.names[string(id)] = name
	return id
}

// named replaces every key id, agent id and link hash in text with its name.
func (s *scenario) named(text string) string {
	olds := make([]string, 0, len(s.names))
	for k := range s.names {
		olds = append(olds, k)
	}
	sort.Slice(olds, func(i, j int) bool {
		return len(olds[i]) > len(olds[j]) || len(olds[i]) == len(olds[j]) && olds[i] < olds[j]
	})
	pairs := make([]string, 0, 2*len(olds))
	for _, k := range olds {
		pairs = append(pairs, k, s.names[k])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

func (s *scenario) need(c *ddCmd, key string) string {
	v, ok := c.arg(key)
	if !ok || v == "" {
		s.fail(c, "needs %s=", key)
	}
	return v
}

func (s *scenario) dur(c *ddCmd, key string, def time.Duration) int64 {
	v, ok := c.arg(key)
	if !ok {
		return t0 + int64(def)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s.fail(c, "%s: %v", key, err)
	}
	return t0 + int64(d)
}

func list(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func (s *scenario) run(c *ddCmd) string {
	size := s.h.store.Head().Size
	switch c.Name {
	case "bootstrap":
		var keys []ed25519.PublicKey
		for _, n := range list(s.need(c, "admins")) {
			pub := seededKey(n).Public().(ed25519.PublicKey)
			id := s.key(n)
			s.names["admin-"+string(id)[2:10]] = n
			keys = append(keys, pub)
		}
		return s.result(s.h.apply(Command{Kind: KindBootstrap, Bootstrap: &Bootstrap{AdminKeys: keys}})[0], size)
	case "register":
		name := s.need(c, "name")
		s.key(name)
		_, admin := c.arg("admin")
		tenant, _ := c.arg("tenant")
		doc, _ := json.Marshal(principalDoc{PublicKey: seededKey(name).Public().(ed25519.PublicKey), AgentID: name,
			AgentType: principal.AgentType(s.need(c, "type")), Tenant: tenant, Admin: admin})
		return s.govern(c, CapPrincipalRegister, doc, size)
	case "capabilities":
		return s.govern(c, CapCapabilityRegister, []byte(c.Input), size)
	case "policy":
		return s.govern(c, CapPolicySet, []byte(c.Input), size)
	case "revoke":
		l := s.link(c, s.need(c, "link"))
		args := []invocation.Arg{{Name: "link", Value: l.Hash.String()}}
		if r, ok := c.arg("reason"); ok {
			args = append(args, invocation.Arg{Name: "reason", Value: r})
		}
		return s.govern(c, CapDelegationRevoke, nil, size, args...)
	case "link":
		return s.defineLink(c)
	case "invoke":
		return s.invoke(c, size)
	case "time":
		s.h.now = s.dur(c, "at", 0) - int64(time.Millisecond) // apply adds 1ms
		return fmt.Sprintf("next entry at %s", time.Duration(s.h.now+int64(time.Millisecond)-t0))
	case "restart":
		s.h.store.Close()
		s.h.open()
		return fmt.Sprintf("reopened: ledger size %d, applied index %d", s.h.store.Head().Size, s.h.f.AppliedIndex())
	case "links":
		return s.linkStates(c)
	case "ledger":
		return s.ledger(c)
	case "principals":
		var out []string
		for _, p := range s.h.f.View().PrincipalList() {
			out = append(out, fmt.Sprintf("%s: %s tenant=%s admin=%v", s.named(string(p.KeyID)), p.AgentType, p.Tenant, p.Admin))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	case "max-request-ids":
		n, err := strconv.ParseUint(s.need(c, "n"), 10, 64)
		if err != nil {
			s.fail(c, "%v", err)
		}
		maxRequestIDs = n
		return fmt.Sprintf("the request-id table keeps %d ids", n)
	}
	s.fail(c, "unknown command")
	return ""
}

// govern invokes a built-in governance capability as by (root by default).
func (s *scenario) govern(c *ddCmd, capPath string, payload []byte, size uint64, args ...invocation.Arg) string {
	by, ok := c.arg("by")
	if !ok {
		by = "root"
	}
	s.reqN++
	inv := invocation.Invocation{Capability: capPath, Payload: payload, Args: args, RequestID: fmt.Sprintf("gov-%d", s.reqN)}
	return s.result(s.h.invoke(s.key(by), inv), size)
}

func (s *scenario) link(c *ddCmd, name string) Link {
	l, ok := s.links[name]
	if !ok {
		s.fail(c, "no link %q", name)
	}
	return l
}

func (s *scenario) defineLink(c *ddCmd) string {
	name := s.need(c, "name")
	allow := []string{"*"}
	if v, ok := c.arg("allow"); ok {
		allow = list(v)
	}
	forbid, _ := c.arg("forbid")
	level := capability.LevelMutate
	if v, ok := c.arg("level"); ok {
		var err error
		if level, err = capability.ParseLevel(v); err != nil {
			s.fail(c, "%v", err)
		}
	}
	cons, err := delegation.NewConstraints(allow, list(forbid), []string{"*"}, []string{"*"}, level)
	if err != nil {
		s.fail(c, "%v", err)
	}
	var maxUses uint64
	if v, ok := c.arg("max-uses"); ok {
		if maxUses, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.fail(c, "%v", err)
		}
	}
	l := Link{Hash: delegation.Hash(sha256.Sum256([]byte("scenario-link/" + name))),
		Issuer: s.key(s.need(c, "issuer")), Audience: s.key(s.need(c, "audience")), Constraints: cons,
		NotBefore: s.dur(c, "not-before", -time.Hour), NotAfter: s.dur(c, "not-after", time.Hour), MaxUses: maxUses}
	s.links[name] = l
	s.names[l.Hash.String()] = name
	uses := "unlimited"
	if maxUses > 0 {
		uses = fmt.Sprint(maxUses)
	}
	return s.named(fmt.Sprintf("%s: %s -> %s allow=%v forbid=%v max_effect=%s max_uses=%s valid [%s, %s]", name, l.Issuer, l.Audience,
		cons.Allow, cons.Forbid, cons.MaxLevel, uses, time.Duration(l.NotBefore-t0), time.Duration(l.NotAfter-t0)))
}

func (s *scenario) invoke(c *ddCmd, size uint64) string {
	inv := invocation.Invocation{Capability: s.need(c, "cap")}
	inv.Tenant, _ = c.arg("tenant")
	_, inv.DryRun = c.arg("dry-run")
	if id, ok := c.arg("req"); ok {
		inv.RequestID = id
	} else {
		s.reqN++
		inv.RequestID = fmt.Sprintf("req-%d", s.reqN)
	}
	if v, ok := c.arg("args"); ok {
		for _, kv := range list(v) {
			k, v, _ := strings.Cut(kv, ":")
			inv.Args = append(inv.Args, invocation.Arg{Name: k, Value: v})
		}
	}
	var links []Link
	if v, ok := c.arg("chain"); ok {
		for _, n := range list(v) {
			links = append(links, s.link(c, n))
		}
	}
	return s.result(s.h.invoke(s.key(s.need(c, "as")), inv, links...), size)
}

// result prints a command's result and the ledger size it left.
func (s *scenario) result(r Result, before uint64) string {
	size := s.h.store.Head().Size
	var b strings.Builder
	switch {
	case r.Err != nil:
		fmt.Fprintf(&b, "error %s: %s", r.Err.Kind, r.Err.Message)
	case r.Decision == "":
		b.WriteString("ok")
	default:
		if r.Duplicate {
			b.WriteString("duplicate ")
		}
		b.WriteString(string(r.Decision))
		if r.Policy.MatchedRule != "" {
			fmt.Fprintf(&b, " rule=%s", r.Policy.MatchedRule)
		}
		if len(r.Chain) > 0 {
			fmt.Fprintf(&b, " judged=%s", r.Judged.KeyID)
		}
		fmt.Fprintf(&b, " at=#%d", r.LedgerIndex)
	}
	fmt.Fprintf(&b, " ledger=%d", size)
	if size != before {
		fmt.Fprintf(&b, " (+%d)", size-before)
	}
	if r.Err == nil && r.Reason != "" {
		fmt.Fprintf(&b, "\nreason: %s", r.Reason)
	}
	if len(r.UseCounts) > 0 {
		b.WriteString("\nuses:")
		for _, u := range r.UseCounts {
			fmt.Fprintf(&b, " %s=%s", u.Link, usesOf(u.Used, u.Max))
		}
	}
	return s.named(b.String())
}

func usesOf(used, max uint64) string {
	if max == 0 {
		return fmt.Sprintf("%d/-", used)
	}
	return fmt.Sprintf("%d/%d", used, max)
}

func (s *scenario) linkStates(c *ddCmd) string {
	var out []string
	for _, a := range c.Args {
		for _, n := range list(a.Key) {
			l := s.link(c, n)
			st, found, err := s.h.f.LinkStateOf(l.Hash)
			switch {
			case err != nil:
				s.fail(c, "%v", err)
			case !found:
				out = append(out, n+": never charged or revoked")
			default:
				line := fmt.Sprintf("%s: uses=%s", n, usesOf(st.Uses, st.MaxUses))
				if st.Revoked {
					line += fmt.Sprintf(" revoked by %s at %s", st.RevokedBy, time.Duration(st.RevokedAt-t0))
					if st.Reason != "" {
						line += " (" + st.Reason + ")"
					}
				}
				out = append(out, line)
			}
		}
	}
	return s.named(strings.Join(out, "\n"))
}

func (s *scenario) ledger(c *ddCmd) string {
	head := s.h.store.Head()
	out := []string{fmt.Sprintf("size %d, applied index %d", head.Size, head.AppliedIndex)}
	last := uint64(0)
	if v, ok := c.arg("last"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.fail(c, "%v", err)
		}
		last = min(n, head.Size)
	}
	for i := head.Size - last; i < head.Size; i++ {
		e, err := s.h.store.Event(i)
		if err != nil {
			s.fail(c, "%v", err)
		}
		line := fmt.Sprintf("#%d %s actor=%s", i, e.Type(), e.Actor)
		if e.Capability != "" {
			line += " capability=" + string(e.Capability)
		}
		if d, ok := e.Data.(event.PolicyDecision); ok {
			line += fmt.Sprintf(" decision=%s request=%s", d.Result.Decision, d.RequestID)
		}
		out = append(out, line)
	}
	return s.named(strings.Join(out, "\n"))
}
