package sffake

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"modernc.org/sqlite"
)

// binding is one bound parameter as the driver sends it.
type binding struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// result is a statement's outcome in the shape of the query-request reply.
type result struct {
	stmtType int64
	rowtype  []rowType
	rowset   [][]*string
}

type rowType struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Scale     int    `json:"scale"`
	Precision int    `json:"precision"`
	Length    int    `json:"length"`
	ByteLen   int    `json:"byteLength"`
	Nullable  bool   `json:"nullable"`
}

const (
	stmtSelect = 0x1000
	stmtInsert = 0x3100
	stmtUpdate = 0x3200
	stmtDelete = 0x3300
	stmtDDL    = 0x6000
	stmtTx     = 0x5001
)

// exec runs one statement of a session.
func (f *Server) exec(ctx context.Context, s *session, text string, binds map[string]binding) (*result, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].text == ";" && toks[len(toks)-1].kind == tPunct {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return nil, syntaxErr("empty statement")
	}
	args, rows, err := decodeBindings(binds)
	if err != nil {
		return nil, err
	}
	if s.aborted {
		s.aborted = false
		return nil, &sqlError{code: "000630", state: "57014", msg: "The transaction was aborted by the server; its statements were rolled back."}
	}
	if rows > 0 && !toks[0].is("INSERT") {
		return nil, &sqlError{code: "002049", state: "22000", msg: "array binding is only supported for INSERT"}
	}
	switch {
	case toks[0].is("BEGIN") || toks[0].is("START"):
		if !s.inTx {
			if _, err := s.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
				return nil, f.mapErr(err)
			}
			s.inTx, s.txLocks = true, false
		}
		return &result{stmtType: stmtTx}, nil
	case toks[0].is("COMMIT") || toks[0].is("ROLLBACK"):
		if s.inTx {
			s.inTx = false
			if _, err := s.conn.ExecContext(ctx, strings.ToUpper(toks[0].text)); err != nil {
				return nil, f.mapErr(err)
			}
		}
		return &result{stmtType: stmtTx}, nil
	case toks[0].is("CREATE"):
		return f.createTable(ctx, s, toks)
	case toks[0].is("ALTER"):
		return f.alterTable(ctx, s, toks)
	case toks[0].is("DESCRIBE") || toks[0].is("DESC"):
		return f.describe(ctx, s, toks)
	case toks[0].is("DROP"):
		return f.dropTable(ctx, s, toks)
	case toks[0].is("SELECT"), toks[0].is("INSERT"), toks[0].is("DELETE"), toks[0].is("UPDATE"):
	default:
		return nil, syntaxErr("unsupported statement starting with '%s'", toks[0].text)
	}
	if toks[0].is("INSERT") {
		if err := f.checkInsert(ctx, s, toks, rows > 0); err != nil {
			return nil, err
		}
	}
	usesTable := false
	q, err := f.translate(ctx, s, toks, &usesTable)
	if err != nil {
		return nil, err
	}
	if (usesTable || !toks[0].is("SELECT")) && s.warehouse == "" {
		return nil, &sqlError{code: "000606", state: "57P03", msg: "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command."}
	}
	if toks[0].is("SELECT") {
		return f.query(ctx, s, q, args)
	}
	if s.inTx && !toks[0].is("INSERT") {
		s.txLocks = true
	}
	var n int64
	if rows > 0 {
		// Array binding: the statement runs once per row, atomically.
		if !s.inTx {
			if _, err := s.conn.ExecContext(ctx, "SAVEPOINT arraybind"); err != nil {
				return nil, f.mapErr(err)
			}
		}
		for r := range rows {
			row := make([]any, len(args))
			for i, a := range args {
				if col, ok := a.([]any); ok {
					row[i] = col[r]
				} else {
					row[i] = a
				}
			}
			res, err := s.conn.ExecContext(ctx, q, row...)
			if err != nil {
				if !s.inTx {
					_, _ = s.conn.ExecContext(ctx, "ROLLBACK TO arraybind")
					_, _ = s.conn.ExecContext(ctx, "RELEASE arraybind")
				}
				return nil, f.mapErr(err)
			}
			c, _ := res.RowsAffected()
			n += c
		}
		if !s.inTx {
			if _, err := s.conn.ExecContext(ctx, "RELEASE arraybind"); err != nil {
				return nil, f.mapErr(err)
			}
		}
	} else {
		res, err := s.conn.ExecContext(ctx, q, args...)
		if err != nil {
			return nil, f.mapErr(err)
		}
		n, _ = res.RowsAffected()
	}
	typ, label := int64(stmtInsert), "number of rows inserted"
	switch {
	case toks[0].is("UPDATE"):
		typ, label = stmtUpdate, "number of rows updated"
	case toks[0].is("DELETE"):
		typ, label = stmtDelete, "number of rows deleted"
	}
	v := strconv.FormatInt(n, 10)
	return &result{stmtType: typ, rowtype: []rowType{{Name: label, Type: "fixed", Precision: 19}}, rowset: [][]*string{{&v}}}, nil
}

