package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// catchUp makes the local broker hold what manifest m describes: the same
// stations (a station recreated under the same name since this node had it
// is dropped and created anew) with the same settings and, in each partition, the records up to
// the manifest's next offset, fetched from the leader. It returns how many
// records it fetched.
func (n *Node) catchUp(ctx context.Context, b *broker.Broker, m manifest) (int, error) {
	want := make(map[string]manifestStation, len(m.Stations))
	for _, s := range m.Stations {
		want[s.Config.Name] = s
	}
	have, _ := b.Stations()
	for _, c := range have {
		s, ok := want[c.Name]
		if ok && s.Config.CreatedAt.Equal(c.CreatedAt) {
			continue
		}
		if _, err := b.ApplyStationChange(ctx, broker.StationChange{Op: broker.OpDeleteStation, Name: c.Name, Force: true}); err != nil {
			return 0, fmt.Errorf("cluster: restore: drop station %q: %w", c.Name, err)
		}
	}
	for _, s := range m.Stations {
		if cfg, _, err := b.Station(s.Config.Name); err == nil {
			if err := n.restoreSettings(ctx, b, cfg, s.Config); err != nil {
				return 0, err
			}
			continue
		}
		if _, err := b.ApplyStationChange(ctx, broker.StationChange{Op: broker.OpCreateStation, Config: s.Config}); err != nil {
			return 0, fmt.Errorf("cluster: restore: create station %q: %w", s.Config.Name, err)
		}
	}
	leader := n.leaderDialAddr()
	fetched := 0
	for _, s := range m.Stations {
		for p, next := range s.Next {
			k, err := n.fetch(ctx, b, leader, s.Config.Name, uint32(p), next)
			fetched += k
			if err != nil {
				return fetched, fmt.Errorf("cluster: restore station %q partition %d: %w", s.Config.Name, p, err)
			}
		}
	}
	return fetched, nil
}

// fetch appends to a local partition the records it lacks below next,
// read from the cluster port at addr, and returns how many it appended.
func (n *Node) fetch(ctx context.Context, b *broker.Broker, addr, station string, partition uint32, next uint64) (int, error) {
	rl := n.lookup(station, partition)
	if rl == nil {
		return 0, fmt.Errorf("%w: not open here", broker.ErrStationNotFound)
	}
	_, have := rl.Bounds()
	if have > next {
		n.log.Error("a partition holds more than the leader's snapshot; keeping it for an operator", "station", station, "partition", partition, "have", have, "snapshot", next)
		return 0, nil
	}
	return copyRecords(ctx, n.peers, addr, station, partition, rl.local, next, func(recs []broker.Record) {
		b.Replicated(station, partition, recs)
	})
}

// copyRecords appends to dst the records it lacks below next, read
// through hc from the cluster port at addr, calling appended after each batch, and returns how
// many it appended. The node at addr may not have applied all of them
// yet: it waits for them up to a minute.
func copyRecords(ctx context.Context, hc *http.Client, addr, station string, partition uint32, dst broker.PartitionLog, next uint64, appended func([]broker.Record)) (int, error) {
	replica, ok := dst.(broker.ReplicaLog)
	if !ok {
		return 0, errors.New("the local log cannot take records assigned elsewhere")
	}
	_, have := dst.Bounds()
	if have >= next {
		return 0, nil
	}
	start := have
	if addr == "" {
		return 0, errors.New("no leader to fetch from")
	}
	c := junctionv1connect.NewClusterServiceClient(hc, "http://"+addr)
	behind := time.Time{}
	for have < next {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := c.ReadPartition(rctx, connect.NewRequest(&v1.ReadPartitionRequest{Station: station, Partition: partition, From: have}))
		cancel()
		if err != nil {
			return int(have - start), fmt.Errorf("read from %s at offset %d: %w", addr, have, err)
		}
		if len(resp.Msg.Records) == 0 && resp.Msg.NextOffset <= have {
			// It has not applied these yet.
			if behind.IsZero() {
				behind = time.Now()
			} else if time.Since(behind) > time.Minute {
				return int(have - start), fmt.Errorf("%s has stayed at offset %d, short of %d", addr, resp.Msg.NextOffset, next)
			}
			select {
			case <-ctx.Done():
				return int(have - start), ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		behind = time.Time{}
		recs := make([]broker.Record, 0, len(resp.Msg.Records))
		for _, d := range resp.Msg.Records {
			if d.Offset >= next {
				break
			}
			recs = append(recs, deliveryRecord(d))
		}
		if len(recs) == 0 {
			return int(have - start), fmt.Errorf("%s has nothing at offset %d (retention may have deleted it)", addr, have)
		}
		if recs[0].Offset != have {
			return int(have - start), fmt.Errorf("%s starts at offset %d, not %d (retention may have deleted the rest)", addr, recs[0].Offset, have)
		}
		if err := replica.AppendAssigned(ctx, recs); err != nil {
			return int(have - start), err
		}
		have += uint64(len(recs))
		if appended != nil {
			appended(recs)
		}
	}
	return int(have - start), nil
}

func deliveryRecord(d *v1.Delivery) broker.Record {
	r := broker.Record{Offset: d.Offset, Timestamp: d.Timestamp.AsTime().UnixNano(), Key: d.Key, Value: d.Value}
	for _, h := range d.Headers {
		r.Headers = append(r.Headers, broker.Header{Key: h.Key, Value: h.Value})
	}
	return r
}
