package sffake

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
)

func TestMain(m *testing.M) {
	os.Setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
	os.Exit(m.Run())
}

func open(t *testing.T, f *Server, jwtAuth bool) *sql.DB {
	cfg := sf.Config{Account: Account, User: User, Host: f.Host, Port: f.Port, Protocol: "http",
		Database: Database, Schema: Schema, Warehouse: Warehouse, MaxRetryCount: 1, DisableTelemetry: true}
	if jwtAuth {
		cfg.Authenticator = sf.AuthTypeJwt
		cfg.PrivateKey = f.Key
	} else {
		cfg.Password = Password
	}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, cfg))
	t.Cleanup(func() { db.Close() })
	return db
}

func TestFakeThroughDriver(t *testing.T) {
	f := New(t)
	ctx := context.Background()
	for _, jwtAuth := range []bool{false, true} {
		db := open(t, f, jwtAuth)
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("ping (jwt %v): %v", jwtAuth, err)
		}
	}
	db := open(t, f, true)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE "JUNCTION_DB"."PUBLIC"."T" ("M" VARIANT, "N" NUMBER(38,0), "S" VARCHAR(5))`)
	mustExec(`INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("M", "N", "S") SELECT value:m, value:n::NUMBER(38,0), value:s::VARCHAR(5) FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`,
		`[{"m":{"a":1},"n":7,"s":"abc"},{"m":"x","n":"8","s":null}]`)
	rows, err := db.QueryContext(ctx, `SELECT "M", "N", "S" FROM "JUNCTION_DB"."PUBLIC"."T" WHERE "N" > ? ORDER BY "N"`, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var m string
		var n int64
		var s sql.NullString
		if err := rows.Scan(&m, &n, &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, m+"|"+s.String)
	}
	rows.Close()
	if strings.Join(got, ",") != `{"a":1}|abc,"x"|` {
		t.Fatalf("got %v", got)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("M") VALUES (PARSE_JSON(?))`, `{}`)
	if err == nil || !strings.Contains(err.Error(), "VALUES") {
		t.Fatalf("PARSE_JSON in VALUES: %v", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("M", "N") VALUES (?, ?)`, sf.Array([]string{"{}", "{}"}), sf.Array([]int64{1, 2}))
	if err == nil || !strings.Contains(err.Error(), "VARIANT") {
		t.Fatalf("array bind into VARIANT: %v", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("N", "S") VALUES (?, ?)`, sf.Array([]int64{1, 2}), sf.Array([]string{"a", "b"}))
	if err != nil {
		t.Fatalf("array bind into typed columns: %v", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("S") SELECT value:s::VARCHAR FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, `[{"s":"toolong"}]`)
	if err == nil || !strings.Contains(err.Error(), "100074") {
		t.Fatalf("too long: %v", err)
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add(`INSERT INTO "A"."B"."C" ("X") SELECT value:x::NUMBER(38,0) FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`)
	f.Add(`SELECT 'it''s', "a""b" FROM t WHERE x >= 1.5`)
	f.Add(`"unterminated`)
	f.Fuzz(func(t *testing.T, sql string) {
		toks, err := tokenize(sql)
		if err != nil {
			return
		}
		for _, tok := range toks {
			if tok.kind == tQIdent && tok.text == "" {
				t.Fatal("empty quoted identifier")
			}
		}
	})
}

// TestIdleTransactionAborted: an inserting transaction left idle is rolled
// back when another session needs the lock, and its COMMIT then fails.
func TestIdleTransactionAborted(t *testing.T) {
	f := New(t)
	f.IdleTx = 100 * time.Millisecond
	f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."T" ("N" NUMBER(38,0))`)
	ctx := context.Background()
	db1, db2 := open(t, f, false), open(t, f, true)
	tx, err := db1.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("N") SELECT value:n::NUMBER(38,0) FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, `[{"n":1}]`); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.ExecContext(ctx, `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("N") SELECT value:n::NUMBER(38,0) FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, `[{"n":2}]`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), "aborted") {
		t.Fatalf("COMMIT of the aborted transaction: %v", err)
	}
	rows, err := f.Query(`SELECT "N" FROM "JUNCTION_DB"."PUBLIC"."T"`)
	if err != nil || len(rows) != 1 || *rows[0][0] != "2" {
		t.Fatalf("rows %v %v, want only 2", rows, err)
	}
}

// TestArrayBindStageRefused: above CLIENT_STAGE_ARRAY_BINDING_THRESHOLD the
// driver uploads array binds to a temporary stage, which the fake does not
// offer, so such a statement cannot pass a test.
func TestArrayBindStageRefused(t *testing.T) {
	f := New(t)
	f.SetLoginParameter("CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "2")
	f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."T" ("N" NUMBER(38,0), "S" VARCHAR)`)
	db := open(t, f, false)
	_, err := db.ExecContext(context.Background(), `INSERT INTO "JUNCTION_DB"."PUBLIC"."T" ("N", "S") VALUES (?, ?)`, sf.Array([]int64{1, 2}), sf.Array([]string{"a", "b"}))
	if err == nil {
		t.Fatal("array bind above the stage threshold succeeded")
	}
	if rows, _ := f.Query(`SELECT COUNT(*) FROM "JUNCTION_DB"."PUBLIC"."T"`); *rows[0][0] != "0" {
		t.Fatalf("%s rows inserted", *rows[0][0])
	}
}
