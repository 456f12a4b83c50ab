package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/junctionhq/junction/sdk/connector"
)

// account is the configuration both kinds share: where Snowflake is and
// who the connector is there.
type account struct {
	Account              string        `json:"account" connector:"required" doc:"Account identifier, such as myorg-myaccount: the host name before .snowflakecomputing.com."`
	User                 string        `json:"user" connector:"required" doc:"Login name of the user the connector runs as."`
	PrivateKey           string        `json:"private_key" connector:"secret" doc:"The user's private key in PEM form (PKCS#8, encrypted or not, or PKCS#1) for key-pair (JWT) authentication, the recommended way; pass it with ${ENV} interpolation. Set this or password."`
	PrivateKeyPassphrase string        `json:"private_key_passphrase" connector:"secret" doc:"Passphrase of an encrypted private_key."`
	Password             string        `json:"password" connector:"secret" doc:"Password authentication, if the user has no key pair. Set this or private_key."`
	Role                 string        `json:"role" doc:"Role to use; empty for the user's default role."`
	Warehouse            string        `json:"warehouse" connector:"required" doc:"Warehouse that runs the connector's statements. It resumes when a statement comes and bills per second while running: give it a short AUTO_SUSPEND (60s)."`
	Database             string        `json:"database" connector:"required" doc:"Database of the table. Like every object name here it is upper-cased unless written in double quotes, as in Snowflake SQL (in YAML: '\"MyDb\"'), and it is always sent quoted."`
	Schema               string        `json:"schema" default:"PUBLIC" doc:"Schema of the table."`
	QueryTag             string        `json:"query_tag" default:"junction" doc:"QUERY_TAG of the connector's sessions, to find its statements and their cost in QUERY_HISTORY."`
	URL                  string        `json:"url" doc:"Service URL, for PrivateLink or a proxy, such as https://myorg-myaccount.privatelink.snowflakecomputing.com; default https://<account>.snowflakecomputing.com. http is accepted only for a loopback host."`
	Retries              int           `json:"retries" default:"7" doc:"Times the driver retries a request after a transport error or a 5xx/429 answer, with backoff from 1s to 16s."`
	LoginTimeout         time.Duration `json:"login_timeout" default:"60s" doc:"How long a login may take, retries included."`
}

func (a account) validate() connector.FieldErrors {
	var errs connector.FieldErrors
	add := func(field, msg string) { errs = append(errs, connector.FieldError{Field: field, Message: msg}) }
	switch {
	case a.PrivateKey == "" && a.Password == "":
		add("private_key", "set private_key (recommended) or password")
	case a.PrivateKey != "" && a.Password != "":
		add("password", "set private_key or password, not both")
	case a.PrivateKey != "":
		if _, err := parsePrivateKey([]byte(a.PrivateKey), []byte(a.PrivateKeyPassphrase)); err != nil {
			add("private_key", err.Error())
		}
	}
	if a.PrivateKeyPassphrase != "" && a.PrivateKey == "" {
		add("private_key_passphrase", "set only with private_key")
	}
	for _, f := range []struct{ name, value string }{{"role", a.Role}, {"warehouse", a.Warehouse}, {"database", a.Database}, {"schema", a.Schema}} {
		if f.value != "" {
			if _, err := identifier(f.value); err != nil {
				add(f.name, err.Error())
			}
		}
	}
	if a.URL != "" {
		if _, _, _, err := parseURL(a.URL); err != nil {
			add("url", err.Error())
		}
	}
	if a.Retries < 1 {
		add("retries", "must be at least 1")
	}
	if a.LoginTimeout <= 0 {
		add("login_timeout", "must be positive")
	}
	return errs
}

func parseURL(s string) (protocol, host string, port int, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", 0, err
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", "", 0, fmt.Errorf("want https://host[:port], got %q", s)
	}
	port = 443
	if u.Scheme == "http" {
		port = 80
		// Logins would cross the network in clear text.
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", "", 0, fmt.Errorf("http is allowed only for a loopback host; use https://%s", u.Host)
		}
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", "", 0, fmt.Errorf("bad port in %q", s)
		}
	}
	return u.Scheme, u.Hostname(), port, nil
}

var (
	simpleIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
	quietDriver sync.Once
)

// identifier resolves a configured object name as Snowflake resolves an
// identifier: a bare name is upper-cased, a name in double quotes is taken
// exactly (with "" standing for "). Anything else is taken exactly too, so
// a hostile name stays one name.
func identifier(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
		if s == "" {
			return "", errors.New("must not be empty")
		}
	} else if simpleIdent.MatchString(s) {
		s = strings.ToUpper(s)
	}
	if len(s) > 255 {
		return "", errors.New("is longer than 255 characters")
	}
	if strings.ContainsRune(s, 0) {
		return "", errors.New("contains a NUL character")
	}
	return s, nil
}

