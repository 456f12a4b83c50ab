package seglog

import (
	"context"
	"testing"
	"time"
)

// Ready is false while the batch's fsync is under way and true once Wait
// would return.
func TestPendingReady(t *testing.T) {
	l, _, set := faultLog(t)
	defer l.Close()
	mustAppend(t, l, recs("ok", 1, 0))

	h := holdNextSync()
	set(h)
	p, err := l.Enqueue(context.Background(), recs("n", 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	<-h.started
	if p.Ready() {
		t.Fatal("Ready while the batch's fsync is held")
	}
	h.release <- nil
	deadline := time.Now().Add(10 * time.Second)
	for !p.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not Ready 10s after its fsync was released")
		}
		time.Sleep(time.Millisecond)
	}
	if base, err := p.Wait(); err != nil || base != 1 {
		t.Fatalf("Wait = %d, %v; want 1, nil", base, err)
	}
}
