package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/checkpoint"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/ledger/replay"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// ledgerFile is the file in a node's data directory that holds the ledger
// (and, in a cluster, the rest of the replicated state).
const ledgerFile = "state.db"

// ledgerReader is what the read-only ledger commands need. localLedger
// serves it offline from a data directory; a node client can serve the
// same commands against a running node.
type ledgerReader interface {
	Head() ledger.Head
	Query(q ledger.Query) (*ledger.Page, error)
	InclusionProof(index, size uint64) (*ledger.InclusionProof, error)
	ConsistencyProof(from, to uint64) (*ledger.ConsistencyProof, error)
	Checkpoints() ([]ledger.CheckpointRecord, error)
	Verify(opts ledger.VerifyOptions) (*ledger.VerifyReport, error)
	Replay(ev replay.Evaluator, opts replay.Options) (*replay.Report, error)
	Export(w io.Writer, from, to uint64) (uint64, error)
}

// ledgerWriter is what the writing commands need.
type ledgerWriter interface {
	AppendBatch(events []event.Event, opts ledger.AppendOptions, extra func(*ledger.Tx) error) (ledger.BatchResult, error)
	Import(r io.Reader) (ledger.ImportResult, error)
	SignHead(origin string, now int64, signer *checkpoint.Signer) (ledger.CheckpointRecord, error)
}

var (
	_ ledgerReader = localLedger{}
	_ ledgerWriter = (*ledger.Store)(nil)
)

// localLedger serves the read commands from a data directory's store
// (replay runs over it in this process).
type localLedger struct{ *ledger.Store }

func (l localLedger) Replay(ev replay.Evaluator, opts replay.Options) (*replay.Report, error) {
	return replay.Run(l.Store, ev, opts)
}

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "The governance ledger: append, query, prove, checkpoint, verify, replay",
		Long: "Commands on the governance ledger of a node's data directory (DATA_DIR/" + ledgerFile + ").\n" +
			"They work on a stopped node's directory; the file is locked while a node runs.",
	}
	cmd.PersistentFlags().String("data-dir", "", "node data directory (offline)")
	cmd.PersistentFlags().String("addr", "", "read commands: a running node's HTTP address instead of --data-dir (env CNV_ADDR)")
	addClientTLSFlags(cmd.PersistentFlags())
	cmd.PersistentFlags().Duration("timeout", 60*time.Second, "with --addr: request timeout")
	cmd.PersistentFlags().String("consistency", "", "with --addr: linearizable (default) or stale")
	cmd.PersistentFlags().Uint64("min-index", 0, "with --addr and stale reads: wait for this Raft index")
	for _, sub := range []func() *cobra.Command{
		newLedgerAppendCmd, newLedgerImportCmd, newLedgerExportCmd, newLedgerStatusCmd,
		newLedgerVerifyCmd, newLedgerQueryCmd, newLedgerProofCmd, newLedgerConsistencyCmd,
		newLedgerCheckpointCmd, newLedgerCheckpointsCmd, newLedgerReplayCmd,
	} {
		cmd.AddCommand(sub())
	}
	return cmd
}

// openLedger opens DATA_DIR/state.db: read-only for inspection (the file
// must exist), read-write (creating it) for appends.
func openLedger(cmd *cobra.Command, write bool) (*ledger.Store, error) {
	dir, _ := cmd.Flags().GetString("data-dir")
	if dir == "" {
		return nil, exitWith(exitUsage, "--data-dir is required")
	}
	path := filepath.Join(dir, ledgerFile)
	if !write {
		if _, err := os.Stat(path); err != nil {
			return nil, exitWith(exitNotFound, "no ledger at %s: %v", path, err)
		}
		return ledger.Open(path, ledger.Options{ReadOnly: true})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return ledger.Open(path, ledger.Options{})
}

// withLedger runs fn on the opened ledger and closes it.
func withLedger(cmd *cobra.Command, write bool, fn func(s *ledger.Store) error) error {
	s, err := openLedger(cmd, write)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// ledgerExit maps ledger errors to exit codes: a range or query the
// ledger refuses is invalid input, as a node's 400 for it is.
func ledgerExit(err error) error {
	if errors.Is(err, ledger.ErrInvalidQuery) || errors.Is(err, ledger.ErrOutOfRange) {
		return inputErr(err)
	}
	return err
}

// ---- status ----

type ledgerStatus struct {
	Size             uint64      `json:"size"`
	Root             ledger.Hash `json:"root"`
	AppliedIndex     uint64      `json:"applied_index"`
	LastTime         int64       `json:"last_time"`
	PolicyHash       string      `json:"policy_hash,omitempty"`
	Checkpoints      int         `json:"checkpoints"`
	LatestCheckpoint *uint64     `json:"latest_checkpoint,omitempty"`
}

func newLedgerStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status --data-dir D",
		Short: "Print the ledger's size, root hash, applied index and checkpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withReader(cmd, func(s ledgerReader) error {
				st, err := ledgerStatusOf(s)
				if err != nil {
					return err
				}
				return emit(cmd, st, func(w io.Writer) { printLedgerStatus(w, st) })
			})
		},
	}
}

