package bench

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cnv-project/cnv/client"
)

// nodeStats reads each node's CPU seconds and resident memory from its
// /metrics (nil when a node does not answer).
func nodeStats(ctx context.Context, cfg Config) []NodeStat {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out := make([]NodeStat, 0, len(cfg.Addrs))
	for _, a := range cfg.Addrs {
		var raw client.Raw
		if err := cfg.Client.DoRaw(ctx, http.MethodGet, a, "/metrics", nil, &raw, nil); err != nil {
			return nil
		}
		st := NodeStat{Addr: a}
		var okCPU bool
		sc := bufio.NewScanner(bytes.NewReader(raw.Body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			name, val, found := strings.Cut(sc.Text(), " ")
			if !found {
				continue
			}
			switch name {
			case "process_cpu_seconds_total":
				st.CPUSeconds, _ = strconv.ParseFloat(val, 64)
				okCPU = true
			case "process_resident_memory_bytes":
				f, _ := strconv.ParseFloat(val, 64)
				st.RSSBytes = int64(f)
			}
		}
		if !okCPU {
			return nil
		}
		out = append(out, st)
	}
	return out
}

// nodeCPU fills in the nodes' CPU per committed invocation and memory.
func (r *Report) nodeCPU(before, after []NodeStat) {
	if len(before) == 0 || len(before) != len(after) {
		return
	}
	var cpu float64
	for i := range after {
		after[i].CPUSeconds -= before[i].CPUSeconds
		cpu += after[i].CPUSeconds
		r.NodeRSSBytes = max(r.NodeRSSBytes, after[i].RSSBytes)
	}
	r.NodeStats = after
	if r.Committed > 0 {
		r.NodeCPUus = cpu * 1e6 / float64(r.Committed)
	}
}
