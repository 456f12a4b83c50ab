package cluster

import (
	"errors"
	"slices"
	"testing"

	"github.com/junctionhq/junction/broker"
)

func TestAppendEntryRoundTrip(t *testing.T) {
	recs := []broker.Record{
		{Timestamp: 1, Key: []byte("k"), Value: []byte("v"), Headers: []broker.Header{{Key: "h", Value: []byte("x")}}},
		{Timestamp: 2, Value: []byte("second")},
	}
	e, err := decodeAppend(encodeAppend("orders", 3, 41, recs))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.records()
	if err != nil {
		t.Fatal(err)
	}
	if e.station != "orders" || e.partition != 3 || e.base != 41 || e.count != 2 || len(got) != 2 {
		t.Fatalf("decoded %+v", e)
	}
	for i, r := range got {
		if r.Offset != 41+uint64(i) || r.Timestamp != recs[i].Timestamp || string(r.Value) != string(recs[i].Value) {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if !slices.Equal(got[0].Key, []byte("k")) || got[0].Headers[0].Key != "h" {
		t.Errorf("record 0 lost its key or header: %+v", got[0])
	}
}

func TestDecodeAppendRefusesDamage(t *testing.T) {
	good := encodeAppend("orders", 0, 0, []broker.Record{{Timestamp: 1, Value: []byte("hello")}})
	for name, data := range map[string][]byte{
		"empty":          nil,
		"other kind":     append([]byte{kindStation}, good[1:]...),
		"short name":     good[:4],
		"flipped header": flip(good, 1+2+len("orders")+4+16), // the batch magic,
		"trailing byte":  append(slices.Clone(good), 0),
		"bad name":       encodeAppend("../x", 0, 0, []broker.Record{{Timestamp: 1}}),
	} {
		if _, err := decodeAppend(data); !errors.Is(err, errBadEntry) {
			t.Errorf("%s: got %v, want errBadEntry", name, err)
		}
	}
	// A flipped byte among the records passes the header check; the
	// checksum catches it when the records are decoded (or when a log
	// that takes encoded batches stores it).
	e, err := decodeAppend(flip(good, len(good)-2))
	if err != nil {
		t.Fatalf("flipped record byte: decodeAppend: %v", err)
	}
	if _, err := e.records(); !errors.Is(err, errBadEntry) {
		t.Errorf("flipped record byte: records: %v, want errBadEntry", err)
	}
}

func flip(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x40
	return b
}

func FuzzDecodeAppend(f *testing.F) {
	f.Add(encodeAppend("orders", 1, 7, []broker.Record{{Timestamp: 5, Key: []byte("a"), Value: []byte("b")}}))
	f.Add([]byte{kindAppend, 0, 1, 'x', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeAppend(data)
		if err != nil {
			return
		}
		recs, err := e.records()
		if err != nil {
			return
		}
		if len(recs) != int(e.count) {
			t.Fatalf("header counts %d records, %d decoded", e.count, len(recs))
		}
		again, err := decodeAppend(encodeAppend(e.station, e.partition, e.base, recs))
		if err != nil || again.base != e.base || again.count != e.count {
			t.Fatalf("re-encoding a decoded entry: %v", err)
		}
		if _, err := again.records(); err != nil {
			t.Fatalf("re-encoded entry: %v", err)
		}
	})
}
