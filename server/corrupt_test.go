package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker/seglog"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// TestSIGKILLThenCorruptionNeverReusesOffsets kills a broker whose group
// consumed everything, flips a byte in a batch in the middle of the tail
// segment, and restarts it: the broker used to cut the log there, give the
// dropped offsets out again, and let the group silently skip new messages.
// Now the partition is flagged, keeps its next offset, serves the rest, and
// a repair settles the damage.
func TestSIGKILLThenCorruptionNeverReusesOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	ch := startChild(t, dir)
	c := newClients(ch.addr)
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: values(10, i*10)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.groups.CreateGroup(ctx, connect.NewRequest(&v1.CreateGroupRequest{Station: "s", Group: "late"})); err != nil {
		t.Fatal(err)
	}
	if got := readStation(t, c, "s", "g"); len(got) != 100 {
		t.Fatalf("group g read %d messages", len(got))
	}
	waitFor(t, func() bool {
		resp, err := c.groups.DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: "s", Group: "g"}))
		return err == nil && resp.Msg.Group.Partitions[0].CheckpointedOffset == 100
	})
	ch.kill(t)

	segs, _ := filepath.Glob(filepath.Join(dir, "stations", "s", "0", "*.log"))
	if len(segs) != 1 {
		t.Fatalf("%d segments; the test wants the tail to be the only one", len(segs))
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for range 5 {
		_, n, err := seglog.DecodeBatch(data[pos:])
		if err != nil {
			t.Fatal(err)
		}
		pos += n
	}
	data[pos+60] ^= 0xff // inside the sixth batch, offsets 50 to 59
	if err := os.WriteFile(segs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}

	ch = startChild(t, dir)
	c = newClients(ch.addr)
	st, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "s"}))
	if err != nil {
		t.Fatal(err)
	}
	p := st.Msg.Stats.Partitions[0]
	if p.NextOffset != 100 || len(p.Damaged) != 1 || p.Damaged[0].FromOffset != 50 || p.Damaged[0].ToOffset != 60 {
		t.Fatalf("partition after recovery: next %d, damaged %v", p.NextOffset, p.Damaged)
	}
	resp, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: values(10, 100)}))
	if err != nil || resp.Msg.Results[0].Offset != 100 {
		t.Fatalf("produce after recovery: %v %v", resp, err)
	}
	if got := readStation(t, c, "s", "g"); len(got) != 10 || got[0] != "100" {
		t.Fatalf("group g after recovery read %v, want the 10 new messages", got)
	}

	// A group behind the damage stops there with DATA_LOSS.
	first, err := c.messages.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "late", MaxMessages: 1000}))
	if err != nil || len(first.Msg.Messages) != 50 {
		t.Fatalf("first pull: %v, want the 50 messages before the damage", err)
	}
	_, err = c.messages.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "late", MaxMessages: 1000}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeDataLoss {
		t.Fatalf("pull at the damage = %v, want DATA_LOSS", err)
	}

	rep, err := c.stations.RepairPartition(ctx, connect.NewRequest(&v1.RepairPartitionRequest{Station: "s", Partition: 0, Mode: v1.RepairMode_REPAIR_MODE_SKIP}))
	if err != nil || len(rep.Msg.Lost) != 1 || rep.Msg.Lost[0].FromOffset != 50 || rep.Msg.Lost[0].ToOffset != 60 {
		t.Fatalf("repair: %v %v", rep, err)
	}
	got := readStation(t, c, "s", "verify")
	if len(got) != 100 {
		t.Fatalf("after the repair the station serves %d messages, want 100 (110 less the 10 lost)", len(got))
	}
	for i, v := range got {
		want := i
		if i >= 50 {
			want = i + 10
		}
		if v != strconv.Itoa(want) {
			t.Fatalf("message %d = %s, want %d", i, v, want)
		}
	}
}
