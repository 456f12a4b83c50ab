package catalog

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOriginRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "acme", "1.2.3", "acme")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	pub, err := GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeOrigin(bin, originOf(Source{Name: "./cat", Location: "./cat", Key: pub})); err != nil {
		t.Fatal(err)
	}
	o, ok, err := ReadOrigin(dir, "acme", "1.2.3")
	abs, _ := filepath.Abs("./cat")
	if err != nil || !ok || o.Location != abs || o.Catalog != abs || o.Key != pub.String() {
		t.Fatalf("ReadOrigin: %+v %v %v", o, ok, err)
	}
	s, err := o.Source()
	if err != nil || s.Key.String() != pub.String() {
		t.Fatalf("Source: %+v %v", s, err)
	}
	if _, ok, err := ReadOrigin(dir, "other", "1.0.0"); ok || err != nil {
		t.Fatalf("no origin: %v %v", ok, err)
	}
	if _, _, err := ReadOrigin(dir, "../x", "1.0.0"); err == nil {
		t.Fatal("a bad name was read")
	}
}

func FuzzParseOrigin(f *testing.F) {
	f.Add([]byte(`{"catalog":"community","location":"https://c.example.com/"}`))
	f.Add([]byte(`{"catalog":"x","location":"/tmp/c","key":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseOrigin(b)
		if err == nil && o.Location == "" {
			t.Fatalf("accepted %q without a location", b)
		}
	})
}
