package broker

import (
	"math"
	"sync"

	"github.com/junctionhq/junction/broker/seglog"
)

// memFiles holds the segments of memory stations: they cost no file
// descriptor, so none is ever closed to stay within a limit.
var memFiles = seglog.NewFileCache(math.MaxInt)

// closeParallelism bounds the stations closed at once. Closing a log
// fsyncs its state file, so a broker with thousands of partitions shuts
// down in the time of a few hundred fsyncs rather than thousands.
const closeParallelism = 16

// forEachParallel calls fn for every station, closeParallelism at a time.
func forEachParallel(stations map[string]*station, fn func(*station)) {
	sem := make(chan struct{}, closeParallelism)
	var wg sync.WaitGroup
	for _, st := range stations {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(st)
		})
	}
	wg.Wait()
}
