package cluster

import (
	"crypto/ed25519"
	"sync"

	"github.com/cnv-project/cnv/ledger/cert"
)

// recentHeads is how many signed ledger heads a node keeps: the outcomes
// of one Raft entry are finished by as many goroutines as requests it
// carried, and a few entries are finished at once.
const recentHeads = 64

// heads signs the ledger heads a node's answers are proven into, each
// once: the first outcome of an entry signs its head and the others reuse
// the signature.
type heads struct {
	key ed25519.PrivateKey

	mu    sync.Mutex
	bySz  map[uint64]*signedHead
	order []uint64 // sizes in the order they were first asked for
}

type signedHead struct {
	once sync.Once
	h    cert.Head
	err  error
}

func newHeads(key ed25519.PrivateKey) *heads {
	return &heads{key: key, bySz: make(map[uint64]*signedHead, recentHeads)}
}

// sign returns the signed checkpoint of the ledger at size, whose root is
// root (the ledger only grows, so a size names one root on a replica
// whose ledger agrees with the quorum's, which the divergence check
// keeps true).
func (s *heads) sign(size uint64, root []byte) (cert.Head, error) {
	s.mu.Lock()
	sh, ok := s.bySz[size]
	if !ok {
		sh = &signedHead{}
		s.bySz[size] = sh
		s.order = append(s.order, size)
		if len(s.order) > recentHeads {
			delete(s.bySz, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.mu.Unlock()
	sh.once.Do(func() { sh.h, sh.err = cert.SignHead(size, root, s.key) })
	return sh.h, sh.err
}
