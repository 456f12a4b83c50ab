package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// The dedup snapshot lets a clean restart skip re-reading the dedup window
// from the logs: at close the index is written beside the partitions, and
// at open it is loaded and only what the logs gained after it is read. It
// is removed once loaded, so a crash falls back to reading the window.
//
// Format (big-endian): magic "JDDS", version u8 (1), partitions u32, per
// partition the next offset u64 at snapshot time, entries u32, per entry
// idLen u16, id, partition u32, offset u64, expires i64 (unix ns), and a
// CRC-32C of everything before it.
const (
	dedupSnapshotName    = "dedup.snapshot"
	dedupSnapshotMagic   = "JDDS"
	dedupSnapshotVersion = 1
	// maxDedupSnapshotBytes bounds the file read at open.
	maxDedupSnapshotBytes = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// dedupSnapshot is the decoded snapshot.
type dedupSnapshot struct {
	next    []uint64
	entries []snapshotEntry
}

type snapshotEntry struct {
	id      string
	result  ProduceResult
	expires time.Time
}

func encodeDedupSnapshot(s dedupSnapshot) []byte {
	b := append([]byte(dedupSnapshotMagic), dedupSnapshotVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.next)))
	for _, n := range s.next {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.entries)))
	for _, e := range s.entries {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.id)))
		b = append(b, e.id...)
		b = binary.BigEndian.AppendUint32(b, e.result.Partition)
		b = binary.BigEndian.AppendUint64(b, e.result.Offset)
		b = binary.BigEndian.AppendUint64(b, uint64(e.expires.UnixNano()))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// decodeDedupSnapshot parses and validates a snapshot: checksum, version,
// at most MaxPartitions partitions, ids of 1 to MaxMessageIDBytes bytes on
// partitions that exist.
func decodeDedupSnapshot(b []byte) (dedupSnapshot, error) {
	var s dedupSnapshot
	if len(b) < len(dedupSnapshotMagic)+1+4+4+4 || string(b[:4]) != dedupSnapshotMagic {
		return s, errors.New("not a dedup snapshot")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return s, errors.New("checksum mismatch")
	}
	if body[4] != dedupSnapshotVersion {
		return s, fmt.Errorf("unknown version %d", body[4])
	}
	p := 5
	need := func(n int) bool { return len(body)-p >= n }
	parts := binary.BigEndian.Uint32(body[p:])
	p += 4
	if parts == 0 || parts > MaxPartitions || !need(int(parts)*8+4) {
		return s, fmt.Errorf("bad partition count %d", parts)
	}
	s.next = make([]uint64, parts)
	for i := range s.next {
		s.next[i] = binary.BigEndian.Uint64(body[p:])
		p += 8
	}
	n := binary.BigEndian.Uint32(body[p:])
	p += 4
	if uint64(n)*23 > uint64(len(body)-p) {
		return s, fmt.Errorf("entry count %d exceeds the file", n)
	}
	s.entries = make([]snapshotEntry, 0, n)
	for i := range n {
		if !need(2) {
			return s, fmt.Errorf("entry %d: truncated", i)
		}
		l := int(binary.BigEndian.Uint16(body[p:]))
		p += 2
		if l == 0 || l > MaxMessageIDBytes || !need(l+20) {
			return s, fmt.Errorf("entry %d: bad id length %d", i, l)
		}
		e := snapshotEntry{id: string(body[p : p+l])}
		p += l
		e.result.Partition = binary.BigEndian.Uint32(body[p:])
		e.result.Offset = binary.BigEndian.Uint64(body[p+4:])
		e.expires = time.Unix(0, int64(binary.BigEndian.Uint64(body[p+12:])))
		p += 20
		if e.result.Partition >= parts {
			return s, fmt.Errorf("entry %d: partition %d of %d", i, e.result.Partition, parts)
		}
		s.entries = append(s.entries, e)
	}
	if p != len(body) {
		return s, fmt.Errorf("%d trailing bytes", len(body)-p)
	}
	return s, nil
}

func (st *station) dedupSnapshotPath() string {
	return filepath.Join(st.b.stationDir(st.name), dedupSnapshotName)
}

// saveDedup writes the dedup snapshot of a disk station with a dedup
// window. Call it before the logs close, with appends finished.
func (st *station) saveDedup() {
	cfg := st.config()
	if cfg.DedupWindow <= 0 || cfg.Storage != StorageDisk || len(st.logs) != int(cfg.Partitions) {
		return
	}
	// Offsets first: an append that completes after this is read back
	// from the log at open.
	s := dedupSnapshot{next: make([]uint64, len(st.logs))}
	for i, l := range st.logs {
		_, s.next[i] = l.Bounds()
	}
	d := st.dedup
	d.mu.Lock()
	for _, b := range d.buckets {
		for _, e := range b.ids[b.head:] {
			select {
			case <-e.done:
			default:
				continue // not stored yet
			}
			if !e.failed && d.entries[e.id] == e {
				s.entries = append(s.entries, snapshotEntry{id: e.id, result: e.result, expires: e.expires})
			}
		}
	}
	d.mu.Unlock()
	path := st.dedupSnapshotPath()
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, encodeDedupSnapshot(s), 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		st.b.log.Warn("save dedup snapshot; the next start reads the dedup window from the log", "station", st.name, "err", err)
	}
}

// loadDedup loads and removes the dedup snapshot, returning per partition
// the offset from which the log must still be read, or nil without a
// usable snapshot.
func (st *station) loadDedup(now time.Time, window time.Duration) []uint64 {
	path := st.dedupSnapshotPath()
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	defer os.Remove(path)
	if fi.Size() > maxDedupSnapshotBytes {
		st.b.log.Warn("ignoring oversized dedup snapshot", "file", path, "bytes", fi.Size())
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		st.b.log.Warn("read dedup snapshot; reading the dedup window from the log", "file", path, "err", err)
		return nil
	}
	s, err := decodeDedupSnapshot(b)
	if err == nil && len(s.next) != len(st.logs) {
		err = fmt.Errorf("%d partitions, the station has %d", len(s.next), len(st.logs))
	}
	if err != nil {
		st.b.log.Warn("ignoring bad dedup snapshot; reading the dedup window from the log", "file", path, "err", err)
		return nil
	}
	for i, l := range st.logs {
		if _, next := l.Bounds(); s.next[i] > next {
			st.b.log.Warn("ignoring dedup snapshot ahead of the log; reading the dedup window from the log", "file", path, "partition", i)
			return nil
		}
	}
	limit := now.Add(window)
	for _, e := range s.entries {
		if e.expires.After(now) {
			exp := e.expires
			if exp.After(limit) {
				exp = limit
			}
			st.dedup.restore(e.id, e.result, exp, window, now)
		}
	}
	return s.next
}
