// SPDX-License-Identifier: MIT
// spawnjoin.go - the Go rows of bench_sched's spawn+join with default
// attributes, for comparison with libcoro's spawn_join_1k_ns and
// spawn_join_1m_ns.
//
// The work, as a new user would write it: the main goroutine starts n
// goroutines that each store their argument as their result, waits for them
// with a sync.WaitGroup and sums the results.
//   batch  1 000 alive at a time: n goroutines in batches of 1 000, each batch
//          started, then waited for;
//   all    n alive at once: every goroutine blocks on a gate (a channel the
//          main goroutine closes once it has started all n), so that all n
//          are alive together, as libcoro's micro-threads are until joined.
// It runs `rounds` rounds in one process (the first one grows the runtime's
// stacks and heap, the later ones reuse them) and prints one line: ns per
// goroutine of each round, space-separated.  bench_sched builds this with
// `go build` before it times anything and runs it with GOMAXPROCS=1.
//
// Usage: spawnjoin batch|all N ROUNDS
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const batch = 1000

func round(all bool, n int, results []int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	if all {
		gate := make(chan struct{})
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func(arg int) {
				<-gate
				results[arg] = arg
				wg.Done()
			}(i)
		}
		close(gate)
		wg.Wait()
	} else {
		for b := 0; b < n; b += batch {
			m := batch
			if n-b < m {
				m = n - b
			}
			wg.Add(m)
			for i := b; i < b+m; i++ {
				go func(arg int) {
					results[arg] = arg
					wg.Done()
				}(i)
			}
			wg.Wait()
		}
	}
	elapsed := time.Since(t0)
	sum := 0
	for _, r := range results {
		sum += r
	}
	if sum != n*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "spawnjoin: wrong results")
		os.Exit(1)
	}
	return elapsed
}

func main() {
	if len(os.Args) != 4 || (os.Args[1] != "batch" && os.Args[1] != "all") {
		fmt.Fprintln(os.Stderr, "usage: spawnjoin batch|all N ROUNDS")
		os.Exit(2)
	}
	n, err1 := strconv.Atoi(os.Args[2])
	rounds, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || n <= 0 || rounds <= 0 {
		fmt.Fprintln(os.Stderr, "usage: spawnjoin batch|all N ROUNDS")
		os.Exit(2)
	}
	results := make([]int, n) // the benchmark's bookkeeping, as bench_sched's handle array
	for r := 0; r < rounds; r++ {
		d := round(os.Args[1] == "all", n, results)
		if r > 0 {
			fmt.Print(" ")
		}
		fmt.Printf("%.1f", float64(d.Nanoseconds())/float64(n))
	}
	fmt.Println()
}
