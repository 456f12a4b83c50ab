package jsonl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/sdk/connector"
)

// referenceEncode is the encoding/json rendering of a line, which Append
// must match byte for byte: files written before and after it look alike.
func referenceEncode(station string, r connector.Record) []byte {
	l := line{Station: station, Partition: r.Partition, Offset: r.Offset}
	if !r.Timestamp.IsZero() {
		l.Timestamp = r.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	if len(r.Key) > 0 {
		l.Key, l.KeyEncoding = referenceEmbed(r.Key)
	}
	l.Value, l.ValueEncoding = referenceEmbed(r.Value)
	for _, h := range r.Headers {
		v, enc := referenceEmbed(h.Value)
		l.Headers = append(l.Headers, header{Key: h.Key, Value: v, ValueEncoding: enc})
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func referenceEmbed(b []byte) (json.RawMessage, string) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return json.RawMessage("null"), ""
	case json.Valid(b) && trimmed[0] != '"':
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil {
			return buf.Bytes(), ""
		}
	case utf8.Valid(b):
	default:
		s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
		return s, "base64"
	}
	s, _ := json.Marshal(string(b))
	return s, ""
}

var appendCases = []string{
	``, ` `, `{}`, `[]`, ` { "a" : [ 1 , -2.5e+3 , true , false , null ] } `,
	`{"a":"<b>&amp;</b>"}`, "[\"\u2028\u2029\"]", `"just a string"`, ` "spaced string" `,
	`123`, `-0`, `01`, `1.`, `1e`, `-`, `tru`, `nul`, `[1,]`, `{"a":1,}`, `{"a"}`, `{1:2}`,
	`["\u00e9\n\t\"\\\/"]`, `["\x"]`, `["\u12"]`, "[\"\x01\"]", "[\"\xff\"]",
	"plain text", "tab\there", "bell\x07", "<script>&", "\xff\xfe", "caf\u00e9", "\u2028",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	string(make([]byte, 128)),
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, v := range appendCases {
		for _, r := range []connector.Record{
			{Value: []byte(v)},
			{Key: []byte(v), Value: []byte(v), Partition: 7, Offset: 1 << 40, Timestamp: ts,
				Headers: []connector.Header{{Key: v, Value: []byte(v)}, {Key: "<&>\xff", Value: nil}}},
		} {
			for _, station := range []string{"", "orders", "a\"b<"} {
				want := referenceEncode(station, r)
				if got := Append(nil, station, r); !bytes.Equal(got, want) {
					t.Fatalf("Append(%q, %q):\n got %s\nwant %s", station, v, got, want)
				}
			}
		}
	}
}

func TestAppendExtendsBuffer(t *testing.T) {
	buf := []byte("prefix\n")
	buf = Append(buf, "s", connector.Record{Value: []byte(`{"a":1}`)})
	buf = Append(buf, "s", connector.Record{Value: []byte(`not json`), Offset: 1})
	want := "prefix\n" + `{"station":"s","partition":0,"offset":0,"value":{"a":1}}` + "\n" +
		`{"station":"s","partition":0,"offset":1,"value":"not json"}` + "\n"
	if string(buf) != want {
		t.Fatalf("got %s\nwant %s", buf, want)
	}
}

func FuzzAppend(f *testing.F) {
	for _, v := range appendCases[:len(appendCases)-3] {
		f.Add("orders", []byte(v), []byte(v), "h", []byte(v), int64(1764417600123456789))
	}
	f.Fuzz(func(t *testing.T, station string, key, value []byte, hkey string, hvalue []byte, ts int64) {
		r := connector.Record{Key: key, Value: value, Partition: uint32(ts), Offset: uint64(ts)}
		if ts != 0 {
			r.Timestamp = time.Unix(0, ts)
		}
		if hkey != "" {
			r.Headers = []connector.Header{{Key: hkey, Value: hvalue}}
		}
		want := referenceEncode(station, r)
		got := Append(nil, station, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("Append differs from encoding/json:\n got %s\nwant %s", got, want)
		}
		if _, err := Decode(got); err != nil {
			t.Fatalf("line does not decode: %v\n%s", err, got)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	recs := map[string]connector.Record{
		"json":  {Key: []byte("customer-42"), Value: []byte(`{"order":1234,"amount":8638,"note":"` + strings.Repeat("x", 150) + `"}`), Timestamp: time.Now()},
		"text":  {Value: bytes.Repeat([]byte("abcdefgh"), 16), Timestamp: time.Now()},
		"zeros": {Value: make([]byte, 128), Timestamp: time.Now()},
	}
	for name, r := range recs {
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(r.Key) + len(r.Value)))
			for range b.N {
				buf = Append(buf[:0], "orders", r)
			}
		})
	}
}

// BenchmarkReference is BenchmarkAppend through encoding/json, for comparison.
func BenchmarkReference(b *testing.B) {
	recs := map[string]connector.Record{
		"json":  {Key: []byte("customer-42"), Value: []byte(`{"order":1234,"amount":8638,"note":"` + strings.Repeat("x", 150) + `"}`), Timestamp: time.Now()},
		"text":  {Value: bytes.Repeat([]byte("abcdefgh"), 16), Timestamp: time.Now()},
		"zeros": {Value: make([]byte, 128), Timestamp: time.Now()},
	}
	for name, r := range recs {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				referenceEncode("orders", r)
			}
		})
	}
}
