package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
)

// TestSinkOpenErrors checks that what retrying cannot mend fails Open as a
// fatal error naming the field or object.
func TestSinkOpenErrors(t *testing.T) {
	f := sffake.New(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"wrong password", map[string]any{"private_key": nil, "password": "nope"}, "Incorrect username or password"},
		{"wrong key", map[string]any{"private_key": pemPKCS8(t, other)}, "JWT token is invalid"},
		{"wrong user", map[string]any{"user": "mallory"}, "JWT token is invalid"},
		{"missing warehouse", map[string]any{"warehouse": "NO_WH"}, "warehouse does not exist"},
		{"missing database", map[string]any{"database": "NO_DB"}, "database does not exist"},
		{"missing schema", map[string]any{"schema": "NO_SCHEMA"}, "schema does not exist"},
		{"missing table", map[string]any{"auto_create": false}, `table "JUNCTION_DB"."PUBLIC"."EVENTS" does not exist`},
		{"hostile database", map[string]any{"database": `JUNCTION_DB"."PUBLIC"."X"; DROP TABLE "EVENTS"; --`}, "database does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logins := f.Logins()
			_, _, err := tryOpenSink(fakeConfig(f, tc.extra), "orders", 1)
			if err == nil || !errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want a fatal error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), sffake.Password) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error shows a secret: %v", err)
			}
			if f.Logins()-logins > 1 {
				t.Fatalf("%d logins for one Open", f.Logins()-logins)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	f := sffake.New(t)
	for _, tc := range []struct {
		extra map[string]any
		field string
	}{
		{map[string]any{"private_key": nil}, "private_key"},
		{map[string]any{"password": "x"}, "password"},
		{map[string]any{"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "private_key"},
		{map[string]any{"private_key": "not pem"}, "private_key"},
		{map[string]any{"table": ""}, "table"},
		{map[string]any{"offsets_table": "events"}, "offsets_table"},
		{map[string]any{"url": "ftp://x"}, "url"},
		{map[string]any{"url": "http://myorg-myaccount.snowflakecomputing.com"}, "url"},
		{map[string]any{"max_statement_bytes": "64MiB"}, "max_statement_bytes"},
		{map[string]any{"mode": "rows"}, "mode"},
		{map[string]any{"retries": 0}, "retries"},
	} {
		_, err := definition().Sink.Decode(fakeConfig(f, tc.extra))
		var fes connector.FieldErrors
		if !errors.As(err, &fes) || !named(fes, tc.field) {
			t.Errorf("config %v: %v, want a field error naming %s", tc.extra, err, tc.field)
		}
	}
}

func named(fes connector.FieldErrors, field string) bool {
	for _, fe := range fes {
		if fe.Field == field {
			return true
		}
	}
	return false
}

// TestEncryptedKey logs in with a PBES2-encrypted PKCS#8 key.
func TestEncryptedKey(t *testing.T) {
	f := sffake.New(t)
	enc := encryptPKCS8(t, f.Key, "correct horse")
	if _, err := definition().Sink.Decode(fakeConfig(f, map[string]any{"private_key": enc, "private_key_passphrase": "wrong"})); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := definition().Sink.Decode(fakeConfig(f, map[string]any{"private_key": enc})); err == nil || !strings.Contains(err.Error(), "private_key_passphrase") {
		t.Fatalf("no passphrase: %v", err)
	}
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"private_key": enc, "private_key_passphrase": "correct horse"}), "orders", 1)
	write(t, snk, records(3, 1))
	// PKCS#1 too.
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.Key)}))
	openSink(t, fakeConfig(f, map[string]any{"private_key": pkcs1}), "orders", 1)
}

func pemPKCS8(t testing.TB, key *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// encryptPKCS8 writes key as `openssl pkcs8 -topk8 -v2 aes256` does.
func encryptPKCS8(t testing.TB, key *rsa.PrivateKey, pass string) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	salt, iv := make([]byte, 16), make([]byte, 16)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(iv)
	dk := pbkdf2SHA256(pass, salt, 2048, 32)
	block, _ := aes.NewCipher(dk)
	pad := 16 - len(der)%16
	plain := append(der, bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	kdfParams, _ := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: 2048, PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue}})
	ivDER, _ := asn1.Marshal(iv)
	pbes2, _ := asn1.Marshal(pbes2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		Scheme: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: pbes2}}, Data: ct})
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}))
}

