package connector

import (
	"strconv"

	"github.com/junctionhq/junction/sdk/units"
)

// Size is a number of bytes. In configuration it is written as a plain
// integer or with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB,
// GiB, TiB (powers of 1024), case-insensitive, such as "64MiB" or "1.5GB".
type Size int64

// Common sizes.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// ParseSize parses a size such as "8MiB", "512KB" or "1024", as the
// broker's own flags and files do.
func ParseSize(s string) (Size, error) {
	n, err := units.ParseSize(s)
	return Size(n), err
}

// String formats the size with the largest binary unit that divides it,
// such as "64MiB"; ParseSize reads it back.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		mult Size
	}{{"TiB", 1 << 40}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if s != 0 && s%u.mult == 0 {
			return strconv.FormatInt(int64(s/u.mult), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