func ledgerStatusOf(r ledgerReader) (ledgerStatus, error) {
	h := r.Head()
	cps, err := r.Checkpoints()
	if err != nil {
		return ledgerStatus{}, err
	}
	st := ledgerStatus{Size: h.Size, Root: h.Root, AppliedIndex: h.AppliedIndex, LastTime: h.LastTime,
		PolicyHash: h.PolicyHash, Checkpoints: len(cps)}
	if len(cps) > 0 {
		st.LatestCheckpoint = &cps[len(cps)-1].Size
	}
	return st, nil
}

func printLedgerStatus(w io.Writer, st ledgerStatus) {
	fmt.Fprintf(w, "size          %d\nroot          %s\napplied index %d\n", st.Size, st.Root, st.AppliedIndex)
	if st.LastTime != 0 {
		fmt.Fprintf(w, "last event    %s\n", ledgerTime(st.LastTime))
	}
	if st.PolicyHash != "" {
		fmt.Fprintf(w, "policy        %s\n", st.PolicyHash)
	}
	fmt.Fprintf(w, "checkpoints   %d", st.Checkpoints)
	if st.LatestCheckpoint != nil {
		fmt.Fprintf(w, " (latest at size %d)", *st.LatestCheckpoint)
	}
	fmt.Fprintln(w)
}

func ledgerTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// ---- verify ----

type ledgerVerifyFlags struct {
	trusted   []string
	structure bool
}

func newLedgerVerifyCmd() *cobra.Command {
	var f ledgerVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify --data-dir D",
		Short: "Recompute every leaf and the root from the stored events; check every checkpoint",
		Long: "Recompute every leaf hash and the Merkle root from the stored events, compare them with\n" +
			"the stored tree and every signed checkpoint, and check the consistency of successive\n" +
			"checkpoints. Exit 0 when intact; 1 naming the first bad event index otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withReader(cmd, func(s ledgerReader) error { return runLedgerVerify(cmd, s, f) })
		},
	}
	cmd.Flags().StringSliceVar(&f.trusted, "trusted-key", nil, "note verifier key every checkpoint must be signed by (one of); repeatable")
	cmd.Flags().BoolVar(&f.structure, "structure", true, "also check the file's page structure")
	return cmd
}

func runLedgerVerify(cmd *cobra.Command, r ledgerReader, f ledgerVerifyFlags) error {
	rep, err := r.Verify(ledger.VerifyOptions{Structure: f.structure, TrustedKeys: f.trusted})
	if err != nil {
		return err
	}
	if err := emit(cmd, rep, func(w io.Writer) { printLedgerVerify(w, rep) }); err != nil {
		return err
	}
	if rep.OK {
		return nil
	}
	if rep.FirstBadIndex != nil {
		return exitWith(exitError, "ledger is not intact: %d problem(s), first bad index %d", rep.ProblemCount, *rep.FirstBadIndex)
	}
	return exitWith(exitError, "ledger is not intact: %d problem(s)", rep.ProblemCount)
}

func printLedgerVerify(w io.Writer, rep *ledger.VerifyReport) {
	if rep.OK {
		fmt.Fprintf(w, "ok: %d events, root %s, %d checkpoints\n", rep.Size, rep.Root, rep.Checkpoints)
		return
	}
	for _, p := range rep.Problems {
		if p.Index != nil {
			fmt.Fprintf(w, "index %d: %s: %s\n", *p.Index, p.Kind, p.Message)
		} else {
			fmt.Fprintf(w, "%s: %s\n", p.Kind, p.Message)
		}
	}
}

// ---- query ----

type ledgerQueryFlags struct {
	agent, tenant, correlation, capability, typ, decision, since, until string
	after                                                               int64
	limit                                                               int
}

