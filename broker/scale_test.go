package broker

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMaxOpenSegments reads stations of many sealed segments through a
// cache of two open files, across a restart, and checks what /metrics says
// about it.
func TestMaxOpenSegments(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	b := openTest(t, dir, func(o *Options) { o.MaxOpenSegments, o.Registerer = 2, reg })
	for i := range 3 {
		mustCreate(t, b, StationConfig{Name: fmt.Sprint("s", i), Partitions: 2})
		produceN(t, b, fmt.Sprint("s", i), 0, 2000)
	}
	b.Close()

	reg = prometheus.NewRegistry()
	b = openTest(t, dir, func(o *Options) { o.MaxOpenSegments, o.Registerer = 2, reg })
	for i := range 3 {
		name := fmt.Sprint("s", i)
		if _, err := b.CreateGroup(t.Context(), name, "g", StartPosition{}, GroupConfig{}); err != nil {
			t.Fatal(err)
		}
		got := pullAll(t, b, name, "g", 2000)
		seen := make(map[string]bool)
		for _, v := range got {
			seen[v] = true
		}
		if len(seen) != 2000 {
			t.Fatalf("station %s: %d distinct messages of 2000", name, len(seen))
		}
	}
	metrics := gather(t, reg)
	if metrics["junction_segment_files_limit"] != 2 || metrics["junction_segment_files_open"] > 2 ||
		metrics["junction_segment_file_evictions_total"] == 0 {
		t.Fatalf("segment file metrics %v: want a limit of 2, at most 2 open and some evictions", metrics)
	}
}

// gather returns the value of every unlabelled metric of reg.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
