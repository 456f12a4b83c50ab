package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/junctionhq/junction/broker"
)

// TestForwardedErrorsKeepTheirIdentity: a broker error a forwarded call
// met on the leader matches the same sentinel on the follower, so the
// connector host branches on it as on a local one.
func TestForwardedErrorsKeepTheirIdentity(t *testing.T) {
	for kind, target := range fwdKinds {
		e := encodeFwdError(fmt.Errorf("group g: %w", target))
		if e.Kind != kind {
			t.Errorf("%v encoded as %q, want %q", target, e.Kind, kind)
		}
		if err := e.err(); !errors.Is(err, target) {
			t.Errorf("%q decoded as %v, which does not match %v", kind, err, target)
		}
	}
	e := encodeFwdError(&broker.NotLeaderError{Leader: "127.0.0.1:7400"})
	var nl *broker.NotLeaderError
	if err := e.err(); !errors.As(err, &nl) || nl.Leader != "127.0.0.1:7400" {
		t.Errorf("not-leader round trip: %v", err)
	}
	unknown := encodeFwdError(fmt.Errorf("%w: lost", broker.ErrOutcomeUnknown))
	if err := unknown.err(); !errors.Is(err, broker.ErrOutcomeUnknown) || errors.Is(err, broker.ErrNotLeader) {
		t.Errorf("outcome unknown round trip: %v", err)
	}
	if err := encodeFwdError(errors.New("disk full")).err(); err == nil || err.Error() != "leader: disk full" {
		t.Errorf("other error round trip: %v", err)
	}
}

// TestForwardedDeliveriesKeepNilAndEmpty: a record's nil key stays nil
// and an empty value stays empty through a forwarded pull.
func TestForwardedDeliveriesKeepNilAndEmpty(t *testing.T) {
	in := []broker.Delivery{{Partition: 1, DeliveryCount: 2, Record: broker.Record{Offset: 7, Timestamp: 42, Key: nil, Value: []byte{},
		Headers: []broker.Header{{Key: "h", Value: []byte{0, 1}}}}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []broker.Delivery
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	r := out[0].Record
	if r.Key != nil || r.Value == nil || len(r.Value) != 0 || r.Offset != 7 || r.Timestamp != 42 || out[0].DeliveryCount != 2 ||
		len(r.Headers) != 1 || string(r.Headers[0].Value) != "\x00\x01" {
		t.Errorf("round trip: %+v", out[0])
	}
}

// FuzzDecodeForward: whatever a member sends the cluster port's forward
// path, decoding it fails cleanly or yields the operation's request.
func FuzzDecodeForward(f *testing.F) {
	f.Add("produce", []byte(`{"station":"orders","messages":[{"Key":null,"Value":"aGk=","ID":"m1"}]}`))
	f.Add("pull-batches", []byte(`{"station":"orders","group":"g","pull":{"Max":10,"MaxWait":1000000000}}`))
	f.Add("ack-ranges", []byte(`{"station":"orders","group":"g","ranges":[{"Partition":0,"From":3,"To":5}]}`))
	f.Add("checkpoint", []byte(`{"name":"files","position":"e30="}`))
	f.Add("nope", []byte(`{}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req, err := decodeForward(op, bytes.NewReader(body))
		if err != nil {
			if req != nil {
				t.Fatalf("a request with the error %v", err)
			}
			return
		}
		switch req.(type) {
		case *fwdProduce, *fwdGroup, *fwdCheckpoint:
		default:
			t.Fatalf("decoded %T", req)
		}
	})
}

// FuzzForwardError: a leader's error answer decodes to an error whatever
// its bytes.
func FuzzForwardError(f *testing.F) {
	f.Add([]byte(`{"error":"x","kind":"group-exists"}`))
	f.Add([]byte(`{"error":"x","kind":"not-leader","leader":"127.0.0.1:7400"}`))
	f.Add([]byte(`{"kind":"unheard-of"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var fe fwdError
		if json.Unmarshal(body, &fe) != nil {
			return
		}
		if fe.err() == nil {
			t.Fatal("no error")
		}
	})
}
