// Package sffake is an in-process, loopback fake of Snowflake's service at
// the protocol level that gosnowflake speaks: login with a password or a
// key-pair JWT it verifies, query requests with bindings, result polling,
// transactions and session end. Its tables hold rows in SQLite
// (modernc.org/sqlite); the fake translates the statement forms Junction's
// Snowflake connector issues and refuses the forms real Snowflake refuses
// (PARSE_JSON inside VALUES, binds into VARIANT columns through VALUES),
// so a test cannot pass with SQL that would fail against a real account.
//
// It is for tests only.
package sffake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	_ "modernc.org/sqlite" // the fake's table storage
)

// Account, User, Password, Database, Schema and Warehouse are what New
// registers.
const (
	Account   = "testacct"
	User      = "tester"
	Password  = "s3cret-pass"
	Database  = "JUNCTION_DB"
	Schema    = "PUBLIC"
	Warehouse = "JUNCTION_WH"
)

// Fault lets a test interfere with a query request: it sees the SQL text
// of every attempt (the driver's retries included) and returns what to do.
type Fault func(sqlText string) Action

// Action is what a Fault asks the fake to do with a request.
type Action int

// Actions.
const (
	// Serve the request normally.
	Serve Action = iota
	// Fail5xx answers 503 without running the statement.
	Fail5xx
	// LoseReply runs the statement, then drops the connection without
	// answering.
	LoseReply
)

// Server is a running fake.
type Server struct {
	// URL is the fake's base URL, http://127.0.0.1:port.
	URL string
	// Host and Port split URL.
	Host string
	Port int
	// Key is the registered user's RSA key pair for JWT login.
	Key *rsa.PrivateKey
	// IdleTx is how long a transaction that only inserted may sit idle
	// before a writer that needs the lock rolls it back (see execWaiting);
	// 2s unless changed before use.
	IdleTx time.Duration

	srv *httptest.Server
	db  *sql.DB

	mu         sync.Mutex
	databases  map[string]map[string]bool
	warehouses map[string]bool
	sessions   map[string]*session
	replies    map[string][]byte // by requestId, for retried requests
	results    map[string][]byte // by query id, for result polling
	fault      Fault
	logins     int
	statements []string
	params     map[string]string
	busy       time.Duration
}

type session struct {
	mu   sync.Mutex
	conn *sql.Conn
	inTx bool
	// txLocks is set when the open transaction ran a DELETE or UPDATE,
	// which in Snowflake hold table locks until the transaction ends.
	txLocks bool
	// aborted is set when the fake rolled the session's transaction back
	// (see preemptIdle); its next statement fails, as Snowflake fails
	// statements of an aborted transaction.
	aborted                     bool
	lastUsed                    time.Time
	database, schema, warehouse string
	params                      map[string]string
}

// New starts a fake with the account, user, database, schema and
// warehouse above; it stops at test cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	registerFuncs()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snowflake.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{
		Key:        key,
		IdleTx:     2 * time.Second,
		db:         db,
		databases:  map[string]map[string]bool{Database: {Schema: true}},
		warehouses: map[string]bool{Warehouse: true},
		sessions:   map[string]*session{},
		replies:    map[string][]byte{},
		results:    map[string][]byte{},
		// What a real account sends: array binds of more values than
		// this go through a stage upload, which the fake refuses.
		params: map[string]string{"CLIENT_STAGE_ARRAY_BINDING_THRESHOLD": "65280"},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	u, _ := url.Parse(f.URL)
	f.Host = u.Hostname()
	f.Port, _ = strconv.Atoi(u.Port())
	t.Cleanup(f.Close)
	return f
}

// Close stops the server and drops every session.
func (f *Server) Close() {
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.mu.Lock()
	for tok, s := range f.sessions {
		_ = s.conn.Close()
		delete(f.sessions, tok)
	}
	f.mu.Unlock()
	_ = f.db.Close()
}

// PrivateKeyPEM is the registered key in PKCS#8 PEM form.
func (f *Server) PrivateKeyPEM() string {
	der, _ := x509.MarshalPKCS8PrivateKey(f.Key)
	return "-----BEGIN PRIVATE KEY-----\n" + wrap64(base64.StdEncoding.EncodeToString(der)) + "-----END PRIVATE KEY-----\n"
}

func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}

// SetFault installs a fault hook for query requests; nil removes it.
func (f *Server) SetFault(fault Fault) {
	f.mu.Lock()
	f.fault = fault
	f.mu.Unlock()
}

