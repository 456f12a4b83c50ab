// Package broker is the Junction broker core: stations on durable segment
// logs, producer deduplication, consumer groups with acks, redelivery and
// dead-lettering, retention, and the metadata that ties them together.
//
// A station's partitions sit behind the PartitionLog seam (the segment log
// is its single-node implementation), so a replicated log can replace it
// without touching consumer groups. Messages are record.Record values,
// stamped once by the log that first appends them with the broker's clock.
// The metadata file is split by job behind meta.StationStore,
// meta.GroupStore and meta.ConnectorStore.
//
// A Broker owns a data directory:
//
//	DATA/LOCK                      held (flock) while a broker runs
//	DATA/meta.db                   bbolt: stations, groups, committed offsets
//	DATA/stations/NAME/PARTITION/  segment log of one partition
//
// Lock order: Broker.ops (one key at a time), then Broker.mu, then
// station.mu, then group.mu. Station and group notification mutexes are
// leaves. Broker.mu guards only the station map and is never held across
// disk I/O; changes to one station (create, update, delete) are serialised
// by its key in Broker.ops instead.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/meta"
	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/broker/vfs"
	"github.com/junctionhq/junction/internal/keylock"
	"github.com/junctionhq/junction/internal/par"
)

// Options configures a Broker. Zero fields take the documented defaults.
type Options struct {
	// DataDir holds the metadata file and station logs. Required.
	DataDir string
	// MaxMessageBytes is the default largest message a station accepts.
	// Default 8 MiB.
	MaxMessageBytes uint32
	// SegmentBytes is the size at which a segment file is rolled.
	// Default 64 MiB.
	SegmentBytes int64
	// RetentionInterval is how often retention runs. Default 5s.
	RetentionInterval time.Duration
	// MaxOpenSegments bounds the open files of sealed segments, and of the
	// active segments of idle partitions, across all disk stations (least
	// recently used ones are closed and reopened when used again); the
	// active segment of a partition being written stays open besides.
	// Default seglog.DefaultFileCacheLimit(), a share of RLIMIT_NOFILE.
	MaxOpenSegments int
	// CommitInterval is how often acknowledged offsets are checkpointed to
	// the metadata file. A crash redelivers at most this much of a group's
	// acknowledged messages. Default 200ms.
	CommitInterval time.Duration
	// Logger receives the broker's log. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the broker's metrics. Default: none.
	Registerer prometheus.Registerer
	// FS holds the logs of disk stations. Default vfs.OS; tests pass a
	// fault-injecting one.
	FS vfs.FS
	// Clock stamps messages, ack deadlines, retention and dedup expiry.
	// Default time.Now; tests pass a fake one.
	Clock func() time.Time
	// MaxNackDelay is the longest redelivery delay a nack may ask for.
	// Default 24h.
	MaxNackDelay time.Duration
	// MaxPendingBytes bounds the memory all consumer groups together spend
	// on deliveries awaiting acknowledgement (about PendingEntryBytes
	// each); past it groups get no new messages until acks make room.
	// Default 256 MiB.
	MaxPendingBytes int64
	// ScrubBytesPerSecond bounds the background scrub that verifies
	// segment checksums; default DefaultScrubBytesPerSecond, negative
	// disables the scrub.
	ScrubBytesPerSecond int64
	// ScrubInterval is how often the scrub runs after the one at start;
	// default DefaultScrubInterval.
	ScrubInterval time.Duration
	// DedupIndexBytes caps the memory of a station's dedup window index,
	// per partition; when it is reached the oldest ids fall out of the
	// window early. Default DefaultDedupIndexBytes.
	DedupIndexBytes int64
	// RecoverMeta moves the metadata file aside at start and rebuilds a
	// fresh one from what can be read of it and from the station
	// directories (see the server's --recover-meta).
	RecoverMeta bool
	// Replicator, when set, makes the broker a node of a cluster: station
	// changes and appends are agreed on through it. Nil: a single node.
	Replicator Replicator
}

