package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// handleMetrics answers Prometheus text: the node's own gauges and, when
// configured, the process metrics sink (Raft's metrics among them).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	st := s.node.Status()
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s{node_id=%q} %g\n", name, help, name, name, st.NodeID, v)
	}
	leader := 0.0
	if st.State == "Leader" {
		leader = 1
	}
	gauge("cnv_raft_is_leader", "1 when this node leads.", leader)
	gauge("cnv_raft_term", "Current Raft term.", float64(st.Term))
	gauge("cnv_raft_commit_index", "Raft commit index.", float64(st.CommitIndex))
	gauge("cnv_raft_applied_index", "Index applied to the local state.", float64(st.AppliedIndex))
	gauge("cnv_ledger_size", "Events in the ledger.", float64(st.LedgerSize))
	if s.cfg.Metrics != nil {
		b.WriteString(s.cfg.Metrics())
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write([]byte(b.String()))
}
