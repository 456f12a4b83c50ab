package cluster

import (
	"strings"
	"testing"
)

func TestParseDialOverrides(t *testing.T) {
	got, err := ParseDialOverrides("n2=127.0.0.1:1/127.0.0.1:2, n3=/127.0.0.1:3")
	if err != nil {
		t.Fatal(err)
	}
	if got["n2"] != (DialOverride{Raft: "127.0.0.1:1", API: "127.0.0.1:2"}) || got["n3"] != (DialOverride{API: "127.0.0.1:3"}) || len(got) != 2 {
		t.Errorf("parsed %v", got)
	}
	if got, err := ParseDialOverrides(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"n2":                       "want ID=RAFT/API",
		"=127.0.0.1:1/":            "want ID=RAFT/API",
		"n2=127.0.0.1:1":           "want RAFT/API",
		"n2=localhost/":            `"localhost" is not host:port`,
		"n2=/:1":                   `":1" is not host:port`,
		"n2=a:1/b:2,n2=a:1/b:2":    "given twice",
		strings.Repeat("n=/,", 65): "over 64",
	} {
		if _, err := ParseDialOverrides(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDialOverrides(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func FuzzParseDialOverrides(f *testing.F) {
	f.Add("n2=127.0.0.1:1/127.0.0.1:2,n3=/[::1]:3")
	f.Add("a=/")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDialOverrides(s)
		if err != nil {
			return
		}
		if len(got) > maxDialOverrides {
			t.Fatalf("%d overrides", len(got))
		}
		for id, o := range got {
			if id == "" || o.Raft != "" && !hostPort(o.Raft) || o.API != "" && !hostPort(o.API) {
				t.Fatalf("accepted %q: %q=%+v", s, id, o)
			}
		}
	})
}
