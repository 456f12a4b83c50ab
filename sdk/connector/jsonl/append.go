package jsonl

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/sdk/connector"
)

// Append appends r rendered as one JSON line, newline included, to dst and
// returns the extended buffer. It writes the same bytes as Encode without
// reflection or allocations beyond growing dst, so sinks can render a
// batch into one reused buffer.
func Append(dst []byte, station string, r connector.Record) []byte {
	dst = append(dst, '{')
	if station != "" {
		dst = append(dst, `"station":`...)
		dst = appendString(dst, station)
		dst = append(dst, ',')
	}
	dst = append(dst, `"partition":`...)
	dst = strconv.AppendUint(dst, uint64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, r.Offset, 10)
	if !r.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":"`...)
		dst = r.Timestamp.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(r.Key) > 0 {
		dst = append(dst, `,"key":`...)
		var b64 bool
		if dst, b64 = appendEmbedded(dst, r.Key); b64 {
			dst = append(dst, `,"key_encoding":"base64"`...)
		}
	}
	if len(r.Headers) > 0 {
		dst = append(dst, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"key":`...)
			dst = appendString(dst, h.Key)
			dst = append(dst, `,"value":`...)
			var b64 bool
			if dst, b64 = appendEmbedded(dst, h.Value); b64 {
				dst = append(dst, `,"value_encoding":"base64"`...)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"value":`...)
	var b64 bool
	if dst, b64 = appendEmbedded(dst, r.Value); b64 {
		dst = append(dst, `,"value_encoding":"base64"`...)
	}
	return append(dst, '}', '\n')
}

// appendEmbedded appends b as the line embeds it (see line) and reports
// whether it was base64-encoded.
func appendEmbedded(dst, b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return append(dst, "null"...), false
	}
	if out, ok := appendCompactJSON(dst, b); ok {
		return out, false
	}
	if utf8.Valid(b) {
		return appendString(dst, b), false
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"'), true
}

const hexDigits = "0123456789abcdef"

// plain holds the ASCII bytes a JSON string carries unescaped, HTML-safe as
// encoding/json writes them: not a control character, '"', '\\', '<', '>'
// or '&'.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// escaped holds the escape sequence of each ASCII byte that plain does
// not hold, as encoding/json writes it.
var escaped = func() (t [utf8.RuneSelf]string) {
	for c := range utf8.RuneSelf {
		if !plain[c] {
			t[c] = `\u00` + string(hexDigits[c>>4]) + string(hexDigits[c&0xF])
		}
	}
	for c, e := range map[byte]string{'\\': `\\`, '"': `\"`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`} {
		t[c] = e
	}
	return t
}()

// appendString appends src as a JSON string, escaped as encoding/json
// escapes it: HTML-safe, U+2028 and U+2029 escaped, invalid UTF-8 replaced
// by U+FFFD.
func appendString[S []byte | string](dst []byte, src S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		if c := src[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			dst = append(dst, escaped[c]...)
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(string(src[i:min(len(src), i+utf8.UTFMax)]))
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}

// maxDepth is the deepest nesting of arrays and objects accepted as JSON,
// as encoding/json accepts it.
const maxDepth = 10000

// appendCompactJSON appends src compacted and HTML-escaped (the bytes
// encoding/json writes for it as a json.RawMessage) when src is one valid
// JSON value other than a string; otherwise it returns dst unchanged and
// false.
func appendCompactJSON(dst, src []byte) ([]byte, bool) {
	c := compactor{src: src, dst: dst}
	c.space()
	if c.i >= len(src) || src[c.i] == '"' {
		return dst, false
	}
	if !c.value(0) {
		return dst, false
	}
	c.space()
	if c.i != len(src) {
		return dst, false
	}
	return c.dst, true
}

// compactor validates and compacts one JSON value in a single pass.
type compactor struct {
	src []byte
	i   int
	dst []byte
}

func (c *compactor) space() {
	for c.i < len(c.src) {
		switch c.src[c.i] {
		case ' ', '\t', '\r', '\n':
			c.i++
		default:
			return
		}
	}
}

func (c *compactor) value(depth int) bool {
	if c.i >= len(c.src) {
		return false
	}
	switch b := c.src[c.i]; {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		return c.string()
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	}
	return false
}

func (c *compactor) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	c.dst = append(c.dst, '{')
	c.i++
	c.space()
	if c.i < len(c.src) && c.src[c.i] == '}' {
		c.i++
		c.dst = append(c.dst, '}')
		return true
	}
	for {
		if c.i >= len(c.src) || c.src[c.i] != '"' || !c.string() {
			return false
		}
		c.space()
		if c.i >= len(c.src) || c.src[c.i] != ':' {
			return false
		}
		c.i++
		c.dst = append(c.dst, ':')
		c.space()
		if !c.value(depth) {
			return false
		}
		if done, ok := c.separator('}'); done || !ok {
			return ok
		}
	}
}

