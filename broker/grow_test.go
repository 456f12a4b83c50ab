package broker

import (
	"errors"
	"slices"
	"strconv"
	"testing"
)

func TestGrowPartitionsKeepsMessagesAndOffsets(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "orders", Partitions: 2})
	produceN(t, b, "orders", 0, 1000)
	first := pullAll(t, b, "orders", "g", 400) // acked: committed
	grow := func(n uint32) (StationConfig, error) {
		return b.UpdateStation(t.Context(), "orders", StationUpdate{Partitions: &n})
	}
	cfg, err := grow(4)
	if err != nil || cfg.Partitions != 4 {
		t.Fatalf("grow to 4: %+v %v", cfg, err)
	}
	_, stats, err := b.Station("orders")
	if err != nil || len(stats.Partitions) != 4 || stats.Messages != 1000 {
		t.Fatalf("after growing: %+v %v", stats, err)
	}
	// New messages spread over all four partitions; the group gets the
	// rest of the old ones and every new one, none twice.
	produceN(t, b, "orders", 1000, 1000)
	if _, stats, _ = b.Station("orders"); stats.Partitions[3].NextOffset == 0 {
		t.Fatalf("nothing produced to a new partition: %+v", stats.Partitions)
	}
	rest := pullAll(t, b, "orders", "g", 1600)
	all := append(first, rest...)
	slices.SortFunc(all, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	wantSequence(t, all, 0, 2000)

	if _, err := grow(3); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("shrink: %v, want ErrInvalidArgument", err)
	}
	if cfg, err := grow(4); err != nil || cfg.Partitions != 4 {
		t.Fatalf("same count: %+v %v", cfg, err)
	}

	// The new partition count, and the offsets, survive a restart.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	cfg, _, err = b.Station("orders")
	if err != nil || cfg.Partitions != 4 {
		t.Fatalf("after restart: %+v %v", cfg, err)
	}
	produceN(t, b, "orders", 2000, 10)
	got := pullAll(t, b, "orders", "g", 10)
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	wantSequence(t, got, 2000, 10)
}

func TestGrowPartitionsRefusesMemoryStations(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "m", Storage: StorageMemory})
	n := uint32(2)
	if _, err := b.UpdateStation(t.Context(), "m", StationUpdate{Partitions: &n}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("grow a memory station: %v", err)
	}
	if cfg, _, _ := b.Station("m"); cfg.Partitions != 1 {
		t.Fatalf("partitions %d", cfg.Partitions)
	}
}

// Produces racing a grow either fail or are kept: none acknowledged is lost.
func TestGrowPartitionsWhileProducing(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders", Partitions: 1})
	acked := map[string]bool{}
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 400; i++ {
			if i == 50 {
				close(started)
			}
			v := strconv.Itoa(i)
			if _, err := b.Produce(t.Context(), "orders", []Message{{Value: []byte(v)}}); err == nil {
				acked[v] = true
			} else {
				t.Errorf("produce %d racing the grow: %v", i, err)
			}
		}
	}()
	<-started
	n := uint32(3)
	if _, err := b.UpdateStation(t.Context(), "orders", StationUpdate{Partitions: &n}); err != nil {
		t.Fatal(err)
	}
	<-done
	_, stats, _ := b.Station("orders")
	got := pullAll(t, b, "orders", "g", int(stats.Messages))
	have := map[string]bool{}
	for _, v := range got {
		have[v] = true
	}
	for v := range acked {
		if !have[v] {
			t.Fatalf("acknowledged message %s lost by the grow", v)
		}
	}
	if len(acked) != 400 {
		t.Fatalf("%d of 400 produces succeeded", len(acked))
	}
}