type ledgerQueryResult struct {
	Events []event.Event `json:"events"`
	More   bool          `json:"more"`
	// NextAfter is the --after value for the next page (when More).
	NextAfter *uint64 `json:"next_after,omitempty"`
}

func newLedgerQueryCmd() *cobra.Command {
	var f ledgerQueryFlags
	cmd := &cobra.Command{
		Use:   "query --data-dir D [filters]",
		Short: "List events matching every given filter, one page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := ledgerQueryOf(f)
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			return withReader(cmd, func(s ledgerReader) error {
				res, err := ledgerQuery(s, q)
				if err != nil {
					return ledgerExit(err)
				}
				return emit(cmd, res, func(w io.Writer) { printLedgerEvents(w, res) })
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.agent, "agent", "", "actor (agent) ID")
	fl.StringVar(&f.tenant, "tenant", "", "tenant ID")
	fl.StringVar(&f.correlation, "correlation", "", "correlation ID")
	fl.StringVar(&f.capability, "capability", "", "capability path")
	fl.StringVar(&f.typ, "type", "", "event type (PolicyDecision, CapabilityGranted, ...)")
	fl.StringVar(&f.decision, "decision", "", "allow, deny or require_approval")
	fl.StringVar(&f.since, "since", "", "earliest event time (RFC 3339), inclusive")
	fl.StringVar(&f.until, "until", "", "latest event time (RFC 3339), inclusive")
	fl.Int64Var(&f.after, "after", -1, "only events with an index above this (the previous page's next_after)")
	fl.IntVar(&f.limit, "limit", ledger.DefaultQueryLimit, "page size")
	return cmd
}

func ledgerQueryOf(f ledgerQueryFlags) (ledger.Query, error) {
	q := ledger.Query{Actor: f.agent, Tenant: f.tenant, Correlation: f.correlation,
		Capability: capability.Path(f.capability), Type: event.Type(f.typ),
		Decision: policy.Decision(f.decision), Limit: f.limit}
	if f.after >= 0 {
		q.Start = uint64(f.after) + 1
	}
	var err error
	if q.Since, err = parseLedgerTime(f.since); err != nil {
		return q, fmt.Errorf("--since: %w", err)
	}
	if q.Until, err = parseLedgerTime(f.until); err != nil {
		return q, fmt.Errorf("--until: %w", err)
	}
	return q, nil
}

func parseLedgerTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

func ledgerQuery(r ledgerReader, q ledger.Query) (*ledgerQueryResult, error) {
	p, err := r.Query(q)
	if err != nil {
		return nil, err
	}
	res := &ledgerQueryResult{Events: p.Events, More: p.More}
	if p.More {
		last := p.Next - 1
		res.NextAfter = &last
	}
	return res, nil
}

func printLedgerEvents(w io.Writer, res *ledgerQueryResult) {
	for _, e := range res.Events {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Index, ledgerTime(e.Time), e.Type(),
			e.Actor, ledgerDash(e.Tenant), ledgerDash(string(e.Capability)), ledgerDash(e.Decision()), ledgerDash(e.Correlation))
	}
	if res.NextAfter != nil {
		fmt.Fprintf(w, "more: --after %d\n", *res.NextAfter)
	}
}

func ledgerDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- proof, consistency ----

func newLedgerProofCmd() *cobra.Command {
	var index, size uint64
	cmd := &cobra.Command{
		Use:   "proof --data-dir D --index N [--size M]",
		Short: "Print the RFC 6962 inclusion proof of event N in the tree of size M (default: current)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("index") {
				return exitWith(exitUsage, "--index is required")
			}
			return withReader(cmd, func(s ledgerReader) error {
				p, err := ledgerProof(s, index, size)
				if err != nil {
					return ledgerExit(err)
				}
				return emit(cmd, p, func(w io.Writer) { printLedgerProof(w, p) })
			})
		},
	}
	cmd.Flags().Uint64Var(&index, "index", 0, "event index")
	cmd.Flags().Uint64Var(&size, "size", 0, "tree size (default: the ledger's size)")
	return cmd
}

func ledgerProof(r ledgerReader, index, size uint64) (*ledger.InclusionProof, error) {
	if size == 0 {
		size = r.Head().Size
	}
	return r.InclusionProof(index, size)
}

