// Package broker is the Junction broker core: stations on durable segment
// logs, producer deduplication, consumer groups with acks, redelivery and
// dead-lettering, retention, and the metadata that ties them together.
//
// A Broker owns a data directory:
//
//	DATA/LOCK                      held (flock) while a broker runs
//	DATA/meta.db                   bbolt: stations, groups, committed offsets
//	DATA/stations/NAME/PARTITION/  segment log of one partition
//
// Lock order: Broker.mu, then station.mu, then group.mu. Station and group
// notification mutexes are leaves.
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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/meta"
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
	// CommitInterval is how often acknowledged offsets are checkpointed to
	// the metadata file. A crash redelivers at most this much of a group's
	// acknowledged messages. Default 200ms.
	CommitInterval time.Duration
	// Logger receives the broker's log. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the broker's metrics. Default: none.
	Registerer prometheus.Registerer
}

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
	if o.CommitInterval == 0 {
		o.CommitInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
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
	opts    Options
	log     *slog.Logger
	meta    *meta.Store
	lock    *os.File
	metrics *metrics
	schemas *registry
	dlq     dlqLocks

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
	store, err := meta.Open(filepath.Join(opts.DataDir, "meta.db"), time.Second)
	if err != nil {
		lock.Close()
		if errors.Is(err, meta.ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrDataDirLocked, opts.DataDir)
		}
		return nil, err
	}
	b := &Broker{
		opts:     opts,
		log:      opts.Logger,
		meta:     store,
		lock:     lock,
		metrics:  newMetrics(),
		schemas:  newRegistry(),
		stations: make(map[string]*station),
		stop:     make(chan struct{}),
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
	err := b.meta.Stations(func(name string, v []byte) error {
		var c StationConfig
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("station %s: decode metadata: %w", name, err)
		}
		cfgs = append(cfgs, c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load stations: %w", err)
	}
	for _, c := range cfgs {
		st, err := b.openStation(c)
		if err != nil {
			return err
		}
		b.stations[c.Name] = st
		if err := st.loadGroups(); err != nil {
			return err
		}
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

func (b *Broker) closeStations() {
	for _, st := range b.stations {
		st.close()
	}
}

// Meta is the broker's metadata store, shared with the connector host for
// connector definitions and source checkpoints.
func (b *Broker) Meta() *meta.Store { return b.meta }

func (b *Broker) station(name string) (*station, error) {
	b.mu.RLock()
	st, ok := b.stations[name]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("station %q: %w", name, ErrStationNotFound)
	}
	return st, nil
}

// CreateStation creates a station with cfg, filling defaults, and returns
// the stored settings.
func (b *Broker) CreateStation(cfg StationConfig) (StationConfig, error) {
	cfg = cfg.withDefaults(b.opts.MaxMessageBytes)
	if err := cfg.validate(); err != nil {
		return StationConfig{}, err
	}
	cfg.CreatedAt = time.Now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return StationConfig{}, ErrClosed
	}
	if _, ok := b.stations[cfg.Name]; ok {
		return StationConfig{}, fmt.Errorf("station %q: %w", cfg.Name, ErrStationExists)
	}
	dir := b.stationDir(cfg.Name)
	if err := os.RemoveAll(dir); err != nil {
		return StationConfig{}, fmt.Errorf("station %q: clear leftover directory: %w", cfg.Name, err)
	}
	st, err := b.openStation(cfg)
	if err != nil {
		return StationConfig{}, err
	}
	if err := b.putStation(cfg); err != nil {
		st.close()
		os.RemoveAll(dir)
		return StationConfig{}, err
	}
	b.stations[cfg.Name] = st
	b.log.Info("station created", "station", cfg.Name, "partitions", cfg.Partitions, "storage", cfg.Storage, "fsync", cfg.Fsync)
	return cfg, nil
}

func (b *Broker) putStation(cfg StationConfig) error {
	v, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := b.meta.PutStation(cfg.Name, v); err != nil {
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
	b.mu.RLock()
	sts := make([]*station, 0, len(b.stations))
	for _, st := range b.stations {
		sts = append(sts, st)
	}
	b.mu.RUnlock()
	slices.SortFunc(sts, func(a, b *station) int { return strings.Compare(a.name, b.name) })
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
}

// UpdateStation changes a station's mutable settings.
func (b *Broker) UpdateStation(name string, u StationUpdate) (StationConfig, error) {
	st, err := b.station(name)
	if err != nil {
		return StationConfig{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
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
	cfg = cfg.withDefaults(b.opts.MaxMessageBytes)
	if err := cfg.validate(); err != nil {
		return StationConfig{}, err
	}
	if err := b.putStation(cfg); err != nil {
		return StationConfig{}, err
	}
	st.setConfig(cfg)
	return cfg, nil
}

// DeleteStation deletes a station, its messages and its groups.
func (b *Broker) DeleteStation(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.stations[name]
	if !ok {
		return fmt.Errorf("station %q: %w", name, ErrStationNotFound)
	}
	if err := b.meta.DeleteStation(name); err != nil {
		return fmt.Errorf("station %q: delete metadata: %w", name, err)
	}
	delete(b.stations, name)
	st.close()
	b.metrics.forgetStation(name)
	if err := os.RemoveAll(b.stationDir(name)); err != nil {
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
	b.mu.RLock()
	var offs []meta.Offset
	var dirty []*group
	var per [][]meta.Offset
	for _, st := range b.stations {
		for _, g := range st.groupList() {
			if o := g.dirtyOffsets(); len(o) > 0 {
				offs = append(offs, o...)
				dirty = append(dirty, g)
				per = append(per, o)
			}
		}
	}
	b.mu.RUnlock()
	if err := b.meta.CommitOffsets(offs); err != nil {
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
	b.mu.RLock()
	sts := make([]*station, 0, len(b.stations))
	for _, st := range b.stations {
		sts = append(sts, st)
	}
	b.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.RetentionInterval)
	defer cancel()
	now := time.Now()
	for _, st := range sts {
		st.enforceRetention(ctx, now)
		for _, g := range st.groupList() {
			g.sweep(ctx, now)
		}
	}
}
