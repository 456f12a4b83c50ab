package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// outcome is what a producer learnt of one produce.
type outcome int

const (
	ok      outcome = iota // acknowledged at a partition and offset
	failed                 // definitely not stored
	unknown                // may or may not be stored
)

// op is one produce of one (producer, seq) message and its outcome.
type op struct {
	producer, seq int
	outcome       outcome
	partition     uint32
	offset        uint64
}

func value(producer, seq int) string { return fmt.Sprintf("p%d-%d", producer, seq) }

func parseValue(v []byte) (producer, seq int, good bool) {
	p, s, found := strings.Cut(strings.TrimPrefix(string(v), "p"), "-")
	if !found || !strings.HasPrefix(string(v), "p") {
		return 0, 0, false
	}
	pi, err1 := strconv.Atoi(p)
	si, err2 := strconv.Atoi(s)
	return pi, si, err1 == nil && err2 == nil
}

// workload runs producers against a cluster, each writing its own
// sequence of messages (keyed by producer, so one partition keeps each
// producer's order) one at a time, following the leader.
type workload struct {
	c       *cluster
	station string

	mu     sync.Mutex
	target string // API address of the node believed to lead
	ops    []op
	okN    int

	stop chan struct{}
	wg   sync.WaitGroup
}

// startWorkload starts producers; the first withIDs of them give each
// message an id and retry a produce of unknown outcome with it until the
// outcome is known, relying on the station's dedup window to keep one copy.
func startWorkload(c *cluster, station string, producers, withIDs int) *workload {
	w := &workload{c: c, station: station, stop: make(chan struct{})}
	for p := range producers {
		w.wg.Add(1)
		go w.produce(p, p < withIDs)
	}
	return w
}

func (w *workload) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.okN
}

// awaitAcked waits until n more produces than now are acknowledged.
func (w *workload) awaitAcked(n int) {
	w.c.t.Helper()
	want := w.acked() + n
	w.c.await(90*time.Second, fmt.Sprintf("%d acknowledged produces", want), func() bool { return w.acked() >= want })
}

func (w *workload) halt() []op {
	close(w.stop)
	w.wg.Wait()
	return w.ops
}

func (w *workload) leaderAddr() string {
	w.mu.Lock()
	t := w.target
	w.mu.Unlock()
	if t != "" {
		return t
	}
	if l := w.c.leaderNow(); l != nil {
		w.mu.Lock()
		w.target = l.api
		w.mu.Unlock()
		return l.api
	}
	return ""
}

func (w *workload) setTarget(addr string) {
	w.mu.Lock()
	w.target = addr
	w.mu.Unlock()
}

func (w *workload) produce(producer int, withIDs bool) {
	defer w.wg.Done()
	key := []byte("p" + strconv.Itoa(producer))
	retrying := false
	for seq := 0; ; seq++ {
		select {
		case <-w.stop:
			if !retrying {
				return
			}
		default:
		}
		addr := w.leaderAddr()
		if addr == "" {
			seq--
			time.Sleep(20 * time.Millisecond)
			continue
		}
		mc := junctionv1connect.NewMessageServiceClient(w.c.hc, "http://"+addr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		msg := &v1.Message{Key: key, Value: []byte(value(producer, seq))}
		if withIDs {
			msg.Id = value(producer, seq)
		}
		resp, err := mc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: w.station, Messages: []*v1.Message{msg}}))
		cancel()
		o := op{producer: producer, seq: seq}
		switch {
		case err == nil:
			r := resp.Msg.Results[0]
			o.outcome, o.partition, o.offset = ok, r.Partition, r.Offset
		case definitelyNotStored(err):
			o.outcome = failed
		default:
			o.outcome = unknown
		}
		if err != nil {
			w.setTarget(leaderOf(err))
			time.Sleep(20 * time.Millisecond)
		}
		// A retry refused outright says nothing of the attempts before
		// it, one of which may be stored: go on retrying with the id
		// until an attempt is answered.
		retrying = withIDs && (o.outcome == unknown || retrying && o.outcome == failed)
		if retrying {
			seq-- // the same message, id and all
			continue
		}
		w.mu.Lock()
		w.ops = append(w.ops, o)
		if o.outcome == ok {
			w.okN++
		}
		w.mu.Unlock()
	}
}

