package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep the memory of a parse bounded whatever file it is given.
const (
	maxLineBytes = 64 << 10
	maxResults   = 10_000
	maxFields    = 64
)

// Result is one RESULT line of junction-bench:
//
//	RESULT workload=produce-1p-128B junction=597209 nats=224043 unit=msgs/s ratio=2.67
//
// Every key=value field is kept; the well-known keys are also parsed.
type Result struct {
	Line     int    // line number in the bench output, from 1
	Workload string // required
	Unit     string // "" if absent
	Ratio    string // as printed ("2.67", "inf"), "" if absent
	// Stations is the number of stations a scale figure was measured with
	// (the stations=N field, or the trailing number of a scale-… workload
	// name), 0 for other figures.
	Stations int
	// Systems are the measured values in the order of the line: junction
	// and its peers (nats, benthos, …), every field with a numeric value
	// that is not one of the keys above.
	Systems []Value
	// Extra are the remaining fields, in order.
	Extra []Field
}

// Value is one system's figure on a RESULT line.
type Value struct {
	System string  // the key as printed: junction, nats, …
	Text   string  // the value as printed
	Num    float64 // the value parsed
}

// Field is a key=value field of a RESULT line.
type Field struct{ Key, Value string }

// Report is what a bench output holds for the performance section.
type Report struct {
	Machine string // the "machine:" line junction-bench prints, "" if none
	Results []Result
}

// Value returns the figure of system, if the line has one.
func (r Result) Value(system string) (Value, bool) {
	for _, v := range r.Systems {
		if v.System == system {
			return v, true
		}
	}
	return Value{}, false
}

// ErrNoResults is returned by Parse for an output without RESULT lines.
var ErrNoResults = errors.New("no RESULT lines (was the bench run with -compare, and did it finish?)")

var (
	keyRE   = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	scaleRE = regexp.MustCompile(`^scale-.*?-?([0-9]+)$`)
)

// Parse reads a junction-bench report and returns its RESULT lines and
// machine line. Other lines are ignored; a malformed RESULT line is an
// error naming its line number.
func Parse(r io.Reader) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if m, ok := strings.CutPrefix(line, "machine:"); ok && rep.Machine == "" {
			rep.Machine = strings.TrimSpace(m)
			continue
		}
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		if len(rep.Results) == maxResults {
			return rep, fmt.Errorf("line %d: more than %d RESULT lines", n, maxResults)
		}
		res, err := parseResult(rest)
		if err != nil {
			return rep, fmt.Errorf("line %d: %w", n, err)
		}
		res.Line = n
		rep.Results = append(rep.Results, res)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return rep, fmt.Errorf("line %d: longer than %d bytes", n+1, maxLineBytes)
		}
		return rep, err
	}
	if len(rep.Results) == 0 {
		return rep, ErrNoResults
	}
	return rep, nil
}

// parseResult parses the fields after "RESULT ".
func parseResult(s string) (Result, error) {
	var res Result
	if !utf8.ValidString(s) {
		return res, errors.New("RESULT line is not valid UTF-8")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' || r == '\uFFFE' || r == '\uFFFF' }); i >= 0 {
		return res, fmt.Errorf("RESULT line has a control character at byte %d", i)
	}
	fields := strings.Fields(s)
	if len(fields) > maxFields {
		return res, fmt.Errorf("RESULT line has %d fields, more than %d", len(fields), maxFields)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return res, fmt.Errorf("field %q: want key=value", f)
		}
		if !keyRE.MatchString(k) {
			return res, fmt.Errorf("field %q: key must be lower case letters, digits, '_', '.' or '-'", f)
		}
		if seen[k] {
			return res, fmt.Errorf("field %q: key %s given twice", f, k)
		}
		seen[k] = true
		switch k {
		case "workload":
			res.Workload = v
		case "unit":
			res.Unit = v
		case "ratio":
			res.Ratio = v
		case "vs1x":
			// A growth factor against the workload's first step, not a
			// system's figure: a note, never a series of its own.
			res.Extra = append(res.Extra, Field{k, v})
		case "stations":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return res, fmt.Errorf("field %q: want a positive number of stations", f)
			}
			res.Stations = n
		default:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x != x || x > 1e300 || x < -1e300 {
				res.Extra = append(res.Extra, Field{k, v})
				continue
			}
			res.Systems = append(res.Systems, Value{System: k, Text: v, Num: x})
		}
	}
	if res.Workload == "" {
		return res, errors.New("RESULT line without workload=")
	}
	if res.Stations == 0 {
		if m := scaleRE.FindStringSubmatch(res.Workload); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
				res.Stations = n
			}
		}
	}
	return res, nil
}

// messageSize returns the message size in bytes named by the suffix of a
// workload name (produce-1p-128B, consume-ack-1KiB), or 0.
func messageSize(workload string) (kind string, size int) {
	i := strings.LastIndexByte(workload, '-')
	if i <= 0 {
		return "", 0
	}
	kind, s := workload[:i], workload[i+1:]
	mult := 1
	switch {
	case strings.HasSuffix(s, "MiB"):
		s, mult = strings.TrimSuffix(s, "MiB"), 1<<20
	case strings.HasSuffix(s, "KiB"):
		s, mult = strings.TrimSuffix(s, "KiB"), 1<<10
	case strings.HasSuffix(s, "B"):
		s = strings.TrimSuffix(s, "B")
	default:
		return "", 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<20 {
		return "", 0
	}
	return kind, n * mult
}