func printLedgerProof(w io.Writer, p *ledger.InclusionProof) {
	fmt.Fprintf(w, "index     %d\nsize      %d\nleaf hash %s\nroot      %s\n", p.Index, p.Size, p.LeafHash, p.Root)
	for i, h := range p.Proof {
		fmt.Fprintf(w, "proof[%d]  %s\n", i, h)
	}
}

func newLedgerConsistencyCmd() *cobra.Command {
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "consistency --data-dir D --from M [--to N]",
		Short: "Print the RFC 6962 consistency proof between tree sizes M and N (default: current)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("from") {
				return exitWith(exitUsage, "--from is required")
			}
			return withReader(cmd, func(s ledgerReader) error {
				p, err := ledgerConsistency(s, from, to, cmd.Flags().Changed("to"))
				if err != nil {
					return ledgerExit(err)
				}
				return emit(cmd, p, func(w io.Writer) { printLedgerConsistency(w, p) })
			})
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "older tree size")
	cmd.Flags().Uint64Var(&to, "to", 0, "newer tree size (default: the ledger's size)")
	return cmd
}

func ledgerConsistency(r ledgerReader, from, to uint64, toSet bool) (*ledger.ConsistencyProof, error) {
	if !toSet {
		to = r.Head().Size
	}
	return r.ConsistencyProof(from, to)
}

func printLedgerConsistency(w io.Writer, p *ledger.ConsistencyProof) {
	fmt.Fprintf(w, "from      %d %s\nto        %d %s\n", p.From, p.FromRoot, p.To, p.ToRoot)
	for i, h := range p.Proof {
		fmt.Fprintf(w, "proof[%d]  %s\n", i, h)
	}
}

// ---- checkpoints ----

func newLedgerCheckpointCmd() *cobra.Command {
	var keyFile, origin string
	cmd := &cobra.Command{
		Use:   "checkpoint --data-dir D --key NODE.key [--origin O]",
		Short: "Sign the current head as a checkpoint, or cosign it when it is already signed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" {
				return exitWith(exitUsage, "--key is required")
			}
			priv, err := principal.LoadPrivate(keyFile)
			if err != nil {
				return inputErr(err)
			}
			signer, err := checkpoint.NewSigner("", priv)
			if err != nil {
				return err
			}
			return withLedger(cmd, true, func(s *ledger.Store) error {
				rec, err := s.SignHead(origin, time.Now().UnixNano(), signer)
				if err != nil {
					return err
				}
				return emit(cmd, rec, func(w io.Writer) { printLedgerCheckpoint(w, rec) })
			})
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "node private key (PEM PKCS#8)")
	cmd.Flags().StringVar(&origin, "origin", "cnv", "checkpoint origin line (the log's name); used for a new checkpoint")
	return cmd
}

func newLedgerCheckpointsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoints --data-dir D",
		Short: "List the signed checkpoints: note text and signers' verifier keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withReader(cmd, func(s ledgerReader) error {
				cps, err := s.Checkpoints()
				if err != nil {
					return err
				}
				return emit(cmd, cps, func(w io.Writer) {
					for _, rec := range cps {
						printLedgerCheckpoint(w, rec)
					}
				})
			})
		},
	}
}

func printLedgerCheckpoint(w io.Writer, rec ledger.CheckpointRecord) {
	fmt.Fprintf(w, "size %d root %s signed by %s\n%s", rec.Size, rec.Root, strings.Join(rec.Signers, ", "), rec.Note)
	for _, k := range rec.VerifierKeys {
		fmt.Fprintf(w, "verifier key: %s\n", k)
	}
	fmt.Fprintln(w)
}

// ---- replay ----

type ledgerReplayFlags struct {
	policyFile  string
	from, to    uint64
	progress    bool
	ruleChanges bool
}

