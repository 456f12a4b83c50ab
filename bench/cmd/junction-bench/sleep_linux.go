package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepPrecise sleeps for d with the precision of the kernel's nanosleep
// (tens of microseconds), not of the Go runtime's timers, which wake a
// sleep shorter than a millisecond about a millisecond late: a pacer on
// time.Sleep at 10,000 msgs/s sends bursts of ten every millisecond.
func sleepPrecise(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var rem unix.Timespec
		if err := unix.Nanosleep(&ts, &rem); err != unix.EINTR {
			return
		}
		ts = rem
	}
}
