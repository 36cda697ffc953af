package cluster

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/cnv-project/cnv/fsm"
)

func TestCheckRaftLog(t *testing.T) {
	ls, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(t.TempDir(), "raft.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if err := checkRaftLog(ls); err != nil {
		t.Fatalf("empty log: %v", err)
	}
	env := fsm.Envelope{Version: fsm.EnvelopeVersion, Time: 1, Commands: []fsm.Command{{Kind: fsm.KindNodeLeft, NodeLeft: &fsm.NodeLeft{ID: "x"}}}}
	good, _ := env.Encode()
	logs := []*raft.Log{{Index: 1, Term: 1, Type: raft.LogNoop}, {Index: 2, Term: 1, Type: raft.LogCommand, Data: good}}
	if err := ls.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := checkRaftLog(ls); err != nil {
		t.Fatalf("healthy log: %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0x40
	if err := ls.StoreLog(&raft.Log{Index: 3, Term: 1, Type: raft.LogCommand, Data: bad}); err != nil {
		t.Fatal(err)
	}
	if err := checkRaftLog(ls); !errors.Is(err, fsm.ErrCorruptEntry) {
		t.Fatalf("damaged entry: %v", err)
	}
}
