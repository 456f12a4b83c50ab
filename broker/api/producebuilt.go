package api

import (
	"context"

	"github.com/junctionhq/junction/broker"
)

// produceRequest queues a ProduceStream request: as the batch it was
// decoded into when it was (see streamRequest), else message by message.
func (s *messageService) produceRequest(ctx context.Context, req *streamRequest) (*broker.PendingProduce, error) {
	if req.built == nil {
		return s.produceAsync(ctx, req.GetStation(), req.GetMessages())
	}
	p, ok, err := s.b.ProduceBuiltAsync(ctx, req.Station, req.built)
	if ok {
		return p, err
	}
	msgs := getMessages(req.built.Len())
	defer putMessages(msgs)
	i := 0
	for key, value := range req.built.All() {
		msgs[i] = broker.Message{Key: key, Value: value}
		i++
	}
	return s.b.ProduceAsync(ctx, req.Station, msgs)
}