// PendingEntryBytes is what the broker charges MaxPendingBytes for one
// delivery awaiting acknowledgement: its entry in the group's pending map
// and in its ack-deadline queue.
const PendingEntryBytes = 160

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = 5 * time.Second
	}
	if o.MaxOpenSegments <= 0 {
		o.MaxOpenSegments = seglog.DefaultFileCacheLimit()
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxNackDelay == 0 {
		o.MaxNackDelay = 24 * time.Hour
	}
	if o.MaxPendingBytes == 0 {
		o.MaxPendingBytes = 256 << 20
	}
	if o.ScrubBytesPerSecond == 0 {
		o.ScrubBytesPerSecond = DefaultScrubBytesPerSecond
	}
	if o.DedupIndexBytes <= 0 {
		o.DedupIndexBytes = DefaultDedupIndexBytes
	}
	if o.ScrubInterval <= 0 {
		o.ScrubInterval = DefaultScrubInterval
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.DataDir == "":
		return errors.New("broker options: DataDir is required")
	case o.SegmentBytes < 4096:
		return fmt.Errorf("broker options: SegmentBytes must be at least 4096, got %d", o.SegmentBytes)
	case o.MaxMessageBytes > 1<<30:
		return fmt.Errorf("broker options: MaxMessageBytes must be at most 1 GiB, got %d", o.MaxMessageBytes)
	case o.RetentionInterval < 0 || o.CommitInterval < 0:
		return errors.New("broker options: intervals must not be negative")
	}
	return nil
}

