// Package par runs the iterations of a loop concurrently, a bounded
// number at a time: for work on many files or stations whose cost is
// mostly waiting on the disk.
package par

import "sync"

// For calls fn(0) to fn(n-1), at most limit at a time, and returns when
// all have returned.
func For(n, limit int, fn func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
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
