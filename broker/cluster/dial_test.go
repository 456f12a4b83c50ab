package cluster

import (
	"strings"
	"testing"
)

func TestParseDialOverrides(t *testing.T) {
	got, err := ParseDialOverrides("n2=127.0.0.1:1, n3=[::1]:3")
	if err != nil {
		t.Fatal(err)
	}
	if got["n2"] != "127.0.0.1:1" || got["n3"] != "[::1]:3" || len(got) != 2 {
		t.Errorf("parsed %v", got)
	}
	if got, err := ParseDialOverrides(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"n2":                         "want ID=HOST:PORT",
		"=127.0.0.1:1":               "want ID=HOST:PORT",
		"n2=localhost":               `"localhost" is not host:port`,
		"n2=:1":                      `":1" is not host:port`,
		"n2=a:1,n2=a:1":              "given twice",
		strings.Repeat("n=a:1,", 65): "over 64",
	} {
		if _, err := ParseDialOverrides(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDialOverrides(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func FuzzParseDialOverrides(f *testing.F) {
	f.Add("n2=127.0.0.1:1,n3=[::1]:3")
	f.Add("a=b:1")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDialOverrides(s)
		if err != nil {
			return
		}
		if len(got) > maxDialOverrides {
			t.Fatalf("%d overrides", len(got))
		}
		for id, a := range got {
			if id == "" || !hostPort(a) {
				t.Fatalf("accepted %q: %q=%q", s, id, a)
			}
		}
	})
}
