package sffake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// tokKind classifies a token of Snowflake SQL.
type tokKind int

const (
	tIdent  tokKind = iota // bare identifier or keyword; text as written
	tQIdent                // "quoted" identifier; text is the name, unescaped
	tString                // 'literal'; text is the raw literal with quotes
	tNumber
	tParam // ?
	tPunct // ( ) , . : :: => = < > <= >= <> != * + - / ;
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// sqlError is a Snowflake error reply: code, SQL state and message.
type sqlError struct {
	code, state, msg string
}

func (e *sqlError) Error() string { return e.code + " (" + e.state + "): " + e.msg }

func syntaxErr(format string, args ...any) *sqlError {
	return &sqlError{code: "001003", state: "42000", msg: "SQL compilation error:\n" + fmt.Sprintf(format, args...)}
}

func compileErr(code, state, format string, args ...any) *sqlError {
	return &sqlError{code: code, state: state, msg: "SQL compilation error:\n" + fmt.Sprintf(format, args...)}
}

// tokenize splits Snowflake SQL into tokens. Comments are not supported:
// the connector never sends them.
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, syntaxErr("unterminated quoted identifier at position %d", i)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if b.Len() == 0 {
				return nil, syntaxErr("empty quoted identifier at position %d", i)
			}
			out = append(out, token{tQIdent, b.String()})
			i = j + 1
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, syntaxErr("unterminated string at position %d", i)
				}
				if s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			out = append(out, token{tString, s[i : j+1]})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, s[i:j]})
			i = j
		case c == '_' || c == '$' || c < 0x80 && unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= '0' && s[j] <= '9' || s[j] < 0x80 && unicode.IsLetter(rune(s[j]))) {
				j++
			}
			out = append(out, token{tIdent, s[i:j]})
			i = j
		case c == '?':
			out = append(out, token{tParam, "?"})
			i++
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "::", "=>", "<=", ">=", "<>", "!=", "||":
				out = append(out, token{tPunct, two})
				i += 2
				continue
			}
			if strings.IndexByte("(),.:=<>*+-/;", c) < 0 {
				return nil, syntaxErr("unexpected '%c' at position %d", c, i)
			}
			out = append(out, token{tPunct, string(c)})
			i++
		}
	}
	return out, nil
}

// quote renders name as a SQLite quoted identifier. Backquotes, not
// double quotes: SQLite reads a double-quoted name that matches no column
// as a string literal, which would let a wrong column name pass.
func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// sqlString renders s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// identName is the name an identifier token stands for: bare identifiers
// are upper-cased, as Snowflake does.
func identName(t token) (string, bool) {
	switch t.kind {
	case tQIdent:
		return t.text, true
	case tIdent:
		return strings.ToUpper(t.text), true
	}
	return "", false
}

// colType is a Snowflake column type as the fake knows it.
type colType struct {
	base      string // VARIANT, TEXT, FIXED, REAL, BOOLEAN, BINARY, TIMESTAMP_NTZ, DATE
	length    int    // TEXT: max characters (0: default 16777216)
	precision int    // FIXED
	scale     int    // FIXED
}

const maxLOB = 16 << 20

// parseType parses a type name and its arguments at toks[i:], returning
// the type and the index after it.
func parseType(toks []token, i int) (colType, int, error) {
	if i >= len(toks) || toks[i].kind != tIdent {
		return colType{}, i, syntaxErr("expected a type")
	}
	name := strings.ToUpper(toks[i].text)
	i++
	var args []int
	if i < len(toks) && toks[i].text == "(" {
		i++
		for i < len(toks) && toks[i].kind == tNumber {
			n, err := strconv.Atoi(toks[i].text)
			if err != nil {
				return colType{}, i, syntaxErr("bad type argument %q", toks[i].text)
			}
			args = append(args, n)
			i++
			if i < len(toks) && toks[i].text == "," {
				i++
			}
		}
		if i >= len(toks) || toks[i].text != ")" {
			return colType{}, i, syntaxErr("bad arguments of type %s", name)
		}
		i++
	}
	arg := func(n, def int) int {
		if n < len(args) {
			return args[n]
		}
		return def
	}
	var t colType
	switch name {
	case "VARIANT", "OBJECT", "ARRAY":
		t.base = "VARIANT"
	case "VARCHAR", "STRING", "TEXT", "CHAR", "CHARACTER":
		t.base, t.length = "TEXT", arg(0, maxLOB)
		if name == "CHAR" || name == "CHARACTER" {
			t.length = arg(0, 1)
		}
	case "NUMBER", "NUMERIC", "DECIMAL":
		t.base, t.precision, t.scale = "FIXED", arg(0, 38), arg(1, 0)
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT":
		t.base, t.precision = "FIXED", 38
	case "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL":
		t.base = "REAL"
	case "BOOLEAN":
		t.base = "BOOLEAN"
	case "BINARY", "VARBINARY":
		t.base = "BINARY"
	case "TIMESTAMP_NTZ", "TIMESTAMP", "DATETIME":
		t.base = "TIMESTAMP_NTZ"
	case "DATE":
		t.base = "DATE"
	default:
		return colType{}, i, syntaxErr("unsupported data type '%s'", name)
	}
	return t, i, nil
}

// sqliteDecl is the SQLite declared type that stores t. Its name carries
// the Snowflake type back out of PRAGMA table_info and column decltypes,
// and its affinity (from the substrings TEXT, INT, REAL, BLOB) stores the
// values unchanged.
func (t colType) sqliteDecl() string {
	switch t.base {
	case "VARIANT":
		return "SFVARIANT_TEXT"
	case "TEXT":
		return fmt.Sprintf("SFTEXT_TEXT(%d)", t.length)
	case "FIXED":
		if t.scale == 0 {
			return fmt.Sprintf("SFFIXED_INT(%d,%d)", t.precision, t.scale)
		}
		return fmt.Sprintf("SFFIXED_REAL(%d,%d)", t.precision, t.scale)
	case "REAL":
		return "SFREAL_REAL"
	case "BOOLEAN":
		return "SFBOOLEAN_INT"
	case "BINARY":
		return "SFBINARY_BLOB"
	case "TIMESTAMP_NTZ":
		return "SFTIMESTAMP_NTZ_INT"
	case "DATE":
		return "SFDATE_INT"
	}
	return ""
}

// typeFromDecl is the inverse of sqliteDecl; ok is false for columns the
// fake did not declare (expressions).
func typeFromDecl(decl string) (colType, bool) {
	decl = strings.ToUpper(decl)
	if !strings.HasPrefix(decl, "SF") {
		return colType{}, false
	}
	name, args, _ := strings.Cut(decl, "(")
	base := strings.TrimPrefix(name, "SF")
	base = base[:strings.LastIndexByte(base, '_')]
	t := colType{base: base}
	nums := strings.Split(strings.TrimSuffix(args, ")"), ",")
	switch base {
	case "TEXT":
		t.length, _ = strconv.Atoi(nums[0])
	case "FIXED":
		t.precision, _ = strconv.Atoi(nums[0])
		if len(nums) > 1 {
			t.scale, _ = strconv.Atoi(nums[1])
		}
	}
	return t, true
}

// String is the type as Snowflake's DESCRIBE shows it.
func (t colType) String() string {
	switch t.base {
	case "TEXT":
		return fmt.Sprintf("VARCHAR(%d)", t.length)
	case "FIXED":
		return fmt.Sprintf("NUMBER(%d,%d)", t.precision, t.scale)
	case "REAL":
		return "FLOAT"
	}
	return t.base
}
