package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/runtime/principal"
)

func newSnapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save a running cluster's state to a file, inspect and verify the file, restore it into a new cluster",
		Long: `Save a consistent snapshot of the whole replicated state (ledger, registry, policy,
principals, delegation state and use counts) from a running cluster, inspect and
verify a snapshot file, and restore one into the data dir of the first node of a new
cluster. See docs/OPERATIONS.md.`,
	}
	cmd.AddCommand(newSnapshotSaveCmd(), newSnapshotInspectCmd(), newSnapshotRestoreCmd())
	return cmd
}

// addProgressFlag adds the hidden --progress-every (tests shorten it).
func addProgressFlag(cmd *cobra.Command) {
	cmd.Flags().Duration("progress-every", time.Second, "how often progress is printed on stderr (not with --json)")
	cmd.Flags().MarkHidden("progress-every")
}

func newSnapshotSaveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "save FILE --addr A,B,C",
		Short: "Stream a snapshot of the cluster's state, taken at a linearizable point, into FILE",
		Long: `Stream a snapshot from the first node of --addr that answers (it fails over to the
next). The node takes a read index through the leader, waits until it has applied
it, copies its state in one read transaction and signs a checkpoint of the ledger
size and root it holds. The file's structure, checksums and signature are checked
as it arrives; it is written to FILE.part and renamed to FILE when complete. Needs
the cluster token (--token, CNV_TOKEN) when the cluster has one. --timeout is how
long the transfer may stall.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSnapshotSave(cmd, args[0]) },
	}
	addRemoteFlags(cmd, false)
	addProgressFlag(cmd)
	return cmd
}

// savedSnapshot is what save prints.
type savedSnapshot struct {
	File           string      `json:"file"`
	Bytes          int64       `json:"bytes"`
	SHA256         string      `json:"sha256"`
	Node           string      `json:"served_by"`
	Meta           backup.Meta `json:"meta"`
	Seconds        float64     `json:"seconds"`
	BytesPerSecond float64     `json:"bytes_per_second"`
}

func runSnapshotSave(cmd *cobra.Command, path string) error {
	cl, addr, _, cancel, err := remote(cmd, false)
	if err != nil {
		return err
	}
	cancel()
	defer cl.Close()
	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	connect, connected := connectTimeout(ctx, cmd)
	start := time.Now()
	ss, err := cl.Snapshot(connect, addr)
	connected() // from here the stall watch bounds the transfer
	if err != nil {
		return remoteErr(err)
	}
	defer ss.Body.Close()
	idle, _ := cmd.Flags().GetDuration("timeout")
	p := startProgress(cmd, "received", ss.Size, stop, idle)
	dec, err := writeSnapshot(path, p.reader(ss.Body))
	p.finish()
	if err != nil {
		return snapshotErr(fmt.Errorf("snapshot from %s: %w", ss.Node, err), p)
	}
	el := time.Since(start).Seconds()
	out := savedSnapshot{File: path, Bytes: dec.Size, SHA256: fmt.Sprintf("%x", dec.Digest), Node: ss.Node, Meta: dec.Meta,
		Seconds: el, BytesPerSecond: float64(dec.Size) / el}
	return emit(cmd, out, func(w io.Writer) { printSaved(w, out) })
}

// connectTimeout bounds finding a node that answers (--timeout plus
// --retry-for, as every request) until connected is called; the context
// then lives as long as ctx.
func connectTimeout(ctx context.Context, cmd *cobra.Command) (_ context.Context, connected func()) {
	timeout, _ := cmd.Flags().GetDuration("timeout")
	retry, _ := cmd.Flags().GetDuration("retry-for")
	ctx, cancel := context.WithCancel(ctx)
	t := time.AfterFunc(timeout+retry, cancel)
	return ctx, func() { t.Stop() }
}

// writeSnapshot checks the stream as it copies it to path.part, then
// syncs and renames it to path.
func writeSnapshot(path string, body io.Reader) (*backup.File, error) {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, inputErr(err)
	}
	dec, err := backup.Decode(io.TeeReader(body, f), io.Discard)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return dec, nil
}

// snapshotErr names a stalled transfer as such.
func snapshotErr(err error, p *progress) error {
	if p.stalled.Load() {
		return exitWith(exitUnavailable, "%v (no data for %s)", err, p.idle)
	}
	return err
}

func printSaved(w io.Writer, s savedSnapshot) {
	m := s.Meta
	fmt.Fprintf(w, "saved %s: %d bytes from %s in %.1fs (%.1f MiB/s)\n", s.File, s.Bytes, s.Node, s.Seconds, s.BytesPerSecond/(1<<20))
	fmt.Fprintf(w, "raft index  %d (read index %d)\nledger      size %d root %s\nsigned by   %s (node %s)\nsha256      %s\n",
		m.RaftIndex, m.ReadIndex, m.LedgerSize, m.LedgerRoot, m.NodeKeyID, m.NodeID, s.SHA256)
}

func newSnapshotInspectCmd() *cobra.Command {
	var trust []string
	cmd := &cobra.Command{
		Use:   "inspect FILE [--trust node1.pub,...]",
		Short: "Show a snapshot file's metadata and verify it: checksums, signatures, the state, the ledger's root",
		Long: `Show the metadata of a snapshot file and verify it: its structure and every section's
