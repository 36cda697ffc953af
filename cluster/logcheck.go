package cluster

import (
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
)

// checkRaftLog reads every entry of the stored Raft log before Raft
// starts: each must be present at its own index and every command entry
// must pass its CRC-32C. raft-boltdb keeps no checksums, so a damaged
// file would otherwise make Raft panic, or hand the FSM an entry whose
// index or body changed (the node would then apply the wrong thing or
// skip everything after a corrupted index). Cost: one pass over the
// retained log (at most SnapshotThreshold + TrailingLogs entries).
func checkRaftLog(ls raft.LogStore) (err error) {
	defer func() {
		// bbolt panics on some damaged pages; report them as damage.
		if p := recover(); p != nil {
			err = fmt.Errorf("reading the log panicked: %v", p)
		}
	}()
	first, err := ls.FirstIndex()
	if err != nil {
		return err
	}
	last, err := ls.LastIndex()
	if err != nil {
		return err
	}
	if first == 0 || last == 0 {
		return nil
	}
	if last < first {
		return fmt.Errorf("log range [%d, %d] is inverted", first, last)
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := ls.GetLog(i, &l); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if l.Index != i {
			return fmt.Errorf("entry %d is stored with index %d", i, l.Index)
		}
		if l.Type == raft.LogCommand {
			if err := fsm.CheckEntry(l.Data); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
	}
	return nil
}
