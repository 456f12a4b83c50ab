package jsonl

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

func TestValueEncodings(t *testing.T) {
	for _, tc := range []struct {
		value []byte
		want  string
	}{
		{[]byte(`{"a": 1}`), `"value":{"a":1}`},
		{[]byte(`"quoted"`), `"value":"\"quoted\""`},
		{[]byte("text"), `"value":"text"`},
		{[]byte{0xff, 0x00}, `"value":"/wA=","value_encoding":"base64"`},
		{nil, `"value":null`},
	} {
		b, err := Encode("s", connector.Record{Value: tc.value})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(tc.want)) {
			t.Errorf("value %q: line %s, want it to contain %s", tc.value, b, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	r := connector.Record{
		Key: []byte{0xff}, Value: []byte("plain text"), Partition: 3, Offset: 42,
		Timestamp: time.Date(2026, 11, 25, 13, 0, 0, 5, time.UTC),
		Headers:   []connector.Header{{Key: "h", Value: []byte(`[1,2]`)}, {Key: "h", Value: []byte("again")}},
	}
	b, err := Encode("orders", r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, r)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"partition":1,"offset":2,"value":{"a":1},"headers":[{"key":"k","value":"v"}]}`))
	f.Add([]byte(`{"value":"/wA=","value_encoding":"base64"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		b, err := Encode("", r)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n%s", err, b)
		}
	})
}