// definitelyNotStored reports errors the broker gives only for produces
// it did not store: a follower's refusal before proposing, and an append
// the cluster rejected for landing at the wrong offset.
func definitelyNotStored(err error) bool {
	msg := err.Error()
	if strings.Contains(msg, "outcome unknown") {
		return false
	}
	return leaderOf(err) != "" && strings.Contains(msg, "not the cluster leader") ||
		strings.Contains(msg, "offset conflict") ||
		connect.CodeOf(err) == connect.CodeUnavailable && strings.Contains(msg, "not the cluster leader")
}

// check heals nothing itself: every node must be up. It waits until the
// nodes agree on every partition's length, then verifies the history.
func check(t *testing.T, c *cluster, station string, partitions uint32, ops []op) {
	t.Helper()
	for p := range partitions {
		c.await(90*time.Second, fmt.Sprintf("every node to hold all of partition %d", p), func() bool {
			var first uint64
			for i, n := range c.alive() {
				next, err := c.nextOffset(n, station, p)
				if err != nil {
					return false
				}
				if i == 0 {
					first = next
				} else if next != first {
					return false
				}
			}
			return true
		})
	}
	type at struct {
		partition uint32
		offset    uint64
	}
	stored := make(map[at]*v1.Delivery)
	where := make(map[string]at)
	for p := range partitions {
		var ref []*v1.Delivery
		for i, n := range c.alive() {
			recs, next, err := c.readAll(n, station, p)
			if err != nil {
				t.Fatalf("read partition %d on %s: %v", p, n.id, err)
			}
			if uint64(len(recs)) != next {
				t.Errorf("partition %d on %s: %d records below next offset %d", p, n.id, len(recs), next)
			}
			if i == 0 {
				ref = recs
				continue
			}
			if len(recs) != len(ref) {
				t.Errorf("partition %d: %s holds %d records, %s %d", p, c.alive()[0].id, len(ref), n.id, len(recs))
				continue
			}
			for j := range recs {
				if !sameRecord(recs[j], ref[j]) {
					t.Errorf("partition %d offset %d differs between %s and %s", p, recs[j].Offset, c.alive()[0].id, n.id)
					break
				}
			}
		}
		// Each producer's records, in offset order, have rising seqs.
		lastSeq := make(map[int]int)
		for j, r := range ref {
			if r.Offset != uint64(j) {
				t.Errorf("partition %d: record %d has offset %d", p, j, r.Offset)
			}
			stored[at{p, r.Offset}] = r
			v := string(r.Value)
			if prev, dup := where[v]; dup {
				t.Errorf("%s stored twice: partition %d offsets %d and %d", v, prev.partition, prev.offset, r.Offset)
			}
			where[v] = at{p, r.Offset}
			prod, seq, good := parseValue(r.Value)
			if !good {
				t.Errorf("partition %d offset %d holds %q, which no producer wrote", p, r.Offset, r.Value)
				continue
			}
			if last, seen := lastSeq[prod]; seen && seq <= last {
				t.Errorf("producer %d: seq %d stored after seq %d (partition %d offset %d)", prod, seq, last, p, r.Offset)
			}
			lastSeq[prod] = seq
		}
	}
	var nOK, nFailed, nUnknown, unknownStored int
	lastOK := make(map[int]op)
	for _, o := range ops {
		v := value(o.producer, o.seq)
		_, present := where[v]
		switch o.outcome {
		case ok:
			nOK++
			r := stored[at{o.partition, o.offset}]
			if r == nil || string(r.Value) != v {
				got := "nothing"
				if r != nil {
					got = fmt.Sprintf("%q", r.Value)
				}
				t.Errorf("acknowledged %s at partition %d offset %d, which holds %s", v, o.partition, o.offset, got)
			}
			if prev, seen := lastOK[o.producer]; seen && (o.partition != prev.partition || o.offset <= prev.offset) {
				t.Errorf("producer %d: seq %d acknowledged at %d/%d, after seq %d at %d/%d", o.producer, o.seq, o.partition, o.offset, prev.seq, prev.partition, prev.offset)
			}
			lastOK[o.producer] = o
		case failed:
			nFailed++
			if present {
				t.Errorf("%s failed definitely, yet is stored at %v", v, where[v])
			}
		case unknown:
			nUnknown++
			if present {
				unknownStored++
			}
		}
	}
	t.Logf("history: %d acknowledged, %d failed, %d unknown (%d of them stored); %d records in all", nOK, nFailed, nUnknown, unknownStored, len(where))
	if nOK == 0 {
		t.Error("no produce was acknowledged")
	}
}
