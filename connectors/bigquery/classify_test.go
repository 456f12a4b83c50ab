package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/junctionhq/junction/sdk/connector"
)

func TestClassify(t *testing.T) {
	fatal, retry := connector.ErrFatal, connector.ErrRetryable
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "accessDenied"}}}, fatal},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "rateLimitExceeded"}}}, retry},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}}, retry},
		{&googleapi.Error{Code: 404}, fatal},
		{&googleapi.Error{Code: 400, Errors: []googleapi.ErrorItem{{Reason: "invalidQuery"}}}, fatal},
		{&googleapi.Error{Code: 429}, retry},
		{&googleapi.Error{Code: 503}, retry},
		{status.Error(codes.PermissionDenied, "denied"), fatal},
		{status.Error(codes.Unavailable, "later"), retry},
		{status.Error(codes.ResourceExhausted, "quota"), retry},
		{errors.New("connection reset"), retry},
		{context.Canceled, context.Canceled},
	} {
		got := classify(fmt.Errorf("call: %w", tc.err))
		if !errors.Is(got, tc.want) {
			t.Errorf("classify(%v) = %v, want it to be %v", tc.err, got, tc.want)
		}
		if tc.want == fatal && errors.Is(got, retry) || tc.want == retry && errors.Is(got, fatal) {
			t.Errorf("classify(%v) = %v has both kinds", tc.err, got)
		}
	}
}

func TestJSONValue(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		text    bool
	}{
		{`{"a": 1}`, `{"a": 1}`, true},
		{`"quoted"`, `"\"quoted\""`, true},
		{`plain`, `"plain"`, true},
		{"{\"a\":\"\xff\"}", ``, false},
		{``, ``, false},
		{"\xff\x00", ``, false},
		{` 12 `, ` 12 `, true},
	} {
		out, text := jsonValue([]byte(tc.in))
		if string(out) != tc.out || text != tc.text {
			t.Errorf("jsonValue(%q) = %q, %v; want %q, %v", tc.in, out, text, tc.out, tc.text)
		}
	}
}
