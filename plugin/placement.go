package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/junctionhq/junction/broker"
)

// StateStandby is a connector this host keeps but does not run: in a
// cluster, another node runs it (see Options.Placement).
const StateStandby State = "standby"

// startHere starts run when the host's Placement lets it run here, and
// puts it in StateStandby otherwise.
func (h *Host) startHere(run *runner) {
	if h.place == nil || h.place(run.def) {
		run.start()
		return
	}
	run.setState(StateStandby)
}

// Reconcile brings the running connectors in line with the store and the
// Placement: connectors the store gained are added, those it lost are
// stopped and dropped, those whose definition or pause state changed are
// rebuilt, and each is started or stopped as Placement now says. A
// cluster node calls it when the store changed under it (another node
// applied a change) or when its leadership changed. A connector that
// starts here resumes from its checkpoint: a source's position in the
// store, a sink's consumer group offsets.
func (h *Host) Reconcile(ctx context.Context) error {
	names := make(map[string]bool)
	if err := h.store.Connectors(func(name string, _ []byte) error {
		names[name] = true
		return nil
	}); err != nil {
		return fmt.Errorf("reconcile connectors: %w", err)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return broker.ErrClosed
	}
	for name := range h.runners {
		names[name] = true
	}
	h.mu.Unlock()
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	slices.Sort(sorted)
	var errs []error
	for _, name := range sorted {
		unlock := h.ops.Lock(name)
		err := h.reconcileOne(ctx, name)
		unlock()
		if errors.Is(err, broker.ErrClosed) {
			return err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// reconcileOne reconciles one connector; the caller holds its ops lock,
// so the record read here is the latest.
func (h *Host) reconcileOne(ctx context.Context, name string) error {
	rec, stored, err := h.storedRecord(name)
	if err != nil {
		return err
	}
	cur, err := h.runner(name)
	if errors.Is(err, broker.ErrClosed) {
		return err
	}
	if !stored {
		if cur != nil {
			cur.stop()
			h.mu.Lock()
			delete(h.runners, name)
			h.mu.Unlock()
			h.log.Info("connector removed", "connector", name)
		}
		return nil
	}
	if cur != nil && cur.rec.File == rec.File && cur.rec.Paused == rec.Paused && bytes.Equal(cur.rec.Definition, rec.Definition) {
		if rec.Paused {
			return nil
		}
		want := h.place == nil || h.place(cur.def)
		switch st := cur.status().State; {
		case want && st == StateStandby:
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.closed {
				return broker.ErrClosed
			}
			h.log.Info("connector starts on this node", "connector", name)
			cur.start()
		case !want && st != StateStandby && st != StateFailed:
			h.log.Info("connector stops on this node: another runs it", "connector", name)
			cur.stop()
			cur.setState(StateStandby)
		}
		return nil
	}
	def, inst, err := h.prepare(ctx, rec.File, rec.Definition, false)
	if err != nil && def == nil {
		return err
	}
	run := newRunner(h, def, inst, rec)
	if cur != nil {
		cur.stop()
		run.restarts = cur.status().Restarts
	}
	if err != nil {
		h.log.Error("replicated connector cannot start", "connector", name, "err", err)
		run.fail(err)
		h.mu.Lock()
		h.runners[name] = run
		h.mu.Unlock()
		return nil
	}
	return h.install(run)
}

// storedRecord reads a connector's record from the store.
func (h *Host) storedRecord(name string) (record, bool, error) {
	var raw []byte
	err := h.store.Connectors(func(n string, v []byte) error {
		if n == name {
			raw = bytes.Clone(v)
		}
		return nil
	})
	if err != nil || raw == nil {
		return record{}, false, err
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return record{}, false, fmt.Errorf("decode stored definition: %w", err)
	}
	return r, true, nil
}