// TestSinkHostileIdentifiers writes to tables whose names try to break
// out of their quotes; each name stays one table.
func TestSinkHostileIdentifiers(t *testing.T) {
	f := sffake.New(t)
	f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."VICTIM" ("X" NUMBER(38,0))`)
	for _, name := range []string{`x"; DROP TABLE "VICTIM"; --`, `"a""b"`, `events; DELETE FROM VICTIM`, `ünï "co" de`} {
		snk, _ := openSink(t, fakeConfig(f, map[string]any{"table": name, "offsets_table": name + "_off"}), "orders", 1)
		write(t, snk, records(5, 1))
		resolved, _ := identifier(name)
		got, err := readVariant(f, `"JUNCTION_DB"."PUBLIC".`+quoteIdent(resolved))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameRecords(t, got, records(5, 1))
	}
	if _, err := f.Query(`SELECT COUNT(*) FROM "JUNCTION_DB"."PUBLIC"."VICTIM"`); err != nil {
		t.Fatalf("the VICTIM table is gone: %v", err)
	}
}

// TestSinkValueTooLarge reports a record larger than a VARIANT holds, and
// only it, in a BatchError.
func TestSinkValueTooLarge(t *testing.T) {
	f := sffake.New(t)
	snk, _ := openSink(t, fakeConfig(f, nil), "orders", 1)
	recs := records(5, 1)
	recs[2].Value = bytes.Repeat([]byte("a"), maxVariant+1)
	err := snk.Write(context.Background(), recs)
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[2] == nil || !strings.Contains(be.Failed[2].Error(), "VARIANT") {
		t.Fatalf("Write: %v, want a BatchError for record 2 only", err)
	}
	got, err := readVariant(f, table)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, append(append([]connector.Record(nil), recs[:2]...), recs[3:]...))
	_, durable := openSink(t, fakeConfig(f, nil), "orders", 1)
	if durable[0] != 5 {
		t.Fatalf("durable = %v, want 5: the failed record counts as handled", durable)
	}
}

// TestSink5xxRetried answers the first INSERT with 503; the driver retries
// it and the records land once.
func TestSink5xxRetried(t *testing.T) {
	f := sffake.New(t)
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"retries": 2}), "orders", 1)
	var failures atomic.Int32
	f.SetFault(func(sqlText string) sffake.Action {
		if strings.HasPrefix(sqlText, "INSERT INTO "+table) && failures.Add(1) == 1 {
			return sffake.Fail5xx
		}
		return sffake.Serve
	})
	write(t, snk, records(10, 1))
	if failures.Load() < 2 {
		t.Fatalf("the INSERT was not retried")
	}
	got, err := readVariant(f, table)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, records(10, 1))

	// Past the retries, the error is retryable for the host.
	snk, _ = openSink(t, fakeConfig(f, nil), "orders", 1)
	f.SetFault(func(string) sffake.Action { return sffake.Fail5xx })
	err = snk.Write(context.Background(), records(20, 1)[10:])
	if !errors.Is(err, connector.ErrRetryable) {
		t.Fatalf("Write against a failing service: %v, want a retryable error", err)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(pemPKCS8(f, key)), []byte(""))
	f.Add([]byte(encryptPKCS8(f, key, "pw")), []byte("pw"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, pemBytes, pass []byte) {
		k, err := parsePrivateKey(pemBytes, pass)
		if err == nil && k == nil {
			t.Fatal("nil key without an error")
		}
	})
}

func pbkdf2SHA256(pass string, salt []byte, iter, n int) []byte {
	k, err := pbkdf2.Key(sha256.New, pass, salt, iter, n)
	if err != nil {
		panic(err)
	}
	return k
}