checksum, the file's SHA-256 and its signature, the checkpoint's signature under the
node key the file names (with --trust, that key must be one of the given node keys),
that the embedded state opens at the recorded Raft index, and that its ledger's
events hash to the recorded size and root. Exit 0 only when everything verifies.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := loadTrusted(trust)
			if err != nil {
				return err
			}
			rep, err := checkSnapshotFile(cmd, args[0], keys)
			return emitReport(cmd, args[0], rep, err)
		},
	}
	cmd.Flags().StringSliceVar(&trust, "trust", nil, "trusted node public key files (comma-separated): the signer must be one")
	addProgressFlag(cmd)
	return cmd
}

func loadTrusted(files []string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, f := range files {
		k, err := principal.LoadPublic(f)
		if err != nil {
			return nil, exitWith(exitInput, "--trust %s: %v", f, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// checkSnapshotFile decodes and verifies path with progress on stderr.
func checkSnapshotFile(cmd *cobra.Command, path string, trusted []ed25519.PublicKey) (*backup.Report, error) {
	f, size, err := openSnapshot(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := startProgress(cmd, "read", size, nil, 0)
	defer p.finish()
	return backup.Check(p.reader(f), "", backup.VerifyOptions{Trusted: trusted, Progress: p.events})
}

func openSnapshot(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, exitWith(exitInput, "%v", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, exitWith(exitInput, "%v", err)
	}
	return f, fi.Size(), nil
}

// inspected is what inspect prints with --json.
type inspected struct {
	File  string `json:"file"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	*backup.Report
}

// emitReport prints the report (as far as the checks got; with --json
// also when the file did not decode) and returns the check's error, which
// sets the exit code.
func emitReport(cmd *cobra.Command, path string, rep *backup.Report, err error) error {
	out := inspected{File: path, OK: err == nil, Report: rep}
	if err != nil {
		out.Error = err.Error()
	}
	if rep == nil && !jsonOutput(cmd) {
		return err
	}
	if perr := emit(cmd, out, func(w io.Writer) { printReport(w, out) }); perr != nil {
		return perr
	}
	return err
}

func printReport(w io.Writer, out inspected) {
	r, m := out.Report, out.Report.Meta
	fmt.Fprintf(w, "file        %s (%d bytes, sha256 %s)\n", out.File, r.FileBytes, r.SHA256)
	fmt.Fprintf(w, "format      %d\norigin      %s (genesis %s)\n", m.Format, m.Origin, orDefault(m.Genesis, "none: empty ledger"))
	fmt.Fprintf(w, "raft index  %d (read index %d)\n", m.RaftIndex, m.ReadIndex)
	fmt.Fprintf(w, "ledger      size %d root %s\n", m.LedgerSize, m.LedgerRoot)
	fmt.Fprintf(w, "served by   node %s, key %s, at %s\n", m.NodeID, m.NodeKeyID, m.Created.Format(time.RFC3339))
	fmt.Fprintf(w, "state       %d bytes: %d principals, %d capabilities, policy %s, node records %s\n", m.StateBytes,
		r.State.Principals, r.State.Capabilities, orDefault(r.State.PolicyHash, "(bootstrap)"), strings.Join(r.State.Nodes, ","))
	fmt.Fprintf(w, "checkpoint  signed by %s", strings.Join(r.CheckpointSigners, ", "))
	if r.Trusted {
		fmt.Fprint(w, " (trusted)")
	}
	fmt.Fprintf(w, "\n%s", indent(r.Checkpoint))
	if r.Ledger.Verified {
		fmt.Fprintf(w, "verified    %d events hash to the recorded root; %d stored checkpoints agree\n", r.Ledger.Size, r.Ledger.Checkpoints)
	}
	if out.OK {
		fmt.Fprintln(w, "ok")
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

func newSnapshotRestoreCmd() *cobra.Command {
	var f struct {
		dataDir, nodeID, raftAddr string
		trust                     []string
	}
	cmd := &cobra.Command{
		Use:   "restore FILE --data-dir D [--node-id ID] [--raft-addr HOST:PORT]",
		Short: "Verify a snapshot file and write it into a new node's data dir, to seed a new cluster",
		Long: `Verify FILE as inspect does and write its state into D as a new node's state.db,
without the old cluster's node records, with a seed for the node's first start. Start
a node on D with --bootstrap (with --node-id and --raft-addr as given here, when
given): it comes up as a one-node cluster at the snapshot's Raft index with the
same ledger and state; join the others to it. D must not hold a node.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.dataDir == "" {
				return exitWith(exitUsage, "--data-dir is required")
			}
			keys, err := loadTrusted(f.trust)
			if err != nil {
				return err
			}
			opts := cluster.RestoreOptions{NodeID: f.nodeID, RaftAddr: f.raftAddr, Verify: backup.VerifyOptions{Trusted: keys}}
			return runSnapshotRestore(cmd, args[0], f.dataDir, opts)
		},
	}
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "the new node's data directory (must not hold a node)")
	cmd.Flags().StringVar(&f.nodeID, "node-id", "", "the only node ID that may start on it")
	cmd.Flags().StringVar(&f.raftAddr, "raft-addr", "", "the only Raft address (as advertised) that node may have")
	cmd.Flags().StringSliceVar(&f.trust, "trust", nil, "trusted node public key files (comma-separated): the signer must be one")
	addProgressFlag(cmd)
	return cmd
}

func runSnapshotRestore(cmd *cobra.Command, path, dir string, opts cluster.RestoreOptions) error {
	file, size, err := openSnapshot(path)
	if err != nil {
		return err
	}
	defer file.Close()
	p := startProgress(cmd, "read", size, nil, 0)
	opts.Verify.Progress = p.events
	res, err := cluster.RestoreDataDir(p.reader(file), dir, opts)
	p.finish()
	if err != nil {
		return err
	}
	return emit(cmd, res, func(w io.Writer) { printRestored(w, path, res) })
}

func printRestored(w io.Writer, path string, r *cluster.Restored) {
	m := r.Report.Meta
	abs, _ := filepath.Abs(r.DataDir)
	fmt.Fprintf(w, "restored %s into %s: raft index %d, ledger size %d root %s (verified)\n", path, abs, m.RaftIndex, m.LedgerSize, m.LedgerRoot)
	fmt.Fprintf(w, "snapshot of node %s taken %s; the old cluster's node records removed: %s\n", m.NodeID, m.Created.Format(time.RFC3339),
		orDefault(strings.Join(r.DroppedNodes, ", "), "none"))
	fmt.Fprintf(w, "start it:   cnv-node agent --node-id %s --data-dir %s --raft-addr %s --bootstrap ...\n",
		orDefault(r.NodeID, "ID"), r.DataDir, orDefault(r.RaftAddr, "HOST:PORT"))
	fmt.Fprintln(w, "then join the other nodes to it (--join its HTTP address); their data dirs must be new")
}