// decodeBindings turns the driver's bindings into SQLite arguments, in
// order. For array binds it returns the number of rows and each argument
// as a []any.
func decodeBindings(binds map[string]binding) ([]any, int, error) {
	args := make([]any, len(binds))
	rows := 0
	for i := range args {
		b, ok := binds[strconv.Itoa(i+1)]
		if !ok {
			return nil, 0, &sqlError{code: "002049", state: "22000", msg: fmt.Sprintf("bind variable %d not set", i+1)}
		}
		if len(b.Value) > 0 && b.Value[0] == '[' {
			var vals []*string
			if err := json.Unmarshal(b.Value, &vals); err != nil {
				return nil, 0, &sqlError{code: "002049", state: "22000", msg: "bad array binding"}
			}
			col := make([]any, len(vals))
			for j, v := range vals {
				a, err := bindValue(b.Type, v)
				if err != nil {
					return nil, 0, err
				}
				col[j] = a
			}
			if rows != 0 && rows != len(vals) {
				return nil, 0, &sqlError{code: "002049", state: "22000", msg: "array bindings of different lengths"}
			}
			rows = len(vals)
			args[i] = col
			continue
		}
		var v *string
		if err := json.Unmarshal(b.Value, &v); err != nil {
			return nil, 0, &sqlError{code: "002049", state: "22000", msg: "bad binding"}
		}
		a, err := bindValue(b.Type, v)
		if err != nil {
			return nil, 0, err
		}
		args[i] = a
	}
	return args, rows, nil
}

func bindValue(typ string, v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() error {
		return &sqlError{code: "002049", state: "22000", msg: fmt.Sprintf("bad %s binding %q", typ, *v)}
	}
	switch typ {
	case "FIXED":
		n, err := strconv.ParseInt(*v, 10, 64)
		if err != nil {
			return nil, bad()
		}
		return n, nil
	case "REAL":
		x, err := strconv.ParseFloat(*v, 64)
		if err != nil {
			return nil, bad()
		}
		return x, nil
	case "BOOLEAN":
		b, err := strconv.ParseBool(*v)
		if err != nil {
			return nil, bad()
		}
		if b {
			return int64(1), nil
		}
		return int64(0), nil
	case "BINARY":
		b, err := hex.DecodeString(*v)
		if err != nil {
			return nil, bad()
		}
		return b, nil
	case "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ":
		// nanoseconds since the epoch (TZ adds " offset")
		s, _, _ := strings.Cut(*v, " ")
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, bad()
		}
		return n, nil
	case "TEXT", "":
		return *v, nil
	}
	return nil, &sqlError{code: "002049", state: "22000", msg: fmt.Sprintf("unsupported binding type %s", typ)}
}

