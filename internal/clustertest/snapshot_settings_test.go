package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestSettingsSurviveSnapshotInstall keeps a follower down while a
// station's settings change and the others snapshot and compact their raft
// logs past the change; restarted, the follower catches up from a snapshot
// and must hold the new settings (partitions grown with their records),
// and, made leader, enforce them.
func TestSettingsSurviveSnapshotInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	const name, deadLetters = "snapsettings", "snapsettings-dl"
	const grown, maxBytes, maxMessages = partitions + 1, 64, 1000
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(name, partitions, time.Hour)
	follower := c.follower()
	c.await(60*time.Second, follower.id+" to hold station "+name, func() bool {
		_, err := c.station(follower, name)
		return err == nil
	})
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)

	// Nothing here tests failover: calls go to whichever node leads.
	c.onLeader(60*time.Second, "station "+name+" updated", func(l *node) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+l.api)
		_, err := sc.UpdateStation(ctx, connect.NewRequest(&v1.UpdateStationRequest{
			Station: &v1.Station{Name: name, Partitions: grown, DeadLetterStation: deadLetters,
				MaxMessageBytes: maxBytes, Retention: &v1.Retention{MaxMessages: maxMessages}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"partitions", "dead_letter_station", "max_message_bytes", "retention"}},
		}))
		if err != nil {
			t.Logf("update station %s on %s: %v", name, l.id, err)
		}
		return err == nil
	})
	// Enough entries behind the update that the follower's restart needs
	// a snapshot.
	for i := range 200 {
		c.produceOnLeader(name, fmt.Sprintf("m-%d", i))
	}

	c.start(follower)
	c.await(90*time.Second, follower.id+" to install a snapshot", func() bool {
		b, _ := os.ReadFile(follower.logPath)
		return bytes.Contains(b, []byte("installed a snapshot from the leader"))
	})
	st, err := c.station(follower, name)
	if err != nil {
		t.Fatalf("get station %s on %s: %v", name, follower.id, err)
	}
	if st.Partitions != grown || st.DeadLetterStation != deadLetters || st.MaxMessageBytes != maxBytes || st.GetRetention().GetMaxMessages() != maxMessages {
		t.Fatalf("%s after the snapshot holds station %s as %v; want partitions %d, dead-letter station %s, max message bytes %d, retention max messages %d",
			follower.id, name, st, grown, deadLetters, maxBytes, maxMessages)
	}
	c.awaitHolds(follower, name, grown)

	c.transferTo(follower)
	c.onLeader(60*time.Second, "a produce over the limit refused", func(l *node) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+l.api)
		_, err := fc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: name,
			Messages: []*v1.Message{{Value: bytes.Repeat([]byte("x"), 2*maxBytes)}}}))
		switch connect.CodeOf(err) {
		case connect.CodeResourceExhausted:
			return true
		case connect.CodeUnavailable:
			return false // a leader change: ask the next one
		}
		t.Fatalf("produce %d bytes on %s leading with a limit of %d: got %v, want %v", 2*maxBytes, l.id, maxBytes, err, connect.CodeResourceExhausted)
		return false
	})
}

// station returns station name's settings as stored on n.
func (c *cluster) station(n *node, name string) (*v1.Station, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+n.api)
	resp, err := sc.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: name}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.Station, nil
}
