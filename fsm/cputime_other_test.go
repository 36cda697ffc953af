//go:build !unix

package fsm

func cpuTime() int64 { return 0 }
