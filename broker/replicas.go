package broker

import "fmt"

// ReplicaCounter is implemented by a Replicator that can say how many
// nodes keep each station. With one data group, every station lives on
// every voter, so that is the only replica count a cluster supports.
type ReplicaCounter interface {
	// Voters returns how many voting members the cluster has now.
	Voters() (int, error)
}

// Replicas returns how many nodes keep the station configured by cfg:
// one on a single node, every voter on a cluster (the station's own
// setting while the cluster cannot count its voters). A replicas setting,
// when not zero, said the same when it was set: checkReplicas refuses any
// other value.
func (b *Broker) Replicas(cfg StationConfig) uint32 {
	rc, ok := b.opts.Replicator.(ReplicaCounter)
	if !ok {
		return 1
	}
	n, err := rc.Voters()
	if err != nil || n < 1 {
		return cfg.Replicas
	}
	return uint32(n)
}

// checkReplicas refuses a replicas setting this broker cannot keep: a
// single node keeps one copy; a cluster keeps every station on all its
// voters. Zero is always accepted and means that default.
func (b *Broker) checkReplicas(station string, replicas uint32) error {
	if replicas == 0 {
		return nil
	}
	r := b.opts.Replicator
	if r == nil {
		if replicas == 1 {
			return nil
		}
		return fieldErr("station.replicas", "replicas %d for station %s: a single node keeps one copy of every station; use 1 or leave it unset", replicas, station)
	}
	rc, ok := r.(ReplicaCounter)
	if !ok {
		return fieldErr("station.replicas", "replicas %d for station %s: this cluster cannot say how many voters it has; leave it unset", replicas, station)
	}
	n, err := rc.Voters()
	if err != nil {
		return fmt.Errorf("replicas for station %s: counting the cluster's voters: %w", station, err)
	}
	if int64(replicas) == int64(n) {
		return nil
	}
	if n == 1 {
		return fieldErr("station.replicas", "replicas %d for station %s: this cluster has one voter, which keeps every station; use 1 or leave it unset", replicas, station)
	}
	return fieldErr("station.replicas", "replicas %d for station %s: this cluster keeps every station on all %d voters; use %d or leave it unset", replicas, station, n, n)
}
