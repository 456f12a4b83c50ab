// Package units parses and formats the byte sizes and durations that
// Junction's flags, configuration files and connector configs accept: 512,
// 64KiB, 8MiB, 1GB; 500ms, 30s, 24h, 7d. It is part of the sdk module so
// that the broker and every connector agree on the syntax; connector
// authors use connector.Size and time.Duration config fields instead.
package units

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$`)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1000, "m": 1000 * 1000, "mb": 1000 * 1000, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize parses a byte size such as 512, 64KiB, 8MiB or 1GB (KB, MB, GB
// and TB are powers of 1000; KiB, MiB, GiB and TiB powers of 1024).
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("want a size such as 512, 64KiB, 8MiB or 1GB, got %q", s)
	}
	mult, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q in %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", m[2], s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("want a size such as 512, 64KiB, 8MiB or 1GB, got %q", s)
	}
	v := f * mult
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	return int64(v), nil
}

// FormatSize renders n bytes with a binary unit: 8MiB, 1536B.
func FormatSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	v := float64(n)
	for i < len(units)-1 && v >= 1024 && math.Mod(v, 1024) == 0 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + units[i]
}

// HumanSize renders n bytes for people: 512B, 1.5KiB, 1.04MiB.
func HumanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n) / 1024
	i := 0
	for i < len(units)-1 && v >= 1024 {
		v /= 1024
		i++
	}
	prec := 2
	if v >= 100 {
		prec = 0
	} else if v >= 10 {
		prec = 1
	}
	num := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + units[i]
}

var daysRE = regexp.MustCompile(`^(?:([0-9]+)w)?(?:([0-9]+)d)?(.*)$`)

// maxDays keeps weeks and days within a time.Duration.
const maxDays = int64(math.MaxInt64 / int64(24*time.Hour))

// ParseDuration parses a Go duration, also accepting weeks and days in
// front: 2w, 7d, 1d12h, 1w3d. [FormatDuration] prints this form.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("want a duration such as 500ms, 30s, 5m, 24h, 7d or 2w, got %q", s)
	m := daysRE.FindStringSubmatch(s)
	if m == nil || m[0] == "" {
		return 0, bad
	}
	var days int64
	for i, per := range []int64{7, 1} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > maxDays/per || days+n*per > maxDays {
			return 0, bad
		}
		days += n * per
	}
	total := time.Duration(days) * 24 * time.Hour
	rest := m[3]
	if rest == "" {
		if m[1] == "" && m[2] == "" {
			return 0, bad
		}
		return total, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 || d > math.MaxInt64-total {
		return 0, bad
	}
	return total + d, nil
}
