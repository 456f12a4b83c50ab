package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestStartFlag(t *testing.T) {
	for in, want := range map[string]string{
		"earliest": "earliest", "latest": "latest", "17": "17", "2024-05-01T12:00:00+02:00": "2024-05-01T12:00:00+02:00",
	} {
		var f startFlag
		if err := f.Set(in); err != nil || f.String() != want {
			t.Errorf("--from %q: %q, %v", in, f.String(), err)
		}
	}
	var f startFlag
	if err := f.Set("yesterday"); err == nil {
		t.Error("--from yesterday accepted")
	}
}

func TestLineReader(t *testing.T) {
	in := "a\r\nbb\n\nlast"
	r := newLineReader(strings.NewReader(in), 10)
	var got []string
	var kept [][]byte
	for {
		l, err := r.next()
		if err != nil {
			break
		}
		got = append(got, string(l))
		kept = append(kept, l)
	}
	if strings.Join(got, "|") != "a|bb||last" {
		t.Fatalf("lines %q", got)
	}
	// Lines stay valid after later reads (the producer keeps them).
	if string(kept[0]) != "a" || string(kept[1]) != "bb" {
		t.Fatalf("earlier lines overwritten: %q", kept)
	}
	long := strings.Repeat("x", 300<<10) + "\nshort\n"
	r = newLineReader(strings.NewReader(long), 1<<20)
	if l, err := r.next(); err != nil || len(l) != 300<<10 {
		t.Fatalf("long line: %d, %v", len(l), err)
	}
	if l, err := r.next(); err != nil || string(l) != "short" {
		t.Fatalf("after long line: %q, %v", l, err)
	}
	r = newLineReader(strings.NewReader(strings.Repeat("x", 100)+"\n"), 10)
	if _, err := r.next(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("too long line: %v", err)
	}
}

// runCLI runs the CLI in-process and returns its stdout, stderr and exit
// status.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb, func(string) string { return "" })
	return out.String(), errb.String(), code
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"station", "create", "x", "--storage", "ssd"}, `--storage: must be disk or memory, got "ssd"`},
		{[]string{"station", "create", "x", "--fsync", "sometimes"}, `--fsync: must be always, interval, or never`},
		{[]string{"station", "create", "x", "--retention-bytes", "lots"}, `want a size`},
		{[]string{"station", "create", "x", "--retention-age", "forever"}, `want a duration`},
		{[]string{"station", "create", "x", "--partitions", "0"}, `--partitions: must be between 1`},
		{[]string{"station", "create"}, `takes 1 argument(s): NAME`},
		{[]string{"station", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"station", "list", "-o", "yaml"}, `--output: must be text or json`},
		{[]string{"consume", "orders"}, `--group is required`},
		{[]string{"consume", "orders", "-g", "g", "--from", "yesterday"}, `must be earliest, latest`},
		{[]string{"consume", "orders", "-g", "g", "--batch", "0"}, `--batch: must be between`},
		{[]string{"group", "reset", "orders", "g"}, `--to is required`},
		{[]string{"produce"}, `needs a STATION`},
		{[]string{"produce", "orders", "--header", "novalue"}, `--header: want key=value`},
		{[]string{"--nope"}, `unknown flag: --nope`},
		{[]string{"server", "--log-level", "loud"}, `--log-level: must be`},
	}
	for _, tc := range cases {
		out, errs, code := runCLI(t, "", tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) || !strings.HasPrefix(errs, "junction: ") || !strings.Contains(errs, "--help' for usage") {
			t.Errorf("junction %s: exit %d, stderr %q; want exit 2 with %q", strings.Join(tc.args, " "), code, errs, tc.want)
		}
		if out != "" {
			t.Errorf("junction %s: stdout %q", strings.Join(tc.args, " "), out)
		}
	}
}

func TestUnreachableServer(t *testing.T) {
	_, errs, code := runCLI(t, "", "--server", "127.0.0.1:1", "station", "list")
	if code != 1 || !strings.Contains(errs, "127.0.0.1:1") || !strings.Contains(errs, "is the broker running") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
