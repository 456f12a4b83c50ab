package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestLiveSnowflake runs a sink-to-source round trip against a real
// account. It needs SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_WAREHOUSE,
// SNOWFLAKE_DATABASE and SNOWFLAKE_PRIVATE_KEY (PEM; with
// SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if encrypted) or SNOWFLAKE_PASSWORD;
// SNOWFLAKE_SCHEMA (default PUBLIC) and SNOWFLAKE_ROLE are honoured. It
// creates a table JUNCTION_LIVE_<n> and its offsets table, and drops both.
func TestLiveSnowflake(t *testing.T) {
	env := os.Getenv
	if env("SNOWFLAKE_ACCOUNT") == "" || env("SNOWFLAKE_USER") == "" || env("SNOWFLAKE_WAREHOUSE") == "" || env("SNOWFLAKE_DATABASE") == "" ||
		env("SNOWFLAKE_PRIVATE_KEY") == "" && env("SNOWFLAKE_PASSWORD") == "" {
		t.Skip("set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_DATABASE and SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PASSWORD to run against a real Snowflake account")
	}
	name := fmt.Sprintf("JUNCTION_LIVE_%d", time.Now().UnixNano())
	cfg := map[string]any{
		"account": env("SNOWFLAKE_ACCOUNT"), "user": env("SNOWFLAKE_USER"), "warehouse": env("SNOWFLAKE_WAREHOUSE"),
		"database": env("SNOWFLAKE_DATABASE"), "table": name, "offsets_table": name + "_OFFSETS", "auto_create": true,
		"query_tag": "junction-live-test",
	}
	for k, e := range map[string]string{"private_key": "SNOWFLAKE_PRIVATE_KEY", "private_key_passphrase": "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
		"password": "SNOWFLAKE_PASSWORD", "schema": "SNOWFLAKE_SCHEMA", "role": "SNOWFLAKE_ROLE"} {
		if v := env(e); v != "" {
			cfg[k] = v
		}
	}
	if cfg["private_key"] != nil {
		delete(cfg, "password")
	}
	snk, durable := openSink(t, cfg, "live", 2)
	t.Cleanup(func() {
		for _, tbl := range []string{name, name + "_OFFSETS"} {
			if _, err := snk.db.ExecContext(context.Background(), `DROP TABLE IF EXISTS `+snk.cfg.qualified(tbl)); err != nil {
				t.Logf("drop %s: %v", tbl, err)
			}
		}
	})
	if durable[0] != 0 || durable[1] != 0 {
		t.Fatalf("durable on a new table = %v", durable)
	}
	recs := records(50, 2)
	write(t, snk, recs[:30])
	write(t, snk, recs[20:]) // overlapping replay
	_, durable = openSink(t, cfg, "live", 2)
	if durable[0] != 25 || durable[1] != 25 {
		t.Fatalf("after reopen: durable = %v, want 25 and 25", durable)
	}

	// Read the table back with the source, ordered by partition and offset.
	srcCfg := map[string]any{
		"account": cfg["account"], "user": cfg["user"], "warehouse": cfg["warehouse"], "database": cfg["database"],
		"schema": cfg["schema"], "role": cfg["role"], "private_key": cfg["private_key"], "private_key_passphrase": cfg["private_key_passphrase"],
		"password": cfg["password"], "poll_interval": "1s", "page_size": 20, "value_column": "RECORD_CONTENT",
		"query":           `SELECT RECORD_CONTENT, RECORD_METADATA:partition::NUMBER AS P, RECORD_METADATA:offset::NUMBER AS O FROM ` + snk.table,
		"ordering_column": []any{"P", "O"},
	}
	for k, v := range srcCfg {
		if v == nil {
			delete(srcCfg, k)
		}
	}
	src := openSource(t, srcCfg, nil)
	got, _ := readAll(t, src, 50)
	if len(got) != 50 {
		t.Fatalf("read %d rows, want 50", len(got))
	}
}