// SetLoginParameter makes logins return a session parameter, such as
// CLIENT_STAGE_ARRAY_BINDING_THRESHOLD.
func (f *Server) SetLoginParameter(name, value string) {
	f.mu.Lock()
	f.params[name] = value
	f.mu.Unlock()
}

// Logins counts successful logins.
func (f *Server) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Sessions counts the open sessions.
func (f *Server) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// Statements returns the SQL text of every query request served.
func (f *Server) Statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.statements...)
}

// SessionParams returns the session parameters of every open session.
func (f *Server) SessionParams() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]string
	for _, s := range f.sessions {
		out = append(out, s.params)
	}
	return out
}

// Exec runs statements directly, as the test's own admin session (with
// the fake's database, schema and warehouse).
func (f *Server) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	if _, err := f.Query(stmts...); err != nil {
		t.Fatal(err)
	}
}

// ExecArgs runs one statement as the test's admin session, binding args
// as text to its ? parameters in order.
func (f *Server) ExecArgs(t testing.TB, stmt string, args ...string) {
	t.Helper()
	binds := map[string]binding{}
	for i, a := range args {
		v, _ := json.Marshal(a)
		binds[strconv.Itoa(i+1)] = binding{Type: "TEXT", Value: v}
	}
	if _, err := f.admin(stmt, binds); err != nil {
		t.Fatal(err)
	}
}

