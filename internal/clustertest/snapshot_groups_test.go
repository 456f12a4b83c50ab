package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestGroupSurvivesSnapshotInstall keeps a follower down while a group
// consumes and checkpoints, and while the others snapshot and compact
// their raft logs past it; restarted, the follower catches up from a
// snapshot, is made leader, and the group resumes there at its committed
// offsets: nothing it acknowledged before is delivered again.
func TestGroupSurvivesSnapshotInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	const name, group = "snapgroups", "g"
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(name, partitions, time.Hour)
	follower := c.follower()
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)

	l := c.leader()
	produce := func(prefix string, n int) {
		t.Helper()
		mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+l.api)
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := mc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: name,
				Messages: []*v1.Message{{Value: fmt.Appendf(nil, "%s-%d", prefix, i)}}}))
			cancel()
			if err != nil {
				t.Fatalf("produce %s-%d on %s: %v", prefix, i, l.id, err)
			}
		}
	}
	// pullAll pulls and acks on n until want messages came, and returns
	// every value delivered.
	pullAll := func(n *node, want int) map[string]int {
		t.Helper()
		got := make(map[string]int)
		mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+n.api)
		c.await(60*time.Second, fmt.Sprintf("%d messages of group %s on %s", want, group, n.id), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := mc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: name, Group: group, MaxMessages: 100, MaxWait: durationpb.New(100 * time.Millisecond)}))
			if err != nil {
				t.Logf("pull on %s: %v", n.id, err)
				return false
			}
			refs := map[uint32][]uint64{}
			for _, d := range resp.Msg.Messages {
				got[string(d.Value)]++
				refs[d.Partition] = append(refs[d.Partition], d.Offset)
			}
			if len(refs) > 0 {
				req := &v1.AckRequest{Station: name, Group: group}
				for p, offs := range refs {
					req.Messages = append(req.Messages, &v1.MessageRefs{Partition: p, Offsets: offs})
				}
				if _, err := mc.Ack(ctx, connect.NewRequest(req)); err != nil {
					t.Fatalf("ack on %s: %v", n.id, err)
				}
			}
			return len(got) >= want
		})
		return got
	}
	// checkpointed waits until n has stored the group's offsets at the
	// partitions' ends.
	checkpointed := func(n *node) {
		t.Helper()
		gc := junctionv1connect.NewGroupServiceClient(c.hc, "http://"+n.api)
		c.await(60*time.Second, "group "+group+" checkpointed at the end on "+n.id, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			resp, err := gc.DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: name, Group: group}))
			if err != nil || len(resp.Msg.Group.Partitions) != partitions {
				return false
			}
			for _, p := range resp.Msg.Group.Partitions {
				if p.CheckpointedOffset != p.NextOffset {
					return false
				}
			}
			return true
		})
	}

	produce("before", 60)
	pullAll(l, 60)
	checkpointed(l)
	// Enough entries behind the checkpoint that the follower's restart
	// needs a snapshot.
	produce("after", 200)

	c.start(follower)
	c.await(90*time.Second, follower.id+" to install a snapshot", func() bool {
		b, _ := os.ReadFile(follower.logPath)
		return bytes.Contains(b, []byte("installed a snapshot from the leader"))
	})
	c.await(60*time.Second, follower.id+" to hold every message", func() bool {
		for p := range uint32(partitions) {
			want, err := c.nextOffset(l, name, p)
			if err != nil {
				return false
			}
			have, err := c.nextOffset(follower, name, p)
			if err != nil || have != want {
				return false
			}
		}
		return true
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.clusterClient(l).TransferLeader(ctx, connect.NewRequest(&v1.TransferLeaderRequest{NodeId: follower.id})); err != nil {
		t.Fatalf("transfer the leadership to %s: %v", follower.id, err)
	}
	c.await(60*time.Second, follower.id+" to lead", func() bool { return c.leaderNow() == follower })

	got := pullAll(follower, 200)
	for v, n := range got {
		switch {
		case strings.HasPrefix(v, "before-"):
			t.Errorf("%s delivered again on %s though acknowledged and checkpointed before the snapshot", v, follower.id)
		case n > 1:
			t.Errorf("%s delivered %d times", v, n)
		}
	}
	for i := range 200 {
		if v := fmt.Sprintf("after-%d", i); got[v] == 0 {
			t.Errorf("%s never delivered on %s", v, follower.id)
		}
	}
}