// checkInsert refuses what Snowflake refuses: functions such as PARSE_JSON
// inside VALUES, and binds (scalar or array) into VARIANT columns through
// VALUES.
func (f *Server) checkInsert(ctx context.Context, s *session, toks []token, arrayBind bool) error {
	vi := -1
	for i, t := range toks {
		if t.is("VALUES") {
			vi = i
			break
		}
	}
	if vi < 0 {
		if arrayBind {
			return &sqlError{code: "002049", state: "22000", msg: "array binding needs INSERT ... VALUES"}
		}
		return nil
	}
	for i := vi + 1; i < len(toks); i++ {
		if toks[i].kind == tIdent && i+1 < len(toks) && toks[i+1].text == "(" {
			return compileErr("002014", "22000", "Invalid expression [%s(...)] in VALUES clause", strings.ToUpper(toks[i].text))
		}
	}
	// INSERT INTO name [( cols )] VALUES ( exprs )
	i := 2
	parts, j, err := nameChain(toks, i)
	if err != nil {
		return err
	}
	table, _, err := f.resolve(ctx, s, parts)
	if err != nil {
		return err
	}
	cols, err := f.columns(ctx, s, table, parts)
	if err != nil {
		return err
	}
	var names []string
	if j < len(toks) && toks[j].text == "(" {
		for j++; j < len(toks) && toks[j].text != ")"; j++ {
			if n, ok := identName(toks[j]); ok {
				names = append(names, n)
			}
		}
	} else {
		for _, c := range cols {
			names = append(names, c.name)
		}
	}
	pos := 0
	for k := vi + 1; k < len(toks); k++ {
		switch toks[k].text {
		case "(":
			pos = 0
		case ",":
			pos++
		case "?":
			if pos < len(names) {
				for _, c := range cols {
					if c.name == names[pos] && c.typ.base == "VARIANT" {
						return compileErr("002023", "22000", "Expression type does not match column data type, expecting VARIANT but got VARCHAR(16777216) for column %s", c.name)
					}
				}
			}
		}
	}
	return nil
}

// nameChain reads a dotted name of one to three parts at toks[i:].
func nameChain(toks []token, i int) ([]string, int, error) {
	var parts []string
	for {
		if i >= len(toks) {
			return nil, i, syntaxErr("expected an object name")
		}
		n, ok := identName(toks[i])
		if !ok {
			return nil, i, syntaxErr("unexpected '%s', expected an object name", toks[i].text)
		}
		parts = append(parts, n)
		i++
		if i < len(toks) && toks[i].text == "." && toks[i].kind == tPunct && len(parts) < 3 {
			i++
			continue
		}
		return parts, i, nil
	}
}

// resolve maps a one to three part name to the SQLite table name,
// checking that the database and schema exist.
func (f *Server) resolve(ctx context.Context, s *session, parts []string) (string, string, error) {
	db, schema := s.database, s.schema
	name := parts[len(parts)-1]
	switch len(parts) {
	case 3:
		db, schema = parts[0], parts[1]
	case 2:
		schema = parts[0]
	}
	full := db + "." + schema + "." + name
	f.mu.Lock()
	schemas, ok := f.databases[db]
	f.mu.Unlock()
	if db == "" || !ok {
		return "", full, compileErr("002003", "02000", "Database '%s' does not exist or not authorized.", db)
	}
	if !schemas[schema] {
		return "", full, compileErr("002003", "02000", "Schema '%s.%s' does not exist or not authorized.", db, schema)
	}
	return db + "\x1f" + schema + "\x1f" + name, full, nil
}

type column struct {
	name    string
	typ     colType
	notNull bool
}

// columns lists a table's columns; an error names a missing table.
func (f *Server) columns(ctx context.Context, s *session, table string, parts []string) ([]column, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT name, type, \"notnull\" FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, f.mapErr(err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		var decl string
		if err := rows.Scan(&c.name, &decl, &c.notNull); err != nil {
			return nil, f.mapErr(err)
		}
		c.typ, _ = typeFromDecl(decl)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, f.mapErr(err)
	}
	if len(cols) == 0 {
		return nil, compileErr("002003", "42S02", "Table '%s' does not exist or not authorized.", strings.Join(parts, "."))
	}
	return cols, nil
}

