// Package client is the Go SDK for the Junction message broker.
//
// A [Client] talks to one broker over the gRPC protocol (HTTP/2 without TLS
// for http:// addresses). It manages stations and consumer groups, produces
// messages synchronously with [Client.Produce] or pipelined with a
// [Producer], and consumes them in consumer groups with a [Consumer].
//
// Every method is safe for concurrent use unless its doc says otherwise.
// Errors from the broker are [*Error] values that match the sentinel errors
// of this package with [errors.Is]:
//
//	if errors.Is(err, client.ErrStationNotFound) { ... }
//
// A minimal round trip:
//
//	c, err := client.Connect(ctx, "localhost:7400")
//	if err != nil { ... }
//	defer c.Close()
//	_, err = c.CreateStation(ctx, client.StationConfig{Name: "orders"})
//	p := c.NewProducer("orders", client.ProducerOptions{})
//	p.Send(ctx, client.Message{Value: []byte("hello")})
//	err = p.Close(ctx) // waits for every message to be acknowledged
//	cons := c.NewConsumer("orders", "billing", client.ConsumerOptions{})
//	err = cons.Run(ctx, func(ctx context.Context, d *client.Delivery) error {
//		fmt.Printf("%s\n", d.Value)
//		return nil // acknowledged; a non-nil error nacks it
//	})
package client
