//go:build unix

package ledger

import "syscall"

// cpuTime is the process's user plus system CPU time in nanoseconds: on a
// shared machine it moves far less than wall time when other processes
// compete for the cores, so benchmarks report it beside ns/op.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