func newLedgerReplayCmd() *cobra.Command {
	var f ledgerReplayFlags
	cmd := &cobra.Command{
		Use:   "replay --data-dir D --policy NEW.json [--from N] [--to M]",
		Short: "Re-evaluate recorded decisions in events [N, M) under another policy; decision changes first",
		Long: "Re-evaluate the recorded decisions in events [N, M) under another policy. Decision\n" +
			"changes (allow→deny, deny→allow, any other) come first, grouped by capability and by\n" +
			"agent; rule-only changes (the same decision through another rule or reason) are only\n" +
			"counted unless --rule-changes. --json carries both (decision_changes, rule_changes).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.policyFile == "" {
				return exitWith(exitUsage, "--policy is required")
			}
			set, err := loadPolicy(f.policyFile)
			if err != nil {
				return inputErr(err)
			}
			return withReader(cmd, func(s ledgerReader) error {
				rep, err := ledgerReplay(s, set, f, ledgerProgress(cmd, f.progress))
				if err != nil {
					return ledgerExit(err)
				}
				out := newReplayOutput(rep)
				return emit(cmd, out, func(w io.Writer) { printReplay(w, out, f.ruleChanges) })
			})
		},
	}
	cmd.Flags().StringVar(&f.policyFile, "policy", "", "policy document to replay under (JSON)")
	cmd.Flags().Uint64Var(&f.from, "from", 0, "first event index")
	cmd.Flags().Uint64Var(&f.to, "to", 0, "end of the range, exclusive (default: the ledger's size)")
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	cmd.Flags().BoolVar(&f.ruleChanges, "rule-changes", false, "also list the rule-only changes (same decision, another rule)")
	return cmd
}

// progressWriter returns where replay progress goes: stderr when it is a
// terminal (or when forced), otherwise nowhere.
func ledgerProgress(cmd *cobra.Command, force bool) io.Writer {
	w := cmd.ErrOrStderr()
	if force {
		return w
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return w
		}
	}
	return nil
}

func ledgerReplay(r ledgerReader, ev replay.Evaluator, f ledgerReplayFlags, progress io.Writer) (*replay.Report, error) {
	opts := replay.Options{From: f.from, To: f.to}
	if progress != nil {
		opts.Progress = func(done, total uint64) {
			fmt.Fprintf(progress, "\rreplayed %d of %d events", done, total)
			if done == total {
				fmt.Fprintln(progress)
			}
		}
	}
	return r.Replay(ev, opts)
}

// ---- export, import ----

func newLedgerExportCmd() *cobra.Command {
	var format, out string
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "export --data-dir D [--format jsonl] [--from N] [--to M] [--out FILE]",
		Short: "Write events [N, M) as JSON lines (default: all, to stdout)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" {
				return exitWith(exitUsage, "--format %q: only jsonl is supported", format)
			}
			return withReader(cmd, func(s ledgerReader) error { return ledgerExport(cmd, s, out, from, to) })
		},
	}
	cmd.Flags().StringVar(&format, "format", "jsonl", "output format (jsonl)")
	cmd.Flags().StringVar(&out, "out", "", "output file (default: stdout)")
	cmd.Flags().Uint64Var(&from, "from", 0, "first event index")
	cmd.Flags().Uint64Var(&to, "to", 0, "end of the range, exclusive (default: the ledger's size)")
	return cmd
}

func ledgerExport(cmd *cobra.Command, r ledgerReader, out string, from, to uint64) error {
	w := cmd.OutOrStdout()
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := r.Export(w, from, to)
	if err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "exported %d events to %s\n", n, out)
	}
	return nil
}

type ledgerImportResult struct {
	Imported uint64      `json:"imported"`
	Skipped  uint64      `json:"skipped"`
	Size     uint64      `json:"size"`
	Root     ledger.Hash `json:"root"`
}

func newLedgerImportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "import --data-dir D FILE.jsonl",
		Short: "Append exported JSON-lines events exactly as exported (same indexes, times, root)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openLedgerInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			return withLedger(cmd, true, func(s *ledger.Store) error {
				res, err := s.Import(in)
				out := ledgerImportResult{Imported: res.Imported, Skipped: res.Skipped, Size: res.Head.Size, Root: res.Head.Root}
				if err != nil {
					return fmt.Errorf("import stopped after %d events: %w", res.Imported, err)
				}
				return emit(cmd, out, func(w io.Writer) {
					fmt.Fprintf(w, "imported %d events (%d already present); size %d root %s\n", out.Imported, out.Skipped, out.Size, out.Root)
				})
			})
		},
	}
}

func openLedgerInput(cmd *cobra.Command, name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(cmd.InOrStdin()), nil
	}
	return os.Open(name)
}

// ---- append ----

type ledgerAppendFlags struct {
	typ, agent, agentType, tenant, capability, decision, reason, rule string
	command, correlation, data, at                                    string
	effects, meta                                                     []string
}

type ledgerAppendResult struct {
	Index    uint64      `json:"index"`
	Time     int64       `json:"time"`
	LeafHash ledger.Hash `json:"leaf_hash"`
	Size     uint64      `json:"size"`
	Root     ledger.Hash `json:"root"`
}