func (f *Server) createTable(ctx context.Context, s *session, toks []token) (*result, error) {
	i := 1
	if i < len(toks) && toks[i].is("OR") {
		return nil, syntaxErr("CREATE OR REPLACE is not supported by this server")
	}
	if i >= len(toks) || !toks[i].is("TABLE") {
		return nil, syntaxErr("unsupported CREATE statement")
	}
	i++
	ifNotExists := false
	if i+2 < len(toks) && toks[i].is("IF") && toks[i+1].is("NOT") && toks[i+2].is("EXISTS") {
		ifNotExists = true
		i += 3
	}
	parts, i, err := nameChain(toks, i)
	if err != nil {
		return nil, err
	}
	table, full, err := f.resolve(ctx, s, parts)
	if err != nil {
		return nil, err
	}
	if i >= len(toks) || toks[i].text != "(" {
		return nil, syntaxErr("expected a column list after %s", full)
	}
	i++
	var defs []string
	seen := map[string]bool{}
	for {
		name, ok := identName(toks[i])
		if !ok {
			return nil, syntaxErr("unexpected '%s', expected a column name", toks[i].text)
		}
		if seen[name] {
			return nil, compileErr("002025", "42S21", "duplicate column name '%s'", name)
		}
		seen[name] = true
		t, j, err := parseType(toks, i+1)
		if err != nil {
			return nil, err
		}
		i = j
		def := quote(name) + " " + t.sqliteDecl()
		if i+1 < len(toks) && toks[i].is("NOT") && toks[i+1].is("NULL") {
			def += " NOT NULL"
			i += 2
		}
		def += check(name, t)
		defs = append(defs, def)
		if i < len(toks) && toks[i].text == "," {
			i++
			continue
		}
		break
	}
	if i >= len(toks) || toks[i].text != ")" || i+1 != len(toks) {
		return nil, syntaxErr("unexpected text after the column list of %s", full)
	}
	q := "CREATE TABLE "
	if ifNotExists {
		q += "IF NOT EXISTS "
	}
	if _, err := s.conn.ExecContext(ctx, q+quote(table)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		if strings.Contains(err.Error(), "already exists") {
			return nil, compileErr("002002", "42710", "Object '%s' already exists.", full)
		}
		return nil, f.mapErr(err)
	}
	return &result{stmtType: stmtDDL}, nil
}

// check is the constraint that makes SQLite refuse what the Snowflake
// column cannot hold; its name carries the reason to mapErr.
func check(name string, t colType) string {
	switch t.base {
	case "TEXT":
		return fmt.Sprintf(" CONSTRAINT %s CHECK (length(%s) <= %d)", quote("sflen:"+strconv.Itoa(t.length)+":"+name), quote(name), t.length)
	case "VARIANT":
		return fmt.Sprintf(" CONSTRAINT %s CHECK (length(%s) <= %d)", quote("sflen:"+strconv.Itoa(maxLOB)+":"+name), quote(name), maxLOB)
	}
	return ""
}

func (f *Server) alterTable(ctx context.Context, s *session, toks []token) (*result, error) {
	if len(toks) < 3 || !toks[1].is("TABLE") {
		return nil, syntaxErr("unsupported ALTER statement")
	}
	parts, i, err := nameChain(toks, 2)
	if err != nil {
		return nil, err
	}
	table, _, err := f.resolve(ctx, s, parts)
	if err != nil {
		return nil, err
	}
	cols, err := f.columns(ctx, s, table, parts)
	if err != nil {
		return nil, err
	}
	if i >= len(toks) || !toks[i].is("ADD") {
		return nil, syntaxErr("only ALTER TABLE ... ADD COLUMN is supported by this server")
	}
	i++
	if i < len(toks) && toks[i].is("COLUMN") {
		i++
	}
	ifNotExists := false
	if i+2 < len(toks) && toks[i].is("IF") && toks[i+1].is("NOT") && toks[i+2].is("EXISTS") {
		ifNotExists = true
		i += 3
	}
	for {
		if i >= len(toks) {
			return nil, syntaxErr("expected a column name")
		}
		name, ok := identName(toks[i])
		if !ok {
			return nil, syntaxErr("unexpected '%s', expected a column name", toks[i].text)
		}
		t, j, err := parseType(toks, i+1)
		if err != nil {
			return nil, err
		}
		i = j
		exists := false
		for _, c := range cols {
			exists = exists || c.name == name
		}
		switch {
		case exists && !ifNotExists:
			return nil, compileErr("002025", "42S21", "column '%s' already exists", name)
		case !exists:
			if _, err := s.conn.ExecContext(ctx, "ALTER TABLE "+quote(table)+" ADD COLUMN "+quote(name)+" "+t.sqliteDecl()+check(name, t)); err != nil {
				return nil, f.mapErr(err)
			}
			cols = append(cols, column{name: name, typ: t})
		}
		if i < len(toks) && toks[i].text == "," {
			i++
			continue
		}
		break
	}
	if i != len(toks) {
		return nil, syntaxErr("unexpected '%s'", toks[i].text)
	}
	return &result{stmtType: stmtDDL}, nil
}

