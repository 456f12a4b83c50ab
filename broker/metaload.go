package broker

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

// recordErr reports an invalid metadata record, naming the file and what
// to do about it.
func (b *Broker) recordErr(what string, err error) error {
	return fmt.Errorf("metadata file %s: %s: invalid record: %w; restore the file from a backup, or start the server with --recover-meta to rebuild what it can from the segment directories",
		b.meta.Path(), what, err)
}

// decodeStation decodes and validates a station record stored under name.
func decodeStation(name string, v []byte) (StationConfig, error) {
	var c StationConfig
	if err := json.Unmarshal(v, &c); err != nil {
		return c, err
	}
	if c.Name != name {
		return c, fmt.Errorf("stored under %q but names %q", name, c.Name)
	}
	if err := c.validate(); err != nil {
		return c, err
	}
	if c.MaxDeliveries == 0 || c.MaxMessageBytes == 0 {
		return c, fmt.Errorf("max_deliveries and max_message_bytes must be set")
	}
	return c, nil
}

// decodeGroup decodes and validates a consumer group record.
func decodeGroup(v []byte) (groupRecord, error) {
	var r groupRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, err
	}
	if r.Config.MaxAckPending == 0 {
		return r, fieldErr("config.max_ack_pending", "must be positive")
	}
	return r, r.Config.validate()
}

// rebuildMeta moves a damaged metadata file aside and rebuilds a fresh one
// from what can still be read of it and from the station directories:
// every directory under DATA/stations with partition directories 0..N-1
// becomes a station of N partitions with default settings unless a valid
// record of it survived. Consumer groups and offsets survive only with
// their station.
func rebuildMeta(opts Options) error {
	path := filepath.Join(opts.DataDir, "meta.db")
	store, rep, err := meta.Rebuild(path, meta.Keep{
		Station: func(name string, v []byte) error { _, err := decodeStation(name, v); return err },
		Group: func(_, g string, v []byte) error {
			if err := validateName("group", g); err != nil {
				return err
			}
			_, err := decodeGroup(v)
			return err
		},
	})
	if err != nil {
		return err
	}
	defer store.Close()
	log := opts.Logger
	for _, d := range rep.Dropped {
		log.Warn("recover metadata: left behind", "what", d)
	}
	kept := make(map[string]bool)
	if err := store.Stations(func(name string, _ []byte) error { kept[name] = true; return nil }); err != nil {
		return err
	}
	dirs, err := os.ReadDir(filepath.Join(opts.DataDir, "stations"))
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("recover metadata: list station directories: %w", err)
	}
	added := 0
	for _, d := range dirs {
		if !d.IsDir() || kept[d.Name()] || !ValidName(d.Name()) {
			continue
		}
		n := uint32(0)
		for n < MaxPartitions {
			if st, err := os.Stat(filepath.Join(opts.DataDir, "stations", d.Name(), strconv.Itoa(int(n)))); err != nil || !st.IsDir() {
				break
			}
			n++
		}
		if n == 0 {
			log.Warn("recover metadata: directory has no partitions; not a station", "dir", d.Name())
			continue
		}
		cfg := StationConfig{Name: d.Name(), Partitions: n}.withDefaults(opts.MaxMessageBytes)
		cfg.CreatedAt = time.Now().UTC()
		v, err := json.Marshal(cfg)
		if err != nil {
			return err
		}
		if err := store.PutStation(cfg.Name, v); err != nil {
			return fmt.Errorf("recover metadata: station %q: %w", cfg.Name, err)
		}
		added++
		log.Warn("recover metadata: station rebuilt from its directory with default settings; check retention, dead-letter station and dedup window",
			"station", cfg.Name, "partitions", n)
	}
	log.Warn("recover metadata: rebuilt the metadata file", "file", path, "damaged_file_kept_at", rep.Aside,
		"stations_kept", rep.Stations, "stations_from_directories", added, "groups", rep.Groups, "offsets", rep.Offsets,
		"connectors", rep.Connectors, "checkpoints", rep.Checkpoints, "left_behind", len(rep.Dropped))
	return nil
}
