package seglog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/junctionhq/junction/broker/vfs"
)

// stateName is the file beside the segments holding the log's high-water
// mark and the ranges declared lost. It is replaced atomically (written to
// a temporary file, fsynced, renamed) whenever a segment rolls, the log
// closes, or Repair declares offsets lost.
const stateName = "state.json"

// maxStateBytes bounds the state file read at Open, and maxLostRanges the
// ranges kept in it (the oldest are merged when there are more).
const (
	maxStateBytes = 1 << 20
	maxLostRanges = 1000
)

// logState is the content of the state file.
type logState struct {
	Version       int         `json:"version"`
	HighWaterMark uint64      `json:"high_water_mark"`
	Lost          []LostRange `json:"lost,omitempty"`
}

// decodeState parses and validates a state file: version 1, lost ranges
// non-empty, in order and not overlapping.
func decodeState(b []byte) (logState, error) {
	var s logState
	if len(b) > maxStateBytes {
		return s, fmt.Errorf("%d bytes, over the limit of %d", len(b), maxStateBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return logState{}, err
	}
	if s.Version != 1 {
		return logState{}, fmt.Errorf("unknown version %d", s.Version)
	}
	if len(s.Lost) > maxLostRanges {
		return logState{}, fmt.Errorf("%d lost ranges, over the limit of %d", len(s.Lost), maxLostRanges)
	}
	for i, r := range s.Lost {
		if r.From >= r.To {
			return logState{}, fmt.Errorf("lost range %d: [%d, %d) is empty", i, r.From, r.To)
		}
		if i > 0 && r.From < s.Lost[i-1].To {
			return logState{}, fmt.Errorf("lost range %d overlaps or precedes the one before", i)
		}
		if r.To > s.HighWaterMark {
			return logState{}, fmt.Errorf("lost range %d ends at %d, above the high-water mark %d", i, r.To, s.HighWaterMark)
		}
	}
	return s, nil
}

// loadState reads the state file into l. A missing file is a log that has
// never rolled; a malformed one is reported and ignored, which at worst
// reports damage again that Repair had settled.
func (l *Log) loadState() error {
	path := filepath.Join(l.opts.Dir, stateName)
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seglog: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("seglog: stat %s: %w", path, err)
	}
	if st.Size() > maxStateBytes {
		l.logger.Error("seglog: ignoring oversized state file", "file", path, "bytes", st.Size())
		return nil
	}
	b := make([]byte, st.Size())
	if err := readAt(f, b, 0); err != nil {
		return fmt.Errorf("seglog: read %s: %w", path, err)
	}
	s, err := decodeState(b)
	if err != nil {
		l.logger.Error("seglog: ignoring malformed state file; its high-water mark and lost ranges are unknown",
			"file", path, "err", err)
		return nil
	}
	l.hwm, l.lost = s.HighWaterMark, s.Lost
	return nil
}

// writeState raises the high-water mark to at least hwm and replaces the
// state file. Ranges wholly below the log's start are dropped.
func (l *Log) writeState(hwm uint64) error {
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	sync := l.opts.Sync != SyncNever
	tmp, err := l.writeStateTmp(hwm, sync)
	if err != nil {
		return err
	}
	return l.installState(tmp, sync)
}

// writeStateTmp raises the high-water mark to at least hwm and writes the
// state to a temporary file, fsynced if sync, whose path it returns.
// stateMu is held.
func (l *Log) writeStateTmp(hwm uint64, sync bool) (string, error) {
	l.mu.Lock()
	l.hwm = max(l.hwm, hwm)
	l.lost = slices.DeleteFunc(l.lost, func(r LostRange) bool { return r.To <= l.start })
	for len(l.lost) > maxLostRanges {
		// Merge the two oldest: the offsets between them stay passed over.
		l.lost[1].From, l.lost[1].Reason = l.lost[0].From, l.lost[0].Reason+"; "+l.lost[1].Reason
		l.lost = l.lost[1:]
	}
	s := logState{Version: 1, HighWaterMark: l.hwm, Lost: slices.Clone(l.lost)}
	l.mu.Unlock()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(l.opts.Dir, stateName) + ".tmp"
	f, err := l.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("seglog: write state: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil && sync {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return "", fmt.Errorf("seglog: write state %s: %w", tmp, err)
	}
	return tmp, nil
}

// installState renames the temporary state file tmp over the state file,
// and fsyncs the directory if syncDir. stateMu is held.
func (l *Log) installState(tmp string, syncDir bool) error {
	if err := l.fs.Rename(tmp, filepath.Join(l.opts.Dir, stateName)); err != nil {
		return fmt.Errorf("seglog: write state: %w", err)
	}
	if syncDir {
		if err := vfs.SyncDir(l.fs, l.opts.Dir); err != nil {
			return fmt.Errorf("seglog: write state: sync directory: %w", err)
		}
	}
	return nil
}

// addLost records [from, to) as lost, merging it with ranges it touches.
// l.mu is held (or the log is not yet shared).
func (l *Log) addLost(from, to uint64, reason string) {
	if from >= to {
		return
	}
	r := LostRange{From: from, To: to, At: l.now().UTC(), Reason: reason}
	out := l.lost[:0:0]
	for _, o := range l.lost {
		if o.To < r.From || o.From > r.To {
			out = append(out, o)
			continue
		}
		r.From, r.To = min(r.From, o.From), max(r.To, o.To)
		if o.Reason != reason {
			r.Reason = o.Reason + "; " + reason
		}
	}
	out = append(out, r)
	slices.SortFunc(out, func(a, b LostRange) int { return cmpU64(a.From, b.From) })
	l.lost = out
}