func newLedgerAppendCmd() *cobra.Command {
	var f ledgerAppendFlags
	cmd := &cobra.Command{
		Use:   "append --data-dir D --type T --agent A [flags]",
		Short: "Append one event (for scripts, demos and tests)",
		Long: "Append one event. A PolicyDecision is described by flags (--capability, --decision,\n" +
			"--reason, --command, ...); any type takes its payload as JSON with --data, e.g.\n" +
			"  --type SecurityViolation --data '{\"violation_type\":\"forged_chain\",\"severity\":\"high\"}'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := ledgerAppendEvent(f, time.Now().UnixNano())
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			return withLedger(cmd, true, func(s *ledger.Store) error {
				res, err := s.AppendBatch([]event.Event{e}, ledger.AppendOptions{}, nil)
				if err != nil {
					return inputErr(err)
				}
				a := res.Events[0]
				out := ledgerAppendResult{Index: a.Index, Time: a.Time, LeafHash: a.LeafHash, Size: res.Head.Size, Root: res.Head.Root}
				return emit(cmd, out, func(w io.Writer) { fmt.Fprintf(w, "appended event %d; root %s\n", out.Index, out.Root) })
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", string(event.TypePolicyDecision), "event type")
	fl.StringVar(&f.agent, "agent", "", "actor (agent) ID (required)")
	fl.StringVar(&f.agentType, "agent-type", string(principal.Agent), "agent type of a decision's principal")
	fl.StringVar(&f.tenant, "tenant", principal.DefaultTenant, "tenant")
	fl.StringVar(&f.capability, "capability", "", "capability path")
	fl.StringSliceVar(&f.effects, "effect", nil, "a decision's capability effects (comma-separated)")
	fl.StringVar(&f.decision, "decision", "", "a decision: allow, deny or require_approval")
	fl.StringVar(&f.reason, "reason", "", "a decision's reason")
	fl.StringVar(&f.rule, "rule", "", "a decision's matched rule")
	fl.StringVar(&f.command, "command", "", "a decision's command line, e.g. \"user.create --name alice\"")
	fl.StringVar(&f.correlation, "correlation", "", "correlation ID")
	fl.StringVar(&f.data, "data", "", "the payload as JSON (any type)")
	fl.StringVar(&f.at, "time", "", "event time (RFC 3339; default now)")
	fl.StringSliceVar(&f.meta, "meta", nil, "metadata key=value; repeatable")
	return cmd
}

// ledgerAppendEvent builds the event the append flags describe.
func ledgerAppendEvent(f ledgerAppendFlags, now int64) (event.Event, error) {
	t, err := event.ParseType(f.typ)
	if err != nil {
		return event.Event{}, err
	}
	if f.agent == "" {
		return event.Event{}, fmt.Errorf("--agent is required")
	}
	e := event.Event{Actor: f.agent, Tenant: f.tenant, Correlation: f.correlation, Capability: capability.Path(f.capability)}
	if e.Time, err = parseLedgerTime(f.at); err != nil {
		return e, fmt.Errorf("--time: %w", err)
	}
	if e.Time == 0 {
		e.Time = now
	}
	if e.Metadata, err = parseLedgerMeta(f.meta); err != nil {
		return e, err
	}
	switch {
	case f.data != "":
		e.Data, err = event.DecodePayloadJSON(t, json.RawMessage(f.data))
	case t == event.TypePolicyDecision:
		e.Data, err = ledgerDecisionPayload(f)
	default:
		err = fmt.Errorf("--data is required for a %s event", t)
	}
	return e, err
}

func ledgerDecisionPayload(f ledgerAppendFlags) (event.Payload, error) {
	if f.capability == "" || f.decision == "" {
		return nil, fmt.Errorf("a PolicyDecision needs --capability and --decision")
	}
	effects, err := capability.ParseEffects(f.effects)
	if err != nil {
		return nil, err
	}
	at, err := principal.ParseAgentType(f.agentType)
	if err != nil {
		return nil, err
	}
	req := policy.Request{Capability: capability.Path(f.capability), Effects: effects,
		AgentID: f.agent, AgentType: at, Tenant: f.tenant}
	res := policy.Result{Decision: policy.Decision(f.decision), Reason: f.reason, MatchedRule: f.rule}
	if f.rule != "" {
		res.EvaluatedRules = []string{f.rule}
	}
	return event.PolicyDecision{Request: req, Result: res, Command: f.command}, nil
}

func parseLedgerMeta(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--meta %q: want key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}
