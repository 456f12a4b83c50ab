package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// Example produces messages to a station and consumes them in a consumer
// group. It needs a broker on localhost:7400 (junction server), so it is
// compiled but not run by go test.
func Example() {
	ctx := context.Background()
	c, err := client.Connect(ctx, "localhost:7400")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.CreateStation(ctx, client.StationConfig{Name: "orders", Retention: client.Retention{MaxAge: 7 * 24 * time.Hour}})
	if err != nil && !errors.Is(err, client.ErrStationExists) {
		log.Fatal(err)
	}

	p := c.NewProducer("orders", client.ProducerOptions{})
	for i := range 3 {
		p.SendFunc(ctx, client.Message{Value: fmt.Appendf(nil, "order %d", i)}, func(r client.Result, err error) {
			if err != nil {
				log.Printf("order %d failed: %v", i, err)
			}
		})
	}
	if err := p.Close(ctx); err != nil { // waits for every acknowledgement
		log.Fatal(err)
	}

	cons := c.NewConsumer("orders", "billing", client.ConsumerOptions{Start: client.Earliest})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = cons.Run(ctx, func(ctx context.Context, d *client.Delivery) error {
		fmt.Printf("%d: %s\n", d.Offset, d.Value)
		return nil // ack; an error would nack it for redelivery
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Fatal(err)
	}
}

// ExampleProducer_Send waits for one message's outcome.
func ExampleProducer_Send() {
	ctx := context.Background()
	c, err := client.Connect(ctx, "localhost:7400")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	p := c.NewProducer("orders", client.ProducerOptions{Linger: time.Millisecond})
	defer p.Close(ctx)
	r, err := p.Send(ctx, client.Message{Key: []byte("customer-42"), Value: []byte(`{"total":12}`)}).Wait(ctx)
	switch {
	case errors.Is(err, client.ErrStationNotFound):
		log.Fatal("create the station first: junction station create orders")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("stored at", r.Partition, r.Offset)
}
