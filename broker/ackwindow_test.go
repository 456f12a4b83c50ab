package broker

import (
	"math/rand/v2"
	"testing"
)

func TestAckWindowAdvancesToLowestUnacked(t *testing.T) {
	const start, n = 1000, 5000
	w := newAckWindow(start)
	acked := make(map[uint64]bool)
	commit := uint64(start)
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(n) {
		off := uint64(start + i)
		w.set(off)
		acked[off] = true
		commit = w.advance(commit)
		want := uint64(start)
		for acked[want] {
			want++
		}
		if commit != want {
			t.Fatalf("after acking %d: commit = %d, want %d", off, commit, want)
		}
	}
	if commit != start+n {
		t.Fatalf("final commit = %d, want %d", commit, start+n)
	}
	if len(w.words) > 1 {
		t.Fatalf("window kept %d words after everything was acked", len(w.words))
	}
}

func TestAckWindowSetRangeMatchesSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		commit := rng.Uint64N(500)
		a, b := newAckWindow(commit), newAckWindow(commit)
		for range 20 {
			from := commit + rng.Uint64N(300)
			to := from + rng.Uint64N(150)
			want := 0
			for off := from; off < to; off++ {
				if !b.has(off) {
					want++
				}
				b.set(off)
			}
			if got := a.setRange(from, to); got != want {
				t.Fatalf("setRange(%d, %d) set %d new bits; set did %d", from, to, got, want)
			}
		}
		if ca, cb := a.advance(commit), b.advance(commit); ca != cb {
			t.Fatalf("advance after setRange %d, after set %d", ca, cb)
		}
	}
}
