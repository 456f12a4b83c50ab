package main

import (
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/units"
)

// sizeFlag is a pflag.Value for byte sizes.
type sizeFlag struct {
	v   int64
	set bool
}

func (f *sizeFlag) String() string {
	if !f.set {
		return ""
	}
	return units.FormatSize(f.v)
}

func (f *sizeFlag) Set(s string) error {
	v, err := units.ParseSize(s)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}

func (f *sizeFlag) Type() string { return "size" }

// durationFlag is a pflag.Value for durations that accepts days.
type durationFlag struct{ v time.Duration }

func (f *durationFlag) String() string {
	if f.v == 0 {
		return ""
	}
	return units.FormatDuration(f.v)
}

func (f *durationFlag) Set(s string) error {
	v, err := units.ParseDuration(s)
	if err != nil {
		return err
	}
	f.v = v
	return nil
}

func (f *durationFlag) Type() string { return "duration" }

// startFlag is a pflag.Value for earliest|latest|OFFSET|RFC3339.
type startFlag struct {
	v   client.StartPosition
	set bool
}

func (f *startFlag) String() string {
	if !f.set {
		return ""
	}
	return f.v.String()
}

func (f *startFlag) Set(s string) error {
	v, err := client.ParseStartPosition(s)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}

func (f *startFlag) Type() string { return "position" }

// oneOf checks a string flag against its allowed values.
func oneOf(flag, got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	last := allowed[len(allowed)-1]
	list := strings.Join(allowed[:len(allowed)-1], ", ")
	if len(allowed) > 2 {
		list += ","
	}
	return usagef("--%s: must be %s or %s, got %q", flag, list, last, got)
}
