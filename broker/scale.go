package broker

import (
	"math"
	"sync"

	"github.com/junctionhq/junction/broker/seglog"
)

// memFiles holds the segments of memory stations: they cost no file
// descriptor, so none is ever closed to stay within a limit.
var memFiles = seglog.NewFileCache(math.MaxInt)

// parallelism bounds the stations opened or closed at once. Opening and
// closing a log are a few small reads, writes and fsyncs, so a broker with
// thousands of partitions starts and stops in the time of a few hundred of
// them rather than thousands.
const parallelism = 16

// forEachParallel calls fn for every station, parallelism at a time.
func forEachParallel(stations map[string]*station, fn func(*station)) {
	sts := make([]*station, 0, len(stations))
	for _, st := range stations {
		sts = append(sts, st)
	}
	parallelN(len(sts), func(i int) { fn(sts[i]) })
}

// parallelN calls fn(0) to fn(n-1), parallelism at a time, and returns when
// all have returned.
func parallelN(n int, fn func(i int)) {
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
