package broker

import (
	"testing"
	"time"
)

// Ready turns true once every partition's append is durable, and Wait then
// returns the produce's results.
func TestPendingProduceReady(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 3})
	msgs := []Message{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("c"), Value: []byte("3")}}
	pp, err := b.ProduceAsync(t.Context(), "s", msgs)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !pp.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("produce not Ready after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	results, err := pp.Wait()
	if err != nil || len(results) != len(msgs) {
		t.Fatalf("Wait = %v, %v; want %d results", results, err, len(msgs))
	}
}
