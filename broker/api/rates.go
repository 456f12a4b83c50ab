package api

import (
	"context"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

const (
	// rateInterval is the least time between two samples.
	rateInterval = time.Second
	// rateHistory is how many samples each station keeps: with the
	// dashboard polling every 2s, about four minutes.
	rateHistory = 120
	// rateWindow is what the current rate averages over.
	rateWindow = 5 * time.Second
)

// rates samples the broker's counters when asked, never in the background:
// with nobody asking, it costs nothing.
type rates struct {
	now func() time.Time

	mu      sync.Mutex
	last    time.Time
	samples map[string][]rateSample // per station, oldest first, at most rateHistory
}

type rateSample struct {
	at time.Time
	c  broker.StationCounters
}

func newRates(now func() time.Time) *rates {
	return &rates{now: now, samples: map[string][]rateSample{}}
}

// sample records the counters if the last sample is old enough.
func (r *rates) sample(b *broker.Broker) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < rateInterval {
		return
	}
	r.last = now
	cs := b.Counters()
	for name := range r.samples {
		if _, ok := cs[name]; !ok {
			delete(r.samples, name)
		}
	}
	for name, c := range cs {
		ss := r.samples[name]
		if len(ss) > 0 && counterWentBack(ss[len(ss)-1].c, c) {
			ss = ss[:0] // the station was deleted and created again
		}
		if len(ss) == rateHistory {
			ss = append(ss[:0], ss[1:]...)
		}
		r.samples[name] = append(ss, rateSample{now, c})
	}
}

func counterWentBack(a, b broker.StationCounters) bool {
	return b.MessagesIn < a.MessagesIn || b.MessagesOut < a.MessagesOut || b.BytesIn < a.BytesIn || b.BytesOut < a.BytesOut
}

func rateBetween(a, b rateSample) *v1.RateSample {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return &v1.RateSample{Time: timestamppb.New(b.at)}
	}
	return &v1.RateSample{
		Time:        timestamppb.New(b.at),
		MessagesIn:  float64(b.c.MessagesIn-a.c.MessagesIn) / secs,
		MessagesOut: float64(b.c.MessagesOut-a.c.MessagesOut) / secs,
		BytesIn:     float64(b.c.BytesIn-a.c.BytesIn) / secs,
		BytesOut:    float64(b.c.BytesOut-a.c.BytesOut) / secs,
	}
}

func (r *rates) report(name string) *v1.StationRates {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &v1.StationRates{Station: name, Current: &v1.RateSample{Time: timestamppb.New(r.now())}}
	ss := r.samples[name]
	if len(ss) < 2 {
		return out
	}
	newest := ss[len(ss)-1]
	i := len(ss) - 2
	for i > 0 && newest.at.Sub(ss[i-1].at) <= rateWindow {
		i--
	}
	out.Current = rateBetween(ss[i], newest)
	out.History = make([]*v1.RateSample, 0, len(ss)-1)
	for j := 1; j < len(ss); j++ {
		out.History = append(out.History, rateBetween(ss[j-1], ss[j]))
	}
	return out
}

func (s *stationService) GetStationRates(ctx context.Context, req *connect.Request[v1.GetStationRatesRequest]) (*connect.Response[v1.GetStationRatesResponse], error) {
	names := req.Msg.GetStations()
	if len(names) > maxRateStations {
		return nil, Error(invalid("stations", "at most %d stations, got %d", maxRateStations, len(names)), "", "")
	}
	s.rates.sample(s.b)
	if len(names) == 0 {
		cfgs, _ := s.b.Stations()
		for _, c := range cfgs {
			names = append(names, c.Name)
		}
	} else {
		for _, n := range names {
			if _, _, err := s.b.Station(n); err != nil {
				return nil, Error(err, n, "")
			}
		}
		names = slices.Compact(slices.Sorted(slices.Values(names)))
	}
	resp := &v1.GetStationRatesResponse{}
	for _, n := range names {
		resp.Stations = append(resp.Stations, s.rates.report(n))
	}
	return connect.NewResponse(resp), nil
}

const maxRateStations = 1000
