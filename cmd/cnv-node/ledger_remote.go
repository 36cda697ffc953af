package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/replay"
	"github.com/cnv-project/cnv/wire"
)

// remoteLedger serves the read-only ledger commands from a running node's
// API (--addr), at the consistency the flags ask for.
type remoteLedger struct {
	cl   *client.Client
	addr string
	ctx  context.Context
	read url.Values
	head ledger.Head
}

var _ ledgerReader = (*remoteLedger)(nil)

func newRemoteLedger(cmd *cobra.Command, addr string) (*remoteLedger, error) {
	timeout, _ := cmd.Flags().GetDuration("timeout")
	tlsc, err := tlsOf(cmd)
	if err != nil {
		return nil, err
	}
	r := &remoteLedger{cl: client.New(client.Options{Timeout: timeout, TLS: tlsc}), addr: addr, ctx: cmd.Context(), read: url.Values{}}
	if c, _ := cmd.Flags().GetString("consistency"); c != "" {
		r.read.Set("consistency", c)
	}
	if m, _ := cmd.Flags().GetUint64("min-index"); m > 0 {
		r.read.Set("min_index", strconv.FormatUint(m, 10))
	}
	var st wire.LedgerStatus
	if err := r.get("/v1/ledger/status", nil, &st); err != nil {
		return nil, err
	}
	root, err := parseHash(st.Root)
	if err != nil {
		return nil, err
	}
	r.head = ledger.Head{Size: st.Size, Root: root, AppliedIndex: st.Index, LastTime: st.LastTime, PolicyHash: st.PolicyHash}
	return r, nil
}

func parseHash(s string) (ledger.Hash, error) {
	var h ledger.Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

func (r *remoteLedger) get(path string, q url.Values, out any) error {
	v := url.Values{}
	for k, vs := range r.read {
		v[k] = vs
	}
	for k, vs := range q {
		v[k] = vs
	}
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	if err := r.cl.Get(r.ctx, r.addr, path, out); err != nil {
		return remoteErr(err)
	}
	return nil
}

func (r *remoteLedger) Head() ledger.Head { return r.head }

func (r *remoteLedger) Query(q ledger.Query) (*ledger.Page, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("actor", q.Actor)
	set("tenant", q.Tenant)
	set("correlation_id", q.Correlation)
	set("capability", string(q.Capability))
	set("type", string(q.Type))
	set("decision", string(q.Decision))
	if q.Since != 0 {
		v.Set("since", strconv.FormatInt(q.Since, 10))
	}
	if q.Until != 0 {
		v.Set("until", strconv.FormatInt(q.Until, 10))
	}
	v.Set("start", strconv.FormatUint(q.Start, 10))
	v.Set("limit", strconv.Itoa(q.Limit))
	var p ledger.Page
	err := r.get("/v1/ledger/query", v, &p)
	return &p, err
}

func (r *remoteLedger) InclusionProof(index, size uint64) (*ledger.InclusionProof, error) {
	var p ledger.InclusionProof
	err := r.get("/v1/ledger/proof", url.Values{"index": {fmt.Sprint(index)}, "size": {fmt.Sprint(size)}}, &p)
	return &p, err
}

func (r *remoteLedger) ConsistencyProof(from, to uint64) (*ledger.ConsistencyProof, error) {
	var p ledger.ConsistencyProof
	err := r.get("/v1/ledger/consistency", url.Values{"from": {fmt.Sprint(from)}, "to": {fmt.Sprint(to)}}, &p)
	return &p, err
}

func (r *remoteLedger) Checkpoints() ([]ledger.CheckpointRecord, error) {
	var cps []ledger.CheckpointRecord
	err := r.get("/v1/ledger/checkpoints", nil, &cps)
	return cps, err
}

// Verify asks the node to verify its own ledger file.
func (r *remoteLedger) Verify(opts ledger.VerifyOptions) (*ledger.VerifyReport, error) {
	var rep ledger.VerifyReport
	q := url.Values{}
	if opts.Structure {
		q.Set("structure", "true")
	}
	err := r.get("/v1/ledger/verify", q, &rep)
	return &rep, err
}

// Export streams the node's events as JSON lines.
func (r *remoteLedger) Export(w io.Writer, from, to uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Minute)
	defer cancel()
	resp, err := r.cl.Stream(ctx, r.addr, fmt.Sprintf("/v1/ledger/export?from=%d&to=%d", from, to))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n uint64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if _, err := w.Write(append(sc.Bytes(), '\n')); err != nil {
			return n, err
		}
		n++
	}
	return n, sc.Err()
}

// Replay copies the node's events into a temporary ledger and replays
// them there.
func (r *remoteLedger) Replay(ev replay.Evaluator, opts replay.Options) (*replay.Report, error) {
	dir, err := os.MkdirTemp("", "cnv-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := r.Export(f, 0, r.head.Size); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	st, err := ledger.Open(filepath.Join(dir, "state.db"), ledger.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.Import(f); err != nil {
		return nil, err
	}
	return replay.Run(st, ev, opts)
}

// withReader runs fn on the ledger of --addr's node when --addr is given,
// else on --data-dir's file.
func withReader(cmd *cobra.Command, fn func(r ledgerReader) error) error {
	if a, _ := cmd.Flags().GetString("addr"); a != "" || os.Getenv("CNV_ADDR") != "" && !cmd.Flags().Changed("data-dir") {
		addr, err := addrOf(cmd)
		if err != nil {
			return err
		}
		r, err := newRemoteLedger(cmd, addr)
		if err != nil {
			return err
		}
		return fn(r)
	}
	return withLedger(cmd, false, func(s *ledger.Store) error { return fn(localLedger{s}) })
}
