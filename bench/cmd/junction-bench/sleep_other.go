//go:build !linux

package main

import "time"

// sleepPrecise sleeps for d.
func sleepPrecise(d time.Duration) { time.Sleep(d) }
