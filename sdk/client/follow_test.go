package client

import (
	"errors"
	"io"
	"net"
	"testing"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func reasonError(code connect.Code, reason junctionv1.ErrorReason) error {
	err := connect.NewError(code, errors.New("x"))
	d, _ := connect.NewErrorDetail(&junctionv1.ErrorInfo{Reason: reason, Leader: "127.0.0.1:1"})
	err.AddDetail(d)
	return err
}

func TestRetryableAfterALeaderChange(t *testing.T) {
	dial := connect.NewError(connect.CodeUnavailable, &net.OpError{Op: "dial", Err: errors.New("connection refused")})
	reset := connect.NewError(connect.CodeUnavailable, &net.OpError{Op: "read", Err: errors.New("connection reset by peer")})
	cases := []struct {
		name       string
		err        error
		repeatable bool
		want       bool
	}{
		{"refused by a follower", reasonError(connect.CodeUnavailable, junctionv1.ErrorReason_ERROR_REASON_NOT_LEADER), false, true},
		{"never sent", dial, false, true},
		{"unknown outcome, not repeatable", reasonError(connect.CodeUnavailable, junctionv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN), false, false},
		{"unknown outcome, repeatable", reasonError(connect.CodeUnavailable, junctionv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN), true, true},
		{"connection reset, not repeatable", reset, false, false},
		{"connection reset, repeatable", reset, true, true},
		{"stream ended, repeatable", io.EOF, true, true},
		{"station missing", reasonError(connect.CodeNotFound, junctionv1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND), true, false},
		{"bad request", reasonError(connect.CodeInvalidArgument, junctionv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT), true, false},
	}
	for _, c := range cases {
		if got := retryable(c.err, c.repeatable); got != c.want {
			t.Errorf("%s: retryable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRepeatable(t *testing.T) {
	withIDs := &junctionv1.ProduceRequest{Messages: []*junctionv1.Message{{Id: "a"}, {Id: "b"}}}
	someIDs := &junctionv1.ProduceRequest{Messages: []*junctionv1.Message{{Id: "a"}, {}}}
	cases := []struct {
		procedure string
		msg       any
		want      bool
	}{
		{"/junction.v1.MessageService/Produce", withIDs, true},
		{"/junction.v1.MessageService/Produce", someIDs, false},
		{"/junction.v1.MessageService/Pull", nil, true},
		{"/junction.v1.MessageService/Ack", nil, true},
		{"/junction.v1.StationService/ListStations", nil, true},
		{"/junction.v1.StationService/CreateStation", nil, false},
		{"/junction.v1.StationService/DeleteStation", nil, false},
	}
	for _, c := range cases {
		if got := repeatable(c.procedure, c.msg); got != c.want {
			t.Errorf("%s: repeatable = %v, want %v", c.procedure, got, c.want)
		}
	}
}