func (f *Server) dropTable(ctx context.Context, s *session, toks []token) (*result, error) {
	if len(toks) < 3 || !toks[1].is("TABLE") {
		return nil, syntaxErr("unsupported DROP statement")
	}
	i := 2
	ifExists := false
	if i+1 < len(toks) && toks[i].is("IF") && toks[i+1].is("EXISTS") {
		ifExists = true
		i += 2
	}
	parts, _, err := nameChain(toks, i)
	if err != nil {
		return nil, err
	}
	table, _, err := f.resolve(ctx, s, parts)
	if err != nil {
		return nil, err
	}
	if _, err := f.columns(ctx, s, table, parts); err != nil {
		if ifExists {
			return &result{stmtType: stmtDDL}, nil
		}
		return nil, err
	}
	if _, err := s.conn.ExecContext(ctx, "DROP TABLE "+quote(table)); err != nil {
		return nil, f.mapErr(err)
	}
	return &result{stmtType: stmtDDL}, nil
}

func (f *Server) describe(ctx context.Context, s *session, toks []token) (*result, error) {
	if len(toks) < 3 || !toks[1].is("TABLE") {
		return nil, syntaxErr("only DESCRIBE TABLE is supported by this server")
	}
	parts, i, err := nameChain(toks, 2)
	if err != nil {
		return nil, err
	}
	if i != len(toks) {
		return nil, syntaxErr("unexpected '%s'", toks[i].text)
	}
	table, _, err := f.resolve(ctx, s, parts)
	if err != nil {
		return nil, err
	}
	cols, err := f.columns(ctx, s, table, parts)
	if err != nil {
		return nil, err
	}
	res := &result{stmtType: stmtSelect}
	for _, n := range []string{"name", "type", "kind", "null?"} {
		res.rowtype = append(res.rowtype, rowType{Name: n, Type: "text", Length: 16777216, ByteLen: 16777216, Nullable: true})
	}
	for _, c := range cols {
		null := "Y"
		if c.notNull {
			null = "N"
		}
		name, typ, kind := c.name, c.typ.String(), "COLUMN"
		res.rowset = append(res.rowset, []*string{&name, &typ, &kind, &null})
	}
	return res, nil
}