// quoteIdent renders a resolved name as a quoted Snowflake identifier.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// mustIdent resolves a name that validation already accepted.
func mustIdent(s string) string {
	name, err := identifier(s)
	if err != nil {
		panic(err)
	}
	return name
}

// qualified is database.schema.name, quoted.
func (a account) qualified(name string) string {
	return quoteIdent(mustIdent(a.Database)) + "." + quoteIdent(mustIdent(a.Schema)) + "." + quoteIdent(name)
}

// openDB connects to Snowflake and logs in once, so that bad credentials
// and missing objects surface here, as fatal errors.
func openDB(ctx context.Context, a account) (*sql.DB, error) {
	// The driver would otherwise probe cloud metadata endpoints
	// (169.254.169.254 and others) on its first connection. The plugin
	// runs with a clean environment, so it sets this itself.
	_ = os.Setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
	if os.Getenv("HOME") == "" && os.Getenv("SF_OCSP_RESPONSE_CACHE_DIR") == "" {
		if dir := privateCacheDir(); dir != "" {
			_ = os.Setenv("SF_OCSP_RESPONSE_CACHE_DIR", dir)
		}
	}
	quietDriver.Do(func() {
		// Errors reach the host through return values; the driver's own
		// log lines would only repeat them (and could carry SQL text).
		sf.GetLogger().SetOutput(io.Discard)
	})
	tag := a.QueryTag
	cfg := sf.Config{
		Account:          a.Account,
		User:             a.User,
		Warehouse:        quoteIdent(mustIdent(a.Warehouse)),
		Database:         quoteIdent(mustIdent(a.Database)),
		Schema:           quoteIdent(mustIdent(a.Schema)),
		MaxRetryCount:    a.Retries,
		LoginTimeout:     a.LoginTimeout,
		Application:      "Junction",
		DisableTelemetry: true,
		Params:           map[string]*string{"query_tag": &tag},
	}
	if a.Role != "" {
		cfg.Role = quoteIdent(mustIdent(a.Role))
	}
	if a.URL != "" {
		var err error
		if cfg.Protocol, cfg.Host, cfg.Port, err = parseURL(a.URL); err != nil {
			return nil, connector.Fatal(fmt.Errorf("url: %w", err))
		}
	}
	if a.PrivateKey != "" {
		key, err := parsePrivateKey([]byte(a.PrivateKey), []byte(a.PrivateKeyPassphrase))
		if err != nil {
			return nil, connector.Fatal(fmt.Errorf("private_key: %w", err))
		}
		cfg.Authenticator = sf.AuthTypeJwt
		cfg.PrivateKey = key
	} else {
		cfg.Password = a.Password
	}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, cfg))
	db.SetMaxIdleConns(2)
	// A session's tokens lapse after hours without use, and a connection
	// whose session lapsed keeps failing; logging in again is cheap (it
	// does not resume the warehouse).
	db.SetConnMaxIdleTime(20 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, classify(fmt.Errorf("log in to Snowflake account %s as %s (warehouse %s, database %s, schema %s): %w",
			a.Account, a.User, cfg.Warehouse, cfg.Database, cfg.Schema, err))
	}
	return db, nil
}

// classify marks err for the host: fatal when retrying cannot help (bad
// credentials, a missing or unauthorised object, bad SQL), retryable
// otherwise. Context errors pass unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sf.SnowflakeError
	if errors.As(err, &se) {
		switch {
		case se.Number == sf.ErrCodeFailedToConnect,
			se.Number >= 390100 && se.Number <= 390299 && se.Number != 390112 && se.Number != 390114,
			se.Number == 2003, se.Number == 1003, se.Number == 3001, se.Number == 606,
			se.Number >= 2000 && se.Number < 3000,
			strings.HasPrefix(se.SQLState, "42"), strings.HasPrefix(se.SQLState, "28"):
			return connector.Fatal(err)
		}
	}
	return connector.Retryable(err)
}

// dataError reports whether err is Snowflake refusing a value (a string
// too long, a number it cannot parse): the fault of a record, not of the
// statement.
func dataError(err error) bool {
	var se *sf.SnowflakeError
	if !errors.As(err, &se) {
		return false
	}
	return se.Number >= 100000 && se.Number < 101000
}
