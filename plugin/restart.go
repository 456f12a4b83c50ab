package plugin

// Restart stops a connector's plugin (gracefully, after its current batch)
// and starts it again with the same definition, as an operator's "turn it
// off and on": a failed connector gets a fresh run, a running one a fresh
// process. The restart count carries over; a paused connector stays paused.
func (h *Host) Restart(name string) (Status, error) {
	defer h.ops.Lock(name)()
	r, err := h.runner(name)
	if err != nil {
		return Status{}, err
	}
	r.stop()
	run := newRunner(h, r.def, r.inst, r.rec)
	run.restarts = r.status().Restarts
	if err := h.install(run); err != nil {
		return Status{}, err
	}
	h.log.Info("connector restarted", "connector", name)
	return run.status(), nil
}