// translate renders a SELECT, INSERT, UPDATE or DELETE in SQLite's dialect.
func (f *Server) translate(ctx context.Context, s *session, toks []token, usesTable *bool) (string, error) {
	type frame struct{ atoms []string }
	stack := []*frame{{}}
	top := func() *frame { return stack[len(stack)-1] }
	emit := func(a string) { top().atoms = append(top().atoms, a) }
	param := 0
	prevTableKw := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		tableKw := t.is("FROM") || t.is("INTO") || t.is("UPDATE") || t.is("JOIN")
		switch {
		case t.is("TABLE") && matchFlatten(toks[i:]):
			param++
			emit(fmt.Sprintf("json_each(sf_parse_json(?%d))", param))
			*usesTable = true
			i += 11
		case prevTableKw && (t.kind == tIdent || t.kind == tQIdent):
			parts, j, err := nameChain(toks, i)
			if err != nil {
				return "", err
			}
			table, _, err := f.resolve(ctx, s, parts)
			if err != nil {
				return "", err
			}
			if _, err := f.columns(ctx, s, table, parts); err != nil {
				return "", err
			}
			*usesTable = true
			emit(quote(table))
			i = j - 1
		case t.kind == tIdent && i+2 < len(toks) && toks[i+1].text == ":" && toks[i+1].kind == tPunct:
			key := toks[i+2]
			if key.kind != tIdent && key.kind != tQIdent {
				return "", syntaxErr("unexpected '%s' in a path", key.text)
			}
			emit(fmt.Sprintf("sf_get(%s, %s)", t.text, sqlString(key.text)))
			i += 2
		case t.text == "::" && t.kind == tPunct:
			typ, j, err := parseType(toks, i+1)
			if err != nil {
				return "", err
			}
			atoms := top().atoms
			if len(atoms) == 0 {
				return "", syntaxErr("unexpected '::'")
			}
			atoms[len(atoms)-1] = fmt.Sprintf("sf_cast(%s, %s)", atoms[len(atoms)-1], sqlString(typeKey(typ)))
			i = j - 1
		case t.is("PARSE_JSON"):
			emit("sf_parse_json")
		case t.kind == tPunct && t.text == "(":
			stack = append(stack, &frame{})
		case t.kind == tPunct && t.text == ")":
			if len(stack) == 1 {
				return "", syntaxErr("unexpected ')'")
			}
			inner := "(" + strings.Join(top().atoms, " ") + ")"
			stack = stack[:len(stack)-1]
			atoms := top().atoms
			if n := len(atoms); n > 0 && i > 0 && isName(toks, i) {
				atoms[n-1] += inner
			} else {
				emit(inner)
			}
		case t.kind == tParam:
			param++
			emit(fmt.Sprintf("?%d", param))
		case t.kind == tQIdent:
			emit(quote(t.text))
		default:
			emit(t.text)
		}
		prevTableKw = tableKw
	}
	if len(stack) != 1 {
		return "", syntaxErr("unbalanced parentheses")
	}
	return strings.Join(stack[0].atoms, " "), nil
}

// isName reports whether the '(' matching the ')' at toks[i] follows a
// name (a function call), so that the group joins it as one atom.
func isName(toks []token, i int) bool {
	depth := 0
	for j := i; j >= 0; j-- {
		switch toks[j].text {
		case ")":
			depth++
		case "(":
			depth--
			if depth == 0 {
				return j > 0 && (toks[j-1].kind == tIdent || toks[j-1].kind == tQIdent)
			}
		}
	}
	return false
}

// matchFlatten matches TABLE(FLATTEN(INPUT => PARSE_JSON(?))).
func matchFlatten(toks []token) bool {
	want := []string{"TABLE", "(", "FLATTEN", "(", "INPUT", "=>", "PARSE_JSON", "(", "?", ")", ")", ")"}
	if len(toks) < len(want) {
		return false
	}
	for i, w := range want {
		if !strings.EqualFold(toks[i].text, w) || toks[i].kind == tString || toks[i].kind == tQIdent {
			return false
		}
	}
	return true
}

func typeKey(t colType) string {
	return fmt.Sprintf("%s:%d:%d:%d", t.base, t.length, t.precision, t.scale)
}

func parseTypeKey(s string) colType {
	p := strings.Split(s, ":")
	var t colType
	t.base = p[0]
	if len(p) == 4 {
		t.length, _ = strconv.Atoi(p[1])
		t.precision, _ = strconv.Atoi(p[2])
		t.scale, _ = strconv.Atoi(p[3])
	}
	return t
}

