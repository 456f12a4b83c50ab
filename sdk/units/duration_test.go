package units

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	const day = 24 * time.Hour
	for in, want := range map[time.Duration]string{
		0: "0s", 30 * day: "30d", 14 * day: "2w", 36 * time.Hour: "1d12h", 90 * time.Minute: "1h30m",
		2 * time.Minute: "2m", time.Hour: "1h", 1500 * time.Millisecond: "1.5s", 7*day + 30*time.Second: "1w30s",
		10 * time.Second: "10s",
	} {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDurationRoundTrip checks that every duration ParseDuration accepts
// prints back as one it parses to the same value.
func FuzzDurationRoundTrip(f *testing.F) {
	for _, s := range []string{"30d", "2w", "1d12h", "1h30m", "500ms", "1w3d2h", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil || back != d {
			t.Fatalf("%q = %v prints as %q, which parses to %v, %v", s, d, out, back, err)
		}
	})
}
