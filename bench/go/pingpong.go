// SPDX-License-Identifier: MIT
// pingpong.go - the Go row of bench_sched: channel ping-pong between two
// goroutines, for comparison with libcoro's chan_pingpong_ns.
//
// One round trip = an int64 sent on an unbuffered request channel and the
// reply (request + 1) received on an unbuffered reply channel.  bench_sched
// builds this with `go build` before it times anything and runs it once per
// repeat with GOMAXPROCS=1 in the environment; the program times its own loop
// (after an untimed warm-up, as bench_sched's rows do) and prints one number:
// nanoseconds per round trip.  Standard library only.
//
// Usage: pingpong [round trips]   (default 1000000)
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const warmup = 100 // untimed round trips, as bench_sched's PINGPONG_WARMUP

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: pingpong [round trips > 0]")
			os.Exit(2)
		}
		n = v
	}
	req := make(chan int64)
	rep := make(chan int64)
	go func() { // the ponger: reply request + 1 until req is closed
		for v := range req {
			rep <- v + 1
		}
	}()
	bad := 0
	for i := int64(0); i < warmup; i++ {
		req <- i
		if <-rep != i+1 {
			bad++
		}
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		v := int64(i & 0xffff)
		req <- v
		if <-rep != v+1 {
			bad++
		}
	}
	elapsed := time.Since(t0)
	close(req)
	if bad != 0 {
		fmt.Fprintln(os.Stderr, "pingpong: wrong replies:", bad)
		os.Exit(1)
	}
	fmt.Printf("%.3f\n", float64(elapsed.Nanoseconds())/float64(n))
}
