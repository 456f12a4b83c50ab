package broker

// ReplayStore keeps the progress of dead-letter replays, by key (a
// dead-letter station's partition). *meta.Store implements it.
type ReplayStore interface {
	// PutReplay stores value under key durably.
	PutReplay(key string, value []byte) error
	// Replay returns the value under key, nil when there is none.
	Replay(key string) ([]byte, error)
}

// ReplayReplicator is a Replicator that also replicates dead-letter
// replay progress, so that a replay a node began resumes on the next
// leader. The broker calls ReplayStore once, when it opens.
type ReplayReplicator interface {
	// ReplayStore returns the store replay progress goes to, over local,
	// this node's own, which committed writes are applied to.
	ReplayStore(local ReplayStore) ReplayStore
}
