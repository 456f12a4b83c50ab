package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"station", "name", "batch", "dir", "format"}
	for got, want := range map[string]string{"staton": "station", "dri": "dir", "Formt": "format", "xyz": "", "banana": ""} {
		if s := Closest(got, known); s != want {
			t.Errorf("Closest(%q) = %q, want %q", got, s, want)
		}
	}
}
