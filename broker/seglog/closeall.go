package seglog

import (
	"reflect"

	"github.com/junctionhq/junction/broker/vfs"
	"github.com/junctionhq/junction/internal/par"
)

// CloseAll closes logs as Close closes each and returns one error per log,
// ErrClosed for a log that was already closed.
//
// Close makes a log's high-water mark durable with two fsyncs, one of its
// state file and one of its directory, and fsyncs of different files
// barely overlap on most disks: a broker stopping with thousands of
// partitions would spend seconds on them. CloseAll persists the marks of
// all logs on a filesystem that can be synced as a whole (vfs.FSSyncer)
// together instead: it writes every state file beside its log, syncs the
// filesystem, renames them into place, and syncs it again. A crash at any
// point leaves each state file old or new, never torn. When CloseAll
// returns, everything Close would have made durable is. A sync of the
// filesystem also writes back whatever else is dirty on it, so a data
// directory shared with heavy writers makes it slower.
func CloseAll(logs []*Log) []error {
	errs := make([]error, len(logs))
	closing := make([]bool, len(logs))
	for i, l := range logs {
		if closing[i] = l.markClosed(); !closing[i] {
			errs[i] = ErrClosed
		}
	}
	par.For(len(logs), closeParallelism, func(i int) {
		if closing[i] {
			errs[i] = logs[i].quiesce()
		}
	})
	batches := make(map[any][]int) // logs whose state is behind, by filesystem
	var single []int
	for i, l := range logs {
		if !closing[i] || errs[i] != nil || !l.stateBehind() {
			continue
		}
		_, syncer := l.fs.(vfs.FSSyncer)
		if syncer && l.opts.Sync != SyncNever && reflect.TypeOf(l.fs).Comparable() {
			batches[l.fs] = append(batches[l.fs], i)
		} else {
			single = append(single, i)
		}
	}
	par.For(len(single), closeParallelism, func(j int) {
		i := single[j]
		errs[i] = logs[i].writeState(logs[i].wnext)
	})
	for _, idx := range batches {
		writeStates(logs, idx, errs)
	}
	par.For(len(logs), closeParallelism, func(i int) {
		if closing[i] {
			errs[i] = logs[i].release(errs[i])
		}
	})
	return errs
}

// writeStates persists the high-water marks of logs[idx...], which share a
// filesystem that implements vfs.FSSyncer, with two syncs of it, and sets
// errs[i] for each log whose state it could not make durable. Should a
// sync fail, every log falls back to the fsyncs Close does.
func writeStates(logs []*Log, idx []int, errs []error) {
	tmps := make([]string, len(logs))
	var written []int
	var dirs []string
	for _, i := range idx {
		logs[i].stateMu.Lock()
	}
	defer func() {
		for _, i := range idx {
			logs[i].stateMu.Unlock()
		}
	}()
	par.For(len(idx), closeParallelism, func(j int) {
		i := idx[j]
		tmps[i], errs[i] = logs[i].writeStateTmp(logs[i].wnext, false)
	})
	for _, i := range idx {
		if errs[i] == nil {
			written = append(written, i)
			dirs = append(dirs, logs[i].opts.Dir)
		}
	}
	if len(written) == 0 {
		return
	}
	fs := logs[written[0]].fs
	if _, err := vfs.SyncFS(fs, dirs); err != nil {
		logs[written[0]].logger.Warn("seglog: sync of the filesystem failed; syncing each state file", "err", err)
		par.For(len(written), closeParallelism, func(j int) {
			i := written[j]
			if tmps[i], errs[i] = logs[i].writeStateTmp(logs[i].wnext, true); errs[i] == nil {
				errs[i] = logs[i].installState(tmps[i], true)
			}
		})
		return
	}
	par.For(len(written), closeParallelism, func(j int) {
		i := written[j]
		errs[i] = logs[i].installState(tmps[i], false)
	})
	if _, err := vfs.SyncFS(fs, dirs); err != nil {
		logs[written[0]].logger.Warn("seglog: sync of the filesystem failed; syncing each log directory", "err", err)
		par.For(len(written), closeParallelism, func(j int) {
			if i := written[j]; errs[i] == nil {
				errs[i] = vfs.SyncDir(logs[i].fs, logs[i].opts.Dir)
			}
		})
	}
}

// closeParallelism bounds the logs CloseAll works on at once.
const closeParallelism = 16
