package broker

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// votingReplicator is a recordingReplicator whose cluster has voters
// voting members.
type votingReplicator struct {
	recordingReplicator
	voters int
}

func (r *votingReplicator) Voters() (int, error) { return r.voters, nil }

func TestReplicasOnASingleNode(t *testing.T) {
	b, err := Open(Options{DataDir: t.TempDir(), ScrubBytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, n := range []uint32{0, 1} {
		cfg, err := b.CreateStation(ctx, StationConfig{Name: "ok", Replicas: n})
		if err != nil {
			t.Fatalf("replicas %d: %v", n, err)
		}
		if got := b.Replicas(cfg); got != 1 {
			t.Errorf("replicas %d: effective %d, want 1", n, got)
		}
		if err := b.DeleteStation(ctx, "ok", false); err != nil {
			t.Fatal(err)
		}
	}
	_, err = b.CreateStation(ctx, StationConfig{Name: "orders", Replicas: 3})
	wantReplicasErr(t, err, "replicas 3 for station orders: a single node keeps one copy of every station; use 1 or leave it unset")
	if _, _, err := b.Station("orders"); !errors.Is(err, ErrStationNotFound) {
		t.Errorf("refused station exists: %v", err)
	}

	if _, err := b.CreateStation(ctx, StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	two, one := uint32(2), uint32(1)
	_, err = b.UpdateStation(ctx, "orders", StationUpdate{Replicas: &two})
	wantReplicasErr(t, err, "replicas 2 for station orders")
	cfg, err := b.UpdateStation(ctx, "orders", StationUpdate{Replicas: &one})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Replicas != 1 {
		t.Errorf("replicas %d after the update, want 1", cfg.Replicas)
	}
}

func TestReplicasOnACluster(t *testing.T) {
	r := &votingReplicator{voters: 3}
	b, err := Open(Options{DataDir: t.TempDir(), Replicator: r, ScrubBytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r.b = b
	ctx := context.Background()

	for _, n := range []uint32{1, 2, 5} {
		_, err := b.CreateStation(ctx, StationConfig{Name: "orders", Replicas: n})
		wantReplicasErr(t, err, "this cluster keeps every station on all 3 voters; use 3 or leave it unset")
	}
	if len(r.changes) != 0 {
		t.Fatalf("refused stations were proposed: %+v", r.changes)
	}
	_, err = b.CreateStation(ctx, StationConfig{Name: "orders", Replicas: 2})
	wantReplicasErr(t, err, "replicas 2 for station orders: this cluster keeps every station on all 3 voters; use 3 or leave it unset")

	def, err := b.CreateStation(ctx, StationConfig{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := b.CreateStation(ctx, StationConfig{Name: "all", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if def.Replicas != 0 || all.Replicas != 3 {
		t.Errorf("stored replicas %d and %d, want 0 and 3", def.Replicas, all.Replicas)
	}
	for _, c := range []StationConfig{def, all} {
		if got := b.Replicas(c); got != 3 {
			t.Errorf("station %s: effective replicas %d, want 3", c.Name, got)
		}
	}

	one := uint32(1)
	proposed := len(r.changes)
	_, err = b.UpdateStation(ctx, "all", StationUpdate{Replicas: &one})
	wantReplicasErr(t, err, "replicas 1 for station all: this cluster keeps every station on all 3 voters")
	if len(r.changes) != proposed {
		t.Errorf("a refused update was proposed: %+v", r.changes[proposed:])
	}

	// A count set earlier is not re-checked as voters change: the station
	// lives on whichever voters there are.
	r.voters = 5
	if got := b.Replicas(all); got != 5 {
		t.Errorf("effective replicas %d after growing to 5 voters, want 5", got)
	}
	five := uint32(5)
	if _, err := b.UpdateStation(ctx, "all", StationUpdate{Replicas: &five}); err != nil {
		t.Fatal(err)
	}
}

func wantReplicasErr(t *testing.T, err error, want string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "station.replicas" {
		t.Fatalf("got %v, want a station.replicas FieldError", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