// Query runs statements as an admin session and returns the rows of the
// last, as strings (nil for NULL).
func (f *Server) Query(stmts ...string) ([][]*string, error) {
	var rows [][]*string
	for _, q := range stmts {
		var err error
		if rows, err = f.admin(q, nil); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (f *Server) admin(stmt string, binds map[string]binding) ([][]*string, error) {
	ctx := context.Background()
	conn, err := f.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 20"); err != nil {
		return nil, err
	}
	s := &session{conn: conn, database: Database, schema: Schema, warehouse: Warehouse}
	defer conn.Close()
	res, err := f.execWaiting(ctx, s, stmt, binds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}
	return res.rowset, nil
}

// AddDatabase registers a database with a PUBLIC schema.
func (f *Server) AddDatabase(name string) {
	f.mu.Lock()
	f.databases[name] = map[string]bool{"PUBLIC": true}
	f.mu.Unlock()
}

type reply struct {
	Success bool   `json:"success"`
	Code    any    `json:"code"`
	Message any    `json:"message"`
	Data    any    `json:"data"`
	Status  int    `json:"-"`
	Raw     []byte `json:"-"`
}

// Busy is the total time the fake spent answering requests, to tell the
// client's share of a benchmark from the fake's.
func (f *Server) Busy() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.busy
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		f.mu.Lock()
		f.busy += time.Since(start)
		f.mu.Unlock()
	}()
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/session/v1/login-request":
		f.write(w, f.login(r, body))
	case r.Method == http.MethodPost && r.URL.Path == "/telemetry/send",
		r.Method == http.MethodPost && r.URL.Path == "/session/heartbeat",
		r.Method == http.MethodPost && r.URL.Path == "/queries/v1/abort-request":
		f.write(w, reply{Success: true})
	case r.Method == http.MethodPost && r.URL.Path == "/session" && r.URL.Query().Get("delete") == "true":
		f.endSession(r)
		f.write(w, reply{Success: true})
	case r.Method == http.MethodPost && r.URL.Path == "/queries/v1/query-request":
		f.queryRequest(w, r, body)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/queries/") && strings.HasSuffix(r.URL.Path, "/result"):
		if f.session(r) == nil {
			f.write(w, reply{Success: false, Code: "390104", Message: "Session no longer exists."})
			return
		}
		qid := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/queries/"), "/result")
		f.mu.Lock()
		b, ok := f.results[qid]
		delete(f.results, qid)
		f.mu.Unlock()
		if !ok {
			f.write(w, reply{Success: false, Code: "000709", Message: "Statement " + qid + " not found"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (f *Server) write(w http.ResponseWriter, rep reply) {
	b, _ := json.Marshal(rep)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

type loginRequest struct {
	Data struct {
		AccountName   string            `json:"ACCOUNT_NAME"`
		LoginName     string            `json:"LOGIN_NAME"`
		Password      string            `json:"PASSWORD"`
		Authenticator string            `json:"AUTHENTICATOR"`
		Token         string            `json:"TOKEN"`
		SessionParams map[string]any    `json:"SESSION_PARAMETERS"`
		ClientEnv     map[string]any    `json:"CLIENT_ENVIRONMENT"`
		Extra         map[string]string `json:"-"`
	} `json:"data"`
}

func loginFailure(code, msg string) reply {
	return reply{Success: false, Code: code, Message: msg}
}

func (f *Server) login(r *http.Request, body []byte) reply {
	var req loginRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return loginFailure("390100", "Incorrect username or password was specified.")
	}
	d := req.Data
	if !strings.EqualFold(d.AccountName, Account) {
		return loginFailure("390100", "Incorrect username or password was specified.")
	}
	switch d.Authenticator {
	case "":
		if !strings.EqualFold(d.LoginName, User) || d.Password != Password {
			return loginFailure("390100", "Incorrect username or password was specified.")
		}
	case "SNOWFLAKE_JWT":
		if err := f.verifyJWT(d.Token); err != nil {
			return loginFailure("390144", "JWT token is invalid. "+err.Error())
		}
	default:
		return loginFailure("390100", "Unsupported authenticator "+d.Authenticator)
	}
	q := r.URL.Query()
	s := &session{database: strings.ToUpper(q.Get("databaseName")), schema: strings.ToUpper(q.Get("schemaName")), warehouse: strings.ToUpper(q.Get("warehouse")), params: map[string]string{}}
	unquote := func(v string) string {
		if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
			return strings.ReplaceAll(v[1:len(v)-1], `""`, `"`)
		}
		return v
	}
	s.database, s.schema, s.warehouse = unquote(q.Get("databaseName")), unquote(q.Get("schemaName")), unquote(q.Get("warehouse"))
	if s.database == q.Get("databaseName") {
		s.database = strings.ToUpper(s.database)
	}
	if s.schema == q.Get("schemaName") {
		s.schema = strings.ToUpper(s.schema)
	}
	if s.warehouse == q.Get("warehouse") {
		s.warehouse = strings.ToUpper(s.warehouse)
	}
	for k, v := range d.SessionParams {
		s.params[strings.ToUpper(k)] = fmt.Sprint(v)
	}
	f.mu.Lock()
	schemas, dbOK := f.databases[s.database]
	whOK := f.warehouses[s.warehouse]
	params := make([]map[string]any, 0, len(f.params)+1)
	params = append(params, map[string]any{"name": "TIMEZONE", "value": "UTC"})
	for k, v := range f.params {
		params = append(params, map[string]any{"name": k, "value": v})
	}
	f.mu.Unlock()
	switch {
	case s.database != "" && !dbOK:
		return loginFailure("390201", fmt.Sprintf("The requested database does not exist or not authorized. Database '%s'.", s.database))
	case s.schema != "" && !schemas[s.schema]:
		return loginFailure("390201", fmt.Sprintf("The requested schema does not exist or not authorized. Schema '%s'.", s.schema))
	case s.warehouse != "" && !whOK:
		return loginFailure("390201", fmt.Sprintf("The requested warehouse does not exist or not authorized. Warehouse '%s'.", s.warehouse))
	}
	conn, err := f.db.Conn(context.Background())
	if err != nil {
		return loginFailure("390100", err.Error())
	}
	if _, err := conn.ExecContext(context.Background(), "PRAGMA busy_timeout = 20"); err != nil {
		return loginFailure("390100", err.Error())
	}
	s.conn = conn
	token := randomHex()
	f.mu.Lock()
	f.sessions[token] = s
	f.logins++
	f.mu.Unlock()
	return reply{Success: true, Data: map[string]any{
		"token": token, "masterToken": randomHex(), "sessionId": 4242,
		"validityInSeconds": 3600, "masterValidityInSeconds": 14400,
		"parameters": params,
		"sessionInfo": map[string]any{
			"databaseName": s.database, "schemaName": s.schema, "warehouseName": s.warehouse, "roleName": "PUBLIC",
		},
	}}
}

func (f *Server) verifyJWT(tok string) error {
	der, err := x509.MarshalPKIXPublicKey(&f.Key.PublicKey)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(der)
	fp := "SHA256:" + base64.StdEncoding.EncodeToString(sum[:])
	want := strings.ToUpper(Account) + "." + strings.ToUpper(User)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if t.Method.Alg() != "RS256" {
			return nil, fmt.Errorf("unexpected algorithm %s", t.Method.Alg())
		}
		return &f.Key.PublicKey, nil
	}, jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute))
	if err != nil {
		return err
	}
	if iss, _ := claims["iss"].(string); iss != want+"."+fp {
		return fmt.Errorf("issuer %q is not %q", iss, want+"."+fp)
	}
	if sub, _ := claims["sub"].(string); sub != want {
		return fmt.Errorf("subject %q is not %q", sub, want)
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *Server) session(r *http.Request) *session {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, `Snowflake Token="`)
	if !ok {
		return nil
	}
	tok = strings.TrimSuffix(tok, `"`)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[tok]
}

