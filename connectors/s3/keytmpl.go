package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// defaultKeyTemplate names objects so that they sort by partition, hour and
// offset, e.g. orders/partition=0/2026/11/25/13/00000000000000012000-00000000000000012999.jsonl.gz.
const defaultKeyTemplate = "{prefix}{station}/partition={partition}/{yyyy}/{mm}/{dd}/{hh}/{first_offset}-{last_offset}.{ext}"

// templateFields are the fields a key template may use.
var templateFields = []string{"prefix", "station", "partition", "yyyy", "mm", "dd", "hh", "first_offset", "last_offset", "ext"}

// keyTemplate is a parsed key_template: literal text and {field}s.
type keyTemplate struct {
	parts []tmplPart
}

type tmplPart struct {
	lit   string
	field string
}

// parseKeyTemplate parses and checks a template: every field must be
// known, and {partition} and {first_offset} must appear, since they make
// keys unique.
func parseKeyTemplate(s string) (*keyTemplate, error) {
	t := &keyTemplate{}
	seen := make(map[string]bool)
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if closeAt := strings.IndexByte(rest, '}'); closeAt >= 0 && (open < 0 || closeAt < open) {
			return nil, fmt.Errorf("unmatched } at %q", rest[closeAt:])
		}
		if open < 0 {
			t.parts = append(t.parts, tmplPart{lit: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed { at %q", rest[open:])
		}
		name := rest[open+1 : open+end]
		if !contains(templateFields, name) {
			return nil, fmt.Errorf("unknown field {%s}; the fields are {%s}", name, strings.Join(templateFields, "}, {"))
		}
		seen[name] = true
		t.parts = append(t.parts, tmplPart{field: name})
		rest = rest[open+end+1:]
	}
	for _, need := range []string{"partition", "first_offset"} {
		if !seen[need] {
			return nil, fmt.Errorf("must contain {%s}, which keeps keys unique", need)
		}
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// keyFields are the values a key is rendered from.
type keyFields struct {
	prefix, station, ext string
	partition            uint32
	first, last          uint64
	time                 time.Time
}

func (t *keyTemplate) render(f keyFields) string {
	var b strings.Builder
	ts := f.time.UTC()
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "prefix":
			b.WriteString(f.prefix)
		case "station":
			b.WriteString(f.station)
		case "partition":
			b.WriteString(strconv.FormatUint(uint64(f.partition), 10))
		case "yyyy":
			fmt.Fprintf(&b, "%04d", ts.Year())
		case "mm":
			fmt.Fprintf(&b, "%02d", int(ts.Month()))
		case "dd":
			fmt.Fprintf(&b, "%02d", ts.Day())
		case "hh":
			fmt.Fprintf(&b, "%02d", ts.Hour())
		case "first_offset":
			fmt.Fprintf(&b, "%020d", f.first)
		case "last_offset":
			fmt.Fprintf(&b, "%020d", f.last)
		case "ext":
			b.WriteString(f.ext)
		}
	}
	return b.String()
}

// matcher returns the literal prefix every key of the station starts with
// (to list them) and a regexp matching those keys, with the groups
// partition, first and, when the template has it, last. {ext} matches any
// extension, so objects written in another format are found too.
func (t *keyTemplate) matcher(prefix, station string) (string, *regexp.Regexp) {
	var lit strings.Builder
	literal := true
	var re strings.Builder
	re.WriteString("^")
	named := make(map[string]bool)
	for _, p := range t.parts {
		var text string
		switch p.field {
		case "":
			text = p.lit
		case "prefix":
			text = prefix
		case "station":
			text = station
		}
		if p.field == "" || p.field == "prefix" || p.field == "station" {
			re.WriteString(regexp.QuoteMeta(text))
			if literal {
				lit.WriteString(text)
			}
			continue
		}
		literal = false
		group := func(name, pattern string) {
			if named[name] {
				re.WriteString(pattern)
				return
			}
			named[name] = true
			re.WriteString("(?P<" + name + ">" + pattern + ")")
		}
		switch p.field {
		case "partition":
			group("partition", `\d+`)
		case "yyyy":
			re.WriteString(`\d{4}`)
		case "mm", "dd", "hh":
			re.WriteString(`\d{2}`)
		case "first_offset":
			group("first", `\d{20}`)
		case "last_offset":
			group("last", `\d{20}`)
		case "ext":
			re.WriteString(`[A-Za-z0-9.]+`)
		}
	}
	re.WriteString("$")
	return lit.String(), regexp.MustCompile(re.String())
}

// parsedKey is what a key says about the object.
type parsedKey struct {
	partition   uint32
	first, last uint64
	hasLast     bool
}

func parseKey(re *regexp.Regexp, key string) (parsedKey, bool) {
	m := re.FindStringSubmatch(key)
	if m == nil {
		return parsedKey{}, false
	}
	var k parsedKey
	for i, name := range re.SubexpNames() {
		switch name {
		case "partition":
			p, err := strconv.ParseUint(m[i], 10, 32)
			if err != nil {
				return parsedKey{}, false
			}
			k.partition = uint32(p)
		case "first":
			k.first, _ = strconv.ParseUint(m[i], 10, 64)
		case "last":
			k.last, _ = strconv.ParseUint(m[i], 10, 64)
			k.hasLast = true
		}
	}
	if k.hasLast && k.last < k.first {
		return parsedKey{}, false
	}
	return k, true
}
