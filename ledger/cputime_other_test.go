//go:build !unix

package ledger

func cpuTime() int64 { return 0 }
