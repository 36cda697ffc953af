package main

import (
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/graph"
)

// graphResultOf returns a zero value of the result type an op answers with.
func graphResultOf(op string) any {
	switch op {
	case graph.OpReachable:
		return &graph.ReachableResult{}
	case graph.OpDominates:
		return &graph.DominatesResult{}
	case graph.OpPath, graph.OpCompose:
		return &graph.PathResult{}
	case graph.OpPaths:
		return &graph.PathsResult{}
	case graph.OpClasses:
		return &graph.ClassesResult{}
	case graph.OpStats:
		return &graph.Stats{}
	case graph.OpDot:
		return &graph.DotResult{}
	}
	return nil
}

// remoteGraphAnswer is a node's answer: the result and the snapshot
// (Raft index, hash) it came from.
type remoteGraphAnswer struct {
	Index  uint64          `json:"index"`
	Hash   string          `json:"hash"`
	Result json.RawMessage `json:"result"`
}

// graphQueryRemote asks the node at --addr (stale by default: graph reads
// are served from the local snapshot) and returns the typed result and
// the snapshot's index and hash.
func graphQueryRemote(cmd *cobra.Command, req graph.Request) (any, *remoteGraphAnswer, error) {
	cl, addr, ctx, cancel, err := remote(cmd, false)
	if err != nil {
		return nil, nil, err
	}
	defer cancel()
	var ans remoteGraphAnswer
	if err := cl.Do(ctx, http.MethodPost, addr, "/v1/graph/query"+readQuery(cmd), req, &ans, nil); err != nil {
		return nil, nil, remoteErr(err)
	}
	out := graphResultOf(req.Op)
	if out == nil {
		return nil, nil, exitWith(exitUsage, "unknown graph op %q", req.Op)
	}
	if err := json.Unmarshal(ans.Result, out); err != nil {
		return nil, nil, exitWith(exitError, "decode graph answer: %v", err)
	}
	return derefResult(out), &ans, nil
}

func derefResult(v any) any {
	switch r := v.(type) {
	case *graph.ReachableResult:
		return *r
	case *graph.DominatesResult:
		return *r
	case *graph.PathResult:
		return *r
	case *graph.PathsResult:
		return *r
	case *graph.ClassesResult:
		return *r
	case *graph.Stats:
		return *r
	case *graph.DotResult:
		return *r
	}
	return v
}

// withIndex adds the snapshot's "index" and "hash" to a result's JSON.
func withIndex(res any, ans *remoteGraphAnswer) any {
	b, err := json.Marshal(res)
	if err != nil {
		return res
	}
	m := map[string]any{}
	if json.Unmarshal(b, &m) != nil {
		return res
	}
	m["index"], m["hash"] = ans.Index, ans.Hash
	return m
}