func (f *Server) endSession(r *http.Request) {
	s := f.session(r)
	if s == nil {
		return
	}
	tok := strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Authorization"), `Snowflake Token="`), `"`)
	f.mu.Lock()
	delete(f.sessions, tok)
	f.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inTx {
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	_ = s.conn.Close()
}

type queryRequest struct {
	SQLText  string             `json:"sqlText"`
	Bindings map[string]binding `json:"bindings"`
}

func (f *Server) queryRequest(w http.ResponseWriter, r *http.Request, body []byte) {
	s := f.session(r)
	if s == nil {
		f.write(w, reply{Success: false, Code: "390104", Message: "Session no longer exists.  New login required to access the service."})
		return
	}
	var req queryRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	requestID := r.URL.Query().Get("requestId")
	f.mu.Lock()
	fault := f.fault
	cached, seen := f.replies[requestID]
	f.statements = append(f.statements, req.SQLText)
	f.mu.Unlock()
	action := Serve
	if fault != nil {
		action = fault(req.SQLText)
	}
	if action == Fail5xx {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if !seen {
		cached = f.run(s, req)
		f.mu.Lock()
		if len(f.replies) > 10000 {
			clear(f.replies)
		}
		f.replies[requestID] = cached
		f.mu.Unlock()
	}
	if action == LoseReply {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(cached)
}

// run executes a query request and encodes the reply. SELECT results are
// answered as "in progress" first, so the driver polls for them.
func (f *Server) run(s *session, req queryRequest) []byte {
	s.mu.Lock()
	res, err := f.execWaiting(context.Background(), s, req.SQLText, req.Bindings)
	s.lastUsed = time.Now()
	s.mu.Unlock()
	qid := randomHex()
	if err != nil {
		se, ok := err.(*sqlError)
		if !ok {
			se = &sqlError{code: "000603", state: "XX000", msg: err.Error()}
		}
		b, _ := json.Marshal(reply{Success: false, Code: se.code, Message: se.msg, Data: map[string]any{"sqlState": se.state, "queryId": qid}})
		return b
	}
	rowset := res.rowset
	if rowset == nil {
		rowset = [][]*string{}
	}
	rowtype := res.rowtype
	if rowtype == nil {
		rowtype = []rowType{{Name: "status", Type: "text", Length: 1024, ByteLen: 4096, Nullable: true}}
		ok := "Statement executed successfully."
		rowset = [][]*string{{&ok}}
	}
	data := map[string]any{
		"queryId": qid, "statementTypeId": res.stmtType, "rowtype": rowtype, "rowset": rowset,
		"total": len(rowset), "returned": len(rowset), "queryResultFormat": "json",
		"parameters": []any{},
	}
	final, _ := json.Marshal(reply{Success: true, Data: data})
	if res.stmtType != stmtSelect {
		return final
	}
	f.mu.Lock()
	f.results[qid] = final
	f.mu.Unlock()
	b, _ := json.Marshal(reply{Success: true, Code: "333333", Message: "Query execution in progress", Data: map[string]any{
		"queryId": qid, "getResultUrl": "/queries/" + qid + "/result",
	}})
	return b
}

// execWaiting runs a statement, waiting while other sessions hold the
// write lock. SQLite has one writer at a time where Snowflake lets
// INSERTs of different transactions run side by side; to model that, a
// transaction of another session that only inserted and has been idle
// for IdleTx (its client is gone: it can never commit) is rolled back,
// as Snowflake does with the transaction of a session that ended; the
// session's next statement fails. A
// transaction holding DELETE or UPDATE locks is waited for, as Snowflake
// waits for its lock, until the lock timeout.
func (f *Server) execWaiting(ctx context.Context, s *session, text string, binds map[string]binding) (*result, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := f.exec(ctx, s, text, binds)
		se, ok := err.(*sqlError)
		if !ok || se.code != "000625" || time.Now().After(deadline) {
			return res, err
		}
		f.preemptIdle(s)
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *Server) preemptIdle(self *session) {
	f.mu.Lock()
	others := make([]*session, 0, len(f.sessions))
	for _, o := range f.sessions {
		if o != self {
			others = append(others, o)
		}
	}
	f.mu.Unlock()
	for _, o := range others {
		if !o.mu.TryLock() {
			continue
		}
		if o.inTx && !o.txLocks && time.Since(o.lastUsed) > f.IdleTx {
			_, _ = o.conn.ExecContext(context.Background(), "ROLLBACK")
			o.inTx, o.aborted = false, true
		}
		o.mu.Unlock()
	}
}