func (c *compactor) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	c.dst = append(c.dst, '[')
	c.i++
	c.space()
	if c.i < len(c.src) && c.src[c.i] == ']' {
		c.i++
		c.dst = append(c.dst, ']')
		return true
	}
	for {
		if !c.value(depth) {
			return false
		}
		if done, ok := c.separator(']'); done || !ok {
			return ok
		}
	}
}

// separator copies what follows a member or an element: a comma (done
// false) or the closing bracket end (done true); anything else is not
// JSON (ok false).
func (c *compactor) separator(end byte) (done, ok bool) {
	c.space()
	if c.i >= len(c.src) {
		return false, false
	}
	switch c.src[c.i] {
	case ',':
		c.i++
		c.dst = append(c.dst, ',')
		c.space()
		return false, true
	case end:
		c.i++
		c.dst = append(c.dst, end)
		return true, true
	}
	return false, false
}

// string copies a string literal, escaping '<', '>', '&', U+2028 and
// U+2029 as encoding/json does in raw JSON; other bytes (invalid UTF-8
// included) pass as they are.
func (c *compactor) string() bool {
	src := c.src
	c.i++ // the opening quote
	start := c.i - 1
	for c.i < len(src) {
		if verbatim[src[c.i]] {
			c.i++
			continue
		}
		b := src[c.i]
		switch {
		case b == '"':
			c.i++
			c.dst = append(c.dst, src[start:c.i]...)
			return true
		case b == '\\':
			if c.i+1 >= len(src) {
				return false
			}
			switch src[c.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.i += 2
			case 'u':
				if c.i+6 > len(src) {
					return false
				}
				for _, h := range src[c.i+2 : c.i+6] {
					if !isHex(h) {
						return false
					}
				}
				c.i += 6
			default:
				return false
			}
		case b < 0x20:
			return false
		case b == '<' || b == '>' || b == '&':
			c.dst = append(c.dst, src[start:c.i]...)
			c.dst = append(c.dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			c.i++
			start = c.i
		case b == 0xE2 && c.i+2 < len(src) && src[c.i+1] == 0x80 && src[c.i+2]&^1 == 0xA8:
			c.dst = append(c.dst, src[start:c.i]...)
			c.dst = append(c.dst, '\\', 'u', '2', '0', '2', hexDigits[src[c.i+2]&0xF])
			c.i += 3
			start = c.i
		default:
			c.i++
		}
	}
	return false
}

// verbatim holds the bytes a JSON string in raw JSON passes as they are:
// all but control characters, '"', '\\', '<', '>', '&' and 0xE2 (which
// may start U+2028 or U+2029).
var verbatim = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = true
	}
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		t[c] = false
	}
	return t
}()

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func (c *compactor) number() bool {
	src, start := c.src, c.i
	if src[c.i] == '-' {
		c.i++
	}
	switch {
	case c.i < len(src) && src[c.i] == '0':
		c.i++
	case c.i < len(src) && '1' <= src[c.i] && src[c.i] <= '9':
		c.digits()
	default:
		return false
	}
	if c.i < len(src) && src[c.i] == '.' {
		c.i++
		if !c.digits() {
			return false
		}
	}
	if c.i < len(src) && (src[c.i] == 'e' || src[c.i] == 'E') {
		c.i++
		if c.i < len(src) && (src[c.i] == '+' || src[c.i] == '-') {
			c.i++
		}
		if !c.digits() {
			return false
		}
	}
	c.dst = append(c.dst, src[start:c.i]...)
	return true
}

// digits consumes one or more decimal digits.
func (c *compactor) digits() bool {
	start := c.i
	for c.i < len(c.src) && '0' <= c.src[c.i] && c.src[c.i] <= '9' {
		c.i++
	}
	return c.i > start
}

func (c *compactor) literal(lit string) bool {
	if len(c.src)-c.i < len(lit) || string(c.src[c.i:c.i+len(lit)]) != lit {
		return false
	}
	c.i += len(lit)
	c.dst = append(c.dst, lit...)
	return true
}
