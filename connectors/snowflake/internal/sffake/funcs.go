package sffake

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
)

var registerOnce sync.Once

// registerFuncs adds the Snowflake functions the translated statements
// call: sf_get (VARIANT path), sf_cast (::TYPE) and sf_parse_json.
func registerFuncs() {
	registerOnce.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("sf_parse_json", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			s, ok := args[0].(string)
			if !ok {
				if b, isBytes := args[0].([]byte); isBytes {
					s, ok = string(b), true
				}
			}
			if !ok || !json.Valid([]byte(s)) {
				return nil, sfErr("100069", "22P02", "Error parsing JSON: %s", clip(fmt.Sprint(args[0])))
			}
			return s, nil
		})
		sqlite.MustRegisterDeterministicScalarFunction("sf_get", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			doc, ok := args[0].(string)
			key, _ := args[1].(string)
			if !ok {
				return nil, nil
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal([]byte(doc), &obj) != nil {
				return nil, nil
			}
			v, ok := obj[key]
			if !ok {
				return nil, nil
			}
			return string(v), nil
		})
		sqlite.MustRegisterDeterministicScalarFunction("sf_cast", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			key, _ := args[1].(string)
			return cast(args[0], parseTypeKey(key))
		})
	})
}

func sfErr(code, state, format string, args ...any) error {
	return fmt.Errorf("SF%s|%s|%s", code, state, fmt.Sprintf(format, args...))
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "..."
	}
	return s
}

// cast converts a value (JSON text from a VARIANT path, or a plain SQL
// value) to t as Snowflake's :: does, failing where Snowflake fails.
func cast(v any, t colType) (any, error) {
	if v == nil {
		return nil, nil
	}
	var j any // the value as JSON decodes it, when it is JSON text
	isJSON := false
	if s, ok := v.(string); ok {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if d.Decode(&j) == nil && !d.More() {
			isJSON = true
		}
	}
	if isJSON && j == nil {
		return nil, nil // JSON null
	}
	switch t.base {
	case "VARIANT":
		if isJSON {
			return v, nil
		}
		b, _ := json.Marshal(v)
		return string(b), nil
	case "TEXT":
		var s string
		switch x := j.(type) {
		case string:
			s = x
		case nil:
			s = fmt.Sprint(v)
		default:
			s = v.(string)
			if _, isNum := x.(json.Number); !isNum {
				var buf bytes.Buffer
				_ = json.Compact(&buf, []byte(s))
				s = buf.String()
			}
		}
		if t.length > 0 && utf8.RuneCountInString(s) > t.length {
			return nil, sfErr("100078", "22000", "String '%s' is too long and would be truncated", clip(s))
		}
		return s, nil
	case "FIXED", "REAL":
		var text string
		switch x := j.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = strings.TrimSpace(x)
		case bool:
			if x {
				text = "1"
			} else {
				text = "0"
			}
		case nil:
			text = fmt.Sprint(v)
		default:
			return nil, sfErr("100038", "22018", "Numeric value '%s' is not recognized", clip(fmt.Sprint(v)))
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, sfErr("100038", "22018", "Numeric value '%s' is not recognized", clip(text))
		}
		if t.base == "REAL" {
			return f, nil
		}
		p := math.Pow(10, float64(t.scale))
		f = math.Round(f*p) / p
		if math.Abs(f) >= math.Pow(10, float64(t.precision-t.scale)) {
			return nil, sfErr("100039", "22003", "Numeric value '%s' is out of range", clip(text))
		}
		if t.scale == 0 {
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				return n, nil
			}
			return int64(f), nil
		}
		return f, nil
	case "BOOLEAN":
		switch x := j.(type) {
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			switch strings.ToLower(x) {
			case "true", "t", "yes", "y", "on", "1":
				return int64(1), nil
			case "false", "f", "no", "n", "off", "0":
				return int64(0), nil
			}
		case json.Number:
			if x.String() == "0" {
				return int64(0), nil
			}
			return int64(1), nil
		}
		return nil, sfErr("100037", "22018", "Boolean value '%s' is not recognized", clip(fmt.Sprint(v)))
	case "TIMESTAMP_NTZ":
		switch x := j.(type) {
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
				if ts, err := time.Parse(layout, x); err == nil {
					return ts.UnixNano(), nil
				}
			}
		case json.Number:
			if n, err := x.Int64(); err == nil {
				return n * 1e9, nil
			}
		case nil:
			if n, ok := v.(int64); ok {
				return n, nil
			}
		}
		return nil, sfErr("100035", "22007", "Timestamp '%s' is not recognized", clip(fmt.Sprint(v)))
	case "DATE":
		// days since the epoch, as Snowflake sends DATE
		if x, ok := j.(string); ok {
			if d, err := time.Parse(time.DateOnly, x); err == nil {
				return d.Unix() / 86400, nil
			}
		}
		return nil, sfErr("100040", "22007", "Date '%s' is not recognized", clip(fmt.Sprint(v)))
	}
	return nil, errors.New("SF002040|42601|unsupported cast to " + t.base)
}
