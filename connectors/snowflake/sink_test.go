package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

func TestSinkConformance(t *testing.T) {
	connectortest.RunSink(t, definition(), func(t *testing.T) connectortest.SinkHarness {
		f := sffake.New(t)
		return connectortest.SinkHarness{
			Config:   fakeConfig(f, nil),
			ReadBack: func() ([]connector.Record, error) { return readVariant(f, table) },
		}
	})
}

// TestSinkExactlyOnce writes, reopens, replays an overlapping range and
// checks the table holds every record once, with Open reporting what the
// offsets table says.
func TestSinkExactlyOnce(t *testing.T) {
	for _, auth := range []string{"key", "password"} {
		t.Run(auth, func(t *testing.T) {
			f := sffake.New(t)
			extra := map[string]any{}
			if auth == "password" {
				extra = map[string]any{"private_key": nil, "password": sffake.Password}
			}
			cfg := fakeConfig(f, extra)
			recs := records(300, 3)
			snk, durable := openSink(t, cfg, "orders", 3)
			for p, off := range durable {
				if off != 0 {
					t.Fatalf("fresh table: durable[%d] = %d", p, off)
				}
			}
			write(t, snk, recs[:100])
			write(t, snk, recs[50:200]) // a replay overlapping what is there
			if err := snk.Teardown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := f.Sessions(); n != 0 {
				t.Fatalf("%d sessions open after Teardown, want it to log out", n)
			}

			snk, durable = openSink(t, cfg, "orders", 3)
			for p := range uint32(3) {
				if durable[p] != 200/3+boolInt(p < 200%3) {
					t.Fatalf("after reopen: durable = %v", durable)
				}
			}
			write(t, snk, recs[150:])
			got, err := readVariant(f, table)
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, got, recs)
			// Another station's offsets are its own.
			_, durable = openSink(t, cfg, "other", 3)
			for p, off := range durable {
				if off != 0 {
					t.Fatalf("other station: durable[%d] = %d", p, off)
				}
			}
		})
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestSinkLostCommitReply runs the COMMIT but loses its reply (every
// attempt of the driver), so Write fails not knowing whether the batch is
// in; the retried Write must then not insert it again.
func TestSinkLostCommitReply(t *testing.T) {
	for _, committed := range []bool{true, false} {
		name := "committed"
		if !committed {
			name = "not-committed"
		}
		t.Run(name, func(t *testing.T) {
			f := sffake.New(t)
			snk, _ := openSink(t, fakeConfig(f, nil), "orders", 2)
			recs := records(40, 2)
			write(t, snk, recs[:10])
			action := sffake.LoseReply
			if !committed {
				action = sffake.Fail5xx
			}
			f.SetFault(func(sqlText string) sffake.Action {
				if sqlText == "COMMIT" {
					return action
				}
				return sffake.Serve
			})
			err := snk.Write(context.Background(), recs[10:30])
			if err == nil || !errors.Is(err, connector.ErrRetryable) {
				t.Fatalf("Write with the COMMIT reply lost: %v, want a retryable error", err)
			}
			f.SetFault(nil)
			write(t, snk, recs[10:30]) // the host's retry
			write(t, snk, recs[30:])
			got, err := readVariant(f, table)
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, got, recs)
		})
	}
}

// TestSinkInsertSQL pins the statement forms: one bound JSON array,
// flattened; no VALUES, no array binds.
func TestSinkInsertSQL(t *testing.T) {
	f := sffake.New(t)
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"max_statement_bytes": "1KiB"}), "orders", 1)
	write(t, snk, records(100, 1))
	inserts := 0
	for _, q := range f.Statements() {
		if strings.Contains(q, "VALUES") {
			t.Errorf("statement with VALUES: %s", q)
		}
		if strings.HasPrefix(q, "INSERT INTO "+table) {
			inserts++
			if !strings.HasSuffix(q, "FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))") {
				t.Errorf("insert form: %s", q)
			}
		}
	}
	if inserts < 10 {
		t.Errorf("%d INSERTs for 100 records of ~150 bytes with max_statement_bytes 1KiB; want the batch split", inserts)
	}
	got, err := readVariant(f, table)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, records(100, 1))
}
