package nemesis

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Damage is a kind of disk fault.
type Damage string

// Damages.
const (
	Truncate  Damage = "truncate" // cut a file at a random length
	FlipBytes Damage = "flip"     // xor random bytes with a non-zero mask
)

// Corrupt damages one non-empty regular file under dir, chosen with
// probability proportional to its size (so the databases, not the key
// files, take most faults), and says what it did. The node owning dir must
// be stopped.
func Corrupt(dir string, d Damage, flips int, rng *rand.Rand) (string, error) {
	return CorruptMatching(dir, "", d, flips, rng)
}

// CorruptMatching is Corrupt restricted to the files whose path relative
// to dir starts with prefix ("raft/" for the Raft log and snapshots).
func CorruptMatching(dir, prefix string, d Damage, flips int, rng *rand.Rand) (string, error) {
	files, err := dataFiles(dir, prefix)
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%w: no data files under %s matching %q", ErrBadConfig, dir, prefix)
	}
	f := pickBySize(files, rng)
	rel, _ := filepath.Rel(dir, f.path)
	switch d {
	case Truncate:
		n := rng.Int64N(f.size)
		return fmt.Sprintf("truncated %s from %d to %d bytes", rel, f.size, n), os.Truncate(f.path, n)
	case FlipBytes:
		offs, err := flip(f.path, f.size, flips, rng)
		return fmt.Sprintf("flipped bytes of %s at %v", rel, offs), err
	}
	return "", fmt.Errorf("%w: damage %q", ErrBadConfig, d)
}

func pickBySize(files []dataFile, rng *rand.Rand) dataFile {
	var total int64
	for _, f := range files {
		total += f.size
	}
	at := rng.Int64N(total)
	for _, f := range files {
		if at < f.size {
			return f
		}
		at -= f.size
	}
	return files[len(files)-1]
}

type dataFile struct {
	path string
	size int64
}

// dataFiles lists the non-empty regular files under dir, sorted by path so
// a seed picks the same file again.
func dataFiles(dir, prefix string) ([]dataFile, error) {
	var out []dataFile
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		if rel, _ := filepath.Rel(dir, path); !strings.HasPrefix(filepath.ToSlash(rel), prefix) {
			return nil
		}
		info, err := e.Info()
		if err == nil && info.Size() > 0 {
			out = append(out, dataFile{path, info.Size()})
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, err
}

// flip xors n distinct random bytes of the file (at most its size) with
// random non-zero masks, so every chosen byte changes.
func flip(path string, size int64, n int, rng *rand.Rand) ([]int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n = int(min(int64(n), size))
	seen := make(map[int64]bool, n)
	offs := make([]int64, 0, n)
	b := make([]byte, 1)
	for len(offs) < n {
		off := rng.Int64N(size)
		if seen[off] {
			continue
		}
		seen[off] = true
		if _, err := f.ReadAt(b, off); err != nil {
			return offs, err
		}
		b[0] ^= byte(1 + rng.IntN(255))
		if _, err := f.WriteAt(b, off); err != nil {
			return offs, err
		}
		offs = append(offs, off)
	}
	return offs, f.Sync()
}