// query runs a SELECT and encodes its rows as Snowflake's JSON result.
func (f *Server) query(ctx context.Context, s *session, q string, args []any) (*result, error) {
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, f.mapErr(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, f.mapErr(err)
	}
	types := make([]colType, len(cts))
	known := make([]bool, len(cts))
	for i, ct := range cts {
		types[i], known[i] = typeFromDecl(ct.DatabaseTypeName())
	}
	var raw [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, f.mapErr(err)
		}
		raw = append(raw, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, f.mapErr(err)
	}
	for i := range types {
		if known[i] {
			continue
		}
		types[i] = colType{base: "TEXT", length: maxLOB}
		for _, r := range raw {
			switch r[i].(type) {
			case int64:
				types[i] = colType{base: "FIXED", precision: 38}
			case float64:
				types[i] = colType{base: "REAL"}
			case []byte:
				types[i] = colType{base: "BINARY"}
			case nil:
				continue
			}
			break
		}
	}
	res := &result{stmtType: stmtSelect}
	for i, ct := range cts {
		t := types[i]
		rt := rowType{Name: ct.Name(), Nullable: true, Precision: t.precision, Scale: t.scale}
		switch t.base {
		case "VARIANT":
			rt.Type = "variant"
		case "TEXT":
			rt.Type, rt.Length, rt.ByteLen = "text", t.length, 4*t.length
		case "FIXED":
			rt.Type = "fixed"
		case "REAL":
			rt.Type = "real"
		case "BOOLEAN":
			rt.Type = "boolean"
		case "BINARY":
			rt.Type, rt.Length, rt.ByteLen = "binary", 8388608, 8388608
		case "TIMESTAMP_NTZ":
			rt.Type, rt.Scale = "timestamp_ntz", 9
		case "DATE":
			rt.Type = "date"
		}
		res.rowtype = append(res.rowtype, rt)
	}
	for _, r := range raw {
		cells := make([]*string, len(r))
		for i, v := range r {
			cells[i] = cell(types[i], v)
		}
		res.rowset = append(res.rowset, cells)
	}
	return res, nil
}

// cell encodes one value the way Snowflake's JSON result format does.
func cell(t colType, v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		switch t.base {
		case "BOOLEAN":
			s = "0"
			if x != 0 {
				s = "1"
			}
		case "TIMESTAMP_NTZ":
			sec, ns := x/1e9, x%1e9
			if ns < 0 {
				sec, ns = sec-1, ns+1e9
			}
			s = fmt.Sprintf("%d.%09d", sec, ns)
		default:
			s = strconv.FormatInt(x, 10)
		}
	case float64:
		if t.base == "FIXED" {
			s = strconv.FormatFloat(x, 'f', t.scale, 64)
		} else {
			s = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case []byte:
		if t.base == "BINARY" {
			s = hex.EncodeToString(x)
		} else {
			s = string(x)
		}
	case string:
		if t.base == "BINARY" {
			s = hex.EncodeToString([]byte(x))
		} else {
			s = x
		}
	default:
		s = fmt.Sprint(x)
	}
	return &s
}

// mapErr turns a SQLite error into the Snowflake error for the same
// problem.
func (f *Server) mapErr(err error) error {
	var se *sqlError
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		msg = lite.Error()
	}
	if i := strings.Index(msg, "SF"); i >= 0 && strings.Contains(msg[i:], "|") {
		// raised by a fake function: SFcode|state|message
		p := strings.SplitN(msg[i+2:], "|", 3)
		if len(p) == 3 {
			return &sqlError{code: p[0], state: p[1], msg: p[2]}
		}
	}
	if i := strings.Index(msg, "CHECK constraint failed: sflen:"); i >= 0 {
		p := strings.SplitN(msg[i+len("CHECK constraint failed: sflen:"):], ":", 2)
		col := ""
		if len(p) == 2 {
			col = strings.TrimRight(p[1], ")")
		}
		return &sqlError{code: "100074", state: "22000", msg: fmt.Sprintf("User character length limit (%s) exceeded by string in column %s", p[0], col)}
	}
	if strings.Contains(msg, "NOT NULL constraint failed") {
		return &sqlError{code: "100072", state: "22000", msg: "NULL result in a non-nullable column"}
	}
	if strings.Contains(msg, "malformed JSON") {
		return &sqlError{code: "100069", state: "22P02", msg: "Error parsing JSON: document is malformed"}
	}
	if strings.Contains(msg, "no such function") || strings.Contains(msg, "syntax error") || strings.Contains(msg, "no such column") {
		return syntaxErr("%s", msg)
	}
	if strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") {
		return &sqlError{code: "000625", state: "57014", msg: "Statement reached its statement or warehouse timeout waiting for a lock"}
	}
	return &sqlError{code: "000603", state: "XX000", msg: "SQL execution internal error: " + msg}
}
