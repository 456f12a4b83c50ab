package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestReplicasAreEveryVoter checks the replica counts a 3-node cluster
// supports with one data group: unset or 3, and every node reports 3.
func TestReplicasAreEveryVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(ordersStation, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var created *v1.Station
	c.await(30*time.Second, "a station with replicas 3 created", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+l.api)
		_, err := sc.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "two", Replicas: 2}}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			return false
		}
		if want := "replicas 2 for station two: this cluster keeps every station on all 3 voters; use 3 or leave it unset"; !strings.Contains(err.Error(), want) {
			t.Fatalf("create with replicas 2: %v, want it to say %q", err, want)
		}
		resp, err := sc.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "three", Replicas: 3}}))
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			got, err := sc.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "three"}))
			if err != nil {
				return false
			}
			created = got.Msg.GetStation()
			return true
		}
		if err != nil {
			return false
		}
		created = resp.Msg.GetStation()
		return true
	})
	if created.GetReplicas() != 3 {
		t.Errorf("created with replicas %d, want 3", created.GetReplicas())
	}
	for _, n := range c.nodes {
		sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+n.api)
		c.await(30*time.Second, n.id+" to report 3 replicas of "+ordersStation, func() bool {
			resp, err := sc.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: ordersStation}))
			return err == nil && resp.Msg.GetStation().GetReplicas() == 3
		})
	}
}
