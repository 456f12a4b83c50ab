package cluster

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeConnectorWrite(t *testing.T) {
	good, err := encodeJSON(kindConnectors, connectorWrite{Op: "checkpoint", Name: "orders-to-s3", Value: []byte(`{"p":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := decodeConnectorWrite(good[1:])
	if err != nil || w.Op != "checkpoint" || w.Name != "orders-to-s3" || !bytes.Equal(w.Value, []byte(`{"p":1}`)) {
		t.Fatalf("decode %s: %+v, %v", good, w, err)
	}
	for _, bad := range []string{`{`, `{"op":"drop","name":"a"}`, `{"op":"put","name":""}`, `{"op":"put","name":"../x"}`} {
		if _, err := decodeConnectorWrite([]byte(bad)); !errors.Is(err, errBadEntry) {
			t.Errorf("decode %s: %v, want errBadEntry", bad, err)
		}
	}
}

func FuzzDecodeConnectorWrite(f *testing.F) {
	f.Add([]byte(`{"op":"put","name":"a","value":"e30="}`))
	f.Add([]byte(`{"op":"delete","name":"orders.sink"}`))
	f.Add([]byte(`{"op":"checkpoint","name":"x","value":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decodeConnectorWrite(data)
		if err != nil {
			return
		}
		enc, err := encodeJSON(kindConnectors, w)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeConnectorWrite(enc[1:])
		if err != nil || again.Op != w.Op || again.Name != w.Name || !bytes.Equal(again.Value, w.Value) {
			t.Fatalf("re-decoding %+v: %+v, %v", w, again, err)
		}
	})
}
