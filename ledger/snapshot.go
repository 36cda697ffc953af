package ledger

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// WriteTo writes a consistent copy of the whole file (ledger and FSM
// buckets) to w: the FSM's snapshot. Writers are not blocked while it runs.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := s.boltView(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Restore atomically replaces the whole file with a snapshot written by
// WriteTo: it writes r to a temporary file beside the store, fsyncs it,
// checks that it opens as a ledger, renames it over the store's file,
// fsyncs the directory and reopens. On any error before the rename the
// store is unchanged. Readers and writers wait while it runs.
func (s *Store) Restore(r io.Reader) error {
	if s.opts.ReadOnly {
		return fmt.Errorf("ledger: restore on a read-only store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	tmp, err := writeTemp(s.path, r)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone after a successful rename
	if err := checkSnapshot(tmp); err != nil {
		return err
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("ledger: restore: close: %w", err)
	}
	s.db = nil
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("ledger: restore: %w (the store is closed; reopen it)", err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("ledger: restore: %w (the store is closed; reopen it)", err)
	}
	return s.open()
}

func writeTemp(path string, r io.Reader) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("ledger: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("ledger: restore: write snapshot: %w", err)
	}
	return f.Name(), nil
}

// checkSnapshot opens the candidate file and loads its ledger head, so a
// truncated or foreign snapshot is refused before it replaces anything.
func checkSnapshot(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%w: snapshot does not open: %v", ErrCorrupt, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("%w: snapshot holds no ledger", ErrCorrupt)
		}
		_, err := loadState(tx, true) // a version-1 snapshot is migrated when opened
		return err
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