// Broker is a single-node broker. It is safe for concurrent use.
type Broker struct {
	opts Options
	log  *slog.Logger
	meta *meta.Store
	// The metadata file by job; all three are meta.
	stationsDB   meta.StationStore
	groupsDB     meta.GroupStore
	replayDB     ReplayStore
	connectorsDB meta.ConnectorStore
	lock         *os.File
	metrics      *metrics
	schemas      *registry
	dlq          dlqLocks
	// segFiles bounds the open segment files of disk stations.
	segFiles *seglog.FileCache

	// pendingEntries counts deliveries awaiting ack in every group.
	pendingEntries atomic.Int64

	ops      keylock.Map // by station name
	mu       sync.RWMutex
	stations map[string]*station
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens the broker in opts.DataDir, recovering every station's log and
// every group's committed offsets. It fails with ErrDataDirLocked if another
// broker runs on the same directory.
func Open(opts Options) (*Broker, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.DataDir, "stations"), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.RecoverMeta {
		if err := rebuildMeta(opts); err != nil {
			lock.Close()
			return nil, err
		}
	}
	store, err := meta.Open(filepath.Join(opts.DataDir, "meta.db"), time.Second)
	if err != nil {
		lock.Close()
		if errors.Is(err, meta.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrDataDirLocked, opts.DataDir)
		}
		return nil, err
	}
	b := &Broker{
		segFiles:     seglog.NewFileCache(opts.MaxOpenSegments),
		opts:         opts,
		log:          opts.Logger,
		meta:         store,
		stationsDB:   store,
		groupsDB:     store,
		replayDB:     store,
		connectorsDB: store,
		lock:         lock,
		metrics:      newMetrics(),
		schemas:      newRegistry(),
		stations:     make(map[string]*station),
		stop:         make(chan struct{}),
	}
	if opts.Replicator != nil {
		b.groupsDB = opts.Replicator.GroupStore(store)
		if rr, ok := opts.Replicator.(ReplayReplicator); ok {
			b.replayDB = rr.ReplayStore(store)
		}
	}
	if err := b.load(); err != nil {
		b.closeStations()
		store.Close()
		lock.Close()
		return nil, err
	}
	if opts.Registerer != nil {
		if err := b.metrics.register(opts.Registerer, b); err != nil {
			b.closeStations()
			store.Close()
			lock.Close()
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	b.every(opts.CommitInterval, func() {
		if err := b.commitOffsets(); err != nil {
			b.log.Error("checkpoint group offsets", "err", err)
		}
	})
	b.every(opts.RetentionInterval, b.EnforceRetention)
	if opts.ScrubBytesPerSecond > 0 {
		b.scrubLoop(opts.ScrubBytesPerSecond, opts.ScrubInterval)
	}
	return b, nil
}

// lockDataDir takes an exclusive flock on DATA/LOCK and writes our pid in it.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		holder := ""
		if p := strings.TrimSpace(string(pid)); p != "" {
			holder = " (pid " + p + ")"
		}
		return nil, fmt.Errorf("%w%s: %s; stop it or use another data directory", ErrDataDirLocked, holder, dir)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (b *Broker) load() error {
	var cfgs []StationConfig
	err := b.stationsDB.Stations(func(name string, v []byte) error {
		c, err := decodeStation(name, v)
		if err != nil {
			return b.recordErr(fmt.Sprintf("station %q", name), err)
		}
		cfgs = append(cfgs, c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load stations: %w", err)
	}
	sts := make([]*station, len(cfgs))
	errs := make([]error, len(cfgs))
	par.For(len(cfgs), parallelism, func(i int) { sts[i], errs[i] = b.openStation(cfgs[i]) })
	for i, st := range sts {
		if st != nil {
			b.stations[cfgs[i].Name] = st
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, st := range sts {
		if err := st.loadGroups(); err != nil {
			return err
		}
		st.reportIntegrity()
	}
	return nil
}

// Close stops background work, checkpoints every group's offsets, and
// closes every station. Blocked pulls return ErrClosed.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
	err := b.commitOffsets()
	b.closeStations()
	if cerr := b.meta.Close(); err == nil {
		err = cerr
	}
	b.lock.Close()
	return err
}

func (b *Broker) now() time.Time { return b.opts.Clock() }

// stationList returns the broker's stations by name, taken under b.mu so
// that callers work on them without holding it.
func (b *Broker) stationList() []*station {
	b.mu.RLock()
	sts := make([]*station, 0, len(b.stations))
	for _, st := range b.stations {
		sts = append(sts, st)
	}
	b.mu.RUnlock()
	slices.SortFunc(sts, func(a, b *station) int { return strings.Compare(a.name, b.name) })
	return sts
}

// pendingRoom is how many more deliveries may await ack server-wide.
func (b *Broker) pendingRoom() int {
	return int(max(0, b.opts.MaxPendingBytes/PendingEntryBytes-b.pendingEntries.Load()))
}

// Connectors is the part of the broker's metadata file that keeps
// connector definitions and source checkpoints, for the connector host.
func (b *Broker) Connectors() meta.ConnectorStore { return b.connectorsDB }

func (b *Broker) station(name string) (*station, error) {
	b.mu.RLock()
	st, ok := b.stations[name]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("station %s: %w", quote(name), ErrStationNotFound)
	}
	return st, nil
}

// CreateStation creates a station with cfg, filling defaults, and returns
// the stored settings. Its disk work holds no lock other stations need.
func (b *Broker) CreateStation(ctx context.Context, cfg StationConfig) (StationConfig, error) {
	cfg = cfg.withDefaults(b.opts.MaxMessageBytes)
	if err := cfg.validate(); err != nil {
		return StationConfig{}, err
	}
	if err := b.checkReplicas(cfg.Name, cfg.Replicas); err != nil {
		return StationConfig{}, err
	}
	cfg.CreatedAt = b.now().UTC()
	if r := b.opts.Replicator; r != nil {
		if err := checkReplicable(cfg); err != nil {
			return StationConfig{}, err
		}
		return r.ReplicateStation(ctx, StationChange{Op: OpCreateStation, Config: cfg})
	}
	return b.createStationLocal(ctx, cfg)
}

func (b *Broker) createStationLocal(ctx context.Context, cfg StationConfig) (StationConfig, error) {
	defer b.ops.Lock(cfg.Name)()
	if err := ctx.Err(); err != nil {
		return StationConfig{}, err
	}
	if _, err := b.station(cfg.Name); err == nil {
		return StationConfig{}, fmt.Errorf("station %q: %w", cfg.Name, ErrStationExists)
	} else if !errors.Is(err, ErrStationNotFound) {
		return StationConfig{}, err
	}
	st, err := b.createStation(cfg)
	if err != nil {
		return StationConfig{}, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		st.close()
		return StationConfig{}, ErrClosed
	}
	b.stations[cfg.Name] = st
	b.mu.Unlock()
	b.log.Info("station created", "station", cfg.Name, "partitions", cfg.Partitions, "storage", cfg.Storage, "fsync", cfg.Fsync)
	return cfg, nil
}

// createStation makes a station's directory and metadata. The caller holds
// its name in b.ops.
func (b *Broker) createStation(cfg StationConfig) (*station, error) {
	dir := b.stationDir(cfg.Name)
	if err := b.opts.FS.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("station %q: clear leftover directory: %w", cfg.Name, err)
	}
	st, err := b.openStation(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.putStation(cfg); err != nil {
		st.close()
		b.opts.FS.RemoveAll(dir)
		return nil, err
	}
	return st, nil
}

func (b *Broker) putStation(cfg StationConfig) error {
	v, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := b.stationsDB.PutStation(cfg.Name, v); err != nil {
		return fmt.Errorf("station %q: store metadata: %w", cfg.Name, err)
	}
	return nil
}

func (b *Broker) stationDir(name string) string {
	return filepath.Join(b.opts.DataDir, "stations", name)
}

// Station returns a station's settings and statistics.
func (b *Broker) Station(name string) (StationConfig, StationStats, error) {
	st, err := b.station(name)
	if err != nil {
		return StationConfig{}, StationStats{}, err
	}
	return st.config(), st.stats(), nil
}

// Stations returns every station's settings and statistics, by name.
func (b *Broker) Stations() ([]StationConfig, []StationStats) {
	sts := b.stationList()
	cfgs := make([]StationConfig, len(sts))
	stats := make([]StationStats, len(sts))
	for i, st := range sts {
		cfgs[i], stats[i] = st.config(), st.stats()
	}
	return cfgs, stats
}

// StationUpdate lists the settings UpdateStation may change; nil fields
// stay as they are.
type StationUpdate struct {
	Retention         *Retention
	DedupWindow       *time.Duration
	DeadLetterStation *string
	MaxDeliveries     *uint32
	MaxMessageBytes   *uint32
	// Partitions grows the station to this many partitions; it cannot
	// shrink (see growPartitions for what growing does).
	Partitions *uint32
	// Replicas must be a count the broker supports (see Broker.Replicas).
	Replicas *uint32
}

// UpdateStation changes a station's mutable settings.
func (b *Broker) UpdateStation(ctx context.Context, name string, u StationUpdate) (StationConfig, error) {
	if u.Replicas != nil {
		if err := b.checkReplicas(name, *u.Replicas); err != nil {
			return StationConfig{}, err
		}
	}
	if r := b.opts.Replicator; r != nil {
		return r.ReplicateStation(ctx, StationChange{Op: OpUpdateStation, Name: name, Update: &u})
	}
	return b.updateStationLocal(ctx, name, u)
}

func (b *Broker) updateStationLocal(ctx context.Context, name string, u StationUpdate) (StationConfig, error) {
	defer b.ops.Lock(name)()
	if err := ctx.Err(); err != nil {
		return StationConfig{}, err
	}
	st, err := b.station(name)
	if err != nil {
		return StationConfig{}, err
	}
	cfg := st.config()
	if u.Retention != nil {
		cfg.Retention = *u.Retention
	}
	if u.DedupWindow != nil {
		cfg.DedupWindow = *u.DedupWindow
	}
	if u.DeadLetterStation != nil {
		cfg.DeadLetterStation = *u.DeadLetterStation
	}
	if u.MaxDeliveries != nil {
		cfg.MaxDeliveries = *u.MaxDeliveries
	}
	if u.MaxMessageBytes != nil {
		cfg.MaxMessageBytes = *u.MaxMessageBytes
	}
	if u.Replicas != nil {
		cfg.Replicas = *u.Replicas
	}
	grow := false
	if u.Partitions != nil && *u.Partitions != cfg.Partitions {
		if *u.Partitions < cfg.Partitions {
			return StationConfig{}, fieldErr("partitions", "can only grow: the station has %d, got %d", cfg.Partitions, *u.Partitions)
		}
		cfg.Partitions, grow = *u.Partitions, true
	}
	cfg = cfg.withDefaults(b.opts.MaxMessageBytes)
	if err := cfg.validate(); err != nil {
		return StationConfig{}, err
	}
	if grow {
		if err := b.growPartitions(st, cfg); err != nil {
			return StationConfig{}, err
		}
		return cfg, nil
	}
	if err := b.putStation(cfg); err != nil {
		return StationConfig{}, err
	}
	st.setConfig(cfg)
	return cfg, nil
}

// DeleteStation deletes a station, its messages and its groups. A station
// that other stations name as their dead-letter station is refused with
// ErrStationInUse naming them, unless force is set; they then get it back,
// empty, on their next dead letter.
func (b *Broker) DeleteStation(ctx context.Context, name string, force bool) error {
	if r := b.opts.Replicator; r != nil {
		_, err := r.ReplicateStation(ctx, StationChange{Op: OpDeleteStation, Name: name, Force: force})
		return err
	}
	return b.deleteStationLocal(ctx, name, force)
}

func (b *Broker) deleteStationLocal(ctx context.Context, name string, force bool) error {
	defer b.ops.Lock(name)()
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := b.station(name)
	if err != nil {
		return err
	}
	if users := b.deadLetterUsers(name); len(users) > 0 && !force {
		return fmt.Errorf("station %q is the dead-letter station of %s; change theirs first or delete with force: %w",
			name, quoteList(users), ErrStationInUse)
	}
	if err := b.stationsDB.DeleteStation(name); err != nil {
		return fmt.Errorf("station %q: delete metadata: %w", name, err)
	}
	b.mu.Lock()
	delete(b.stations, name)
	b.mu.Unlock()
	st.close()
	b.metrics.forgetStation(name)
	if err := b.opts.FS.RemoveAll(b.stationDir(name)); err != nil {
		b.log.Warn("station deleted but its directory remains", "station", name, "err", err)
	}
	b.log.Info("station deleted", "station", name)
	return nil
}

// every runs fn every interval until the broker closes.
func (b *Broker) every(interval time.Duration, fn func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

func (b *Broker) commitOffsets() error {
	if b.opts.Replicator != nil && b.leading(context.Background()) != nil {
		return nil // a follower's groups are idle; the leader checkpoints
	}
	b.mu.RLock()
	var offs []meta.Offset
	var counts []meta.Deliveries
	var dirty []*group
	var per [][]meta.Offset
	for _, st := range b.stations {
		for _, g := range st.groupList() {
			o, ds := g.dirtyOffsets()
			if ds != nil {
				counts = append(counts, *ds)
			}
			if len(o) > 0 {
				offs = append(offs, o...)
				dirty = append(dirty, g)
				per = append(per, o)
			}
		}
	}
	b.mu.RUnlock()
	if err := b.groupsDB.CommitOffsets(offs, counts...); err != nil {
		for _, g := range dirty {
			g.markDirty()
		}
		return err
	}
	for i, g := range dirty {
		g.checkpointed(per[i])
	}
	return nil
}

// EnforceRetention runs retention on every station now, and dead-letters
// expired deliveries of groups that nobody pulls from.
func (b *Broker) EnforceRetention() {
	sts := b.stationList()
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.RetentionInterval)
	defer cancel()
	now := b.now()
	for _, st := range sts {
		st.enforceRetention(ctx, now)
		for _, g := range st.groupList() {
			g.sweep(ctx, now)
		}
	}
}
