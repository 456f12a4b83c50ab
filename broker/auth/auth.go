package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker/meta"
	"github.com/junctionhq/junction/internal/names"
)

// Errors callers branch on; the interceptor maps them to connect codes.
var (
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrPermissionDenied = errors.New("permission denied")
	ErrInvalid          = errors.New("invalid argument")
	ErrNotFound         = errors.New("not found")
	ErrExists           = errors.New("already exists")
	// ErrTokenRevoked ends calls whose token was revoked or whose user
	// was deleted or changed.
	ErrTokenRevoked = errors.New("credentials revoked")
	// ErrTokenExpired ends calls whose token expired.
	ErrTokenExpired = errors.New("token expired")
	// ErrCatchingUp: this cluster node does not yet know the cluster's
	// users, so it can neither serve a caller as open nor tell an unknown
	// token from one minted elsewhere. Retry shortly, or on another node.
	ErrCatchingUp = errors.New("node is catching up with the cluster")

	// errUnknownToken and errUnknownUser name credentials no one known
	// here holds: on a cluster member, perhaps not yet applied here.
	errUnknownToken = errors.New("unknown or revoked token")
	errUnknownUser  = errors.New("no user")
)

// Mode says when authentication is on.
type Mode string

const (
	// ModeAuto turns authentication on once a user exists; a broker with
	// no users is open (and the server listens on loopback only).
	ModeAuto Mode = "auto"
	// ModeRequired turns it on from the start: with no users, only a
	// loopback caller may create the first one.
	ModeRequired Mode = "required"
)

// ParseMode parses a mode's name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeAuto, ModeRequired:
		return Mode(s), nil
	case "":
		return ModeAuto, nil
	}
	return "", fmt.Errorf("auth mode must be auto or required, got %q", s)
}

// Options configures an Auth.
type Options struct {
	// Store keeps users and tokens. Required.
	Store meta.AuthStore
	// Mode says when authentication is on. Default ModeAuto.
	Mode Mode
	// Logger receives audit lines. Default slog.Default().
	Logger *slog.Logger
	// Clock is the time source. Default time.Now.
	Clock func() time.Time
	// LoginTTL is the lifetime of tokens Login issues. Default 30 days.
	LoginTTL time.Duration
	// OpenToAnyAddress lets callers from any address use a broker with no
	// users (junction server --insecure). By default only loopback callers
	// may.
	OpenToAnyAddress bool
	// CaughtUp reports, for a cluster member, whether its store holds
	// the cluster's users and tokens (it has applied what the cluster had
	// committed when it started). Until it does, a caller without
	// credentials, and one whose token or certificate names nobody known
	// here, fails with ErrCatchingUp. Nil: always caught up.
	CaughtUp func() bool
	// SyncWithLeader, for a cluster member, waits until it holds every
	// user and token the cluster had committed when it was called. A
	// token or certificate user unknown here is looked up again after it,
	// so that a token minted on the leader a moment ago authenticates on
	// every node. Nil: nothing to wait for.
	SyncWithLeader func(ctx context.Context) error
}

// user is a user's stored record.
type user struct {
	Name         string    `json:"name"`
	Role         string    `json:"role,omitempty"`
	Grants       []string  `json:"grants,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	CreatedAt    time.Time `json:"created_at"`

	grants []Grant // role's and own, parsed
}

// token is a token's stored record: the secret only as its SHA-256 (a
// token's secret is 256 random bits, so a fast hash is enough).
type token struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Description string    `json:"description,omitempty"`
	Hash        []byte    `json:"hash"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Grants      []string  `json:"grants,omitempty"`

	grants []Grant
}

// Auth authenticates callers and holds users and tokens, in memory and in
// the store. It is safe for concurrent use.
type Auth struct {
	opts Options
	log  *slog.Logger

	// mu guards users and tokens; writes hold it across the store write
	// so memory and store agree. Lock order: mu, then liveMu.
	mu     sync.RWMutex
	users  map[string]*user
	tokens map[string]*token

	liveMu sync.Mutex
	live   map[*liveCall]struct{}

	// kdf bounds the password hashes computed at once: each takes 64 MiB,
	// so logins cannot exhaust memory however many arrive.
	kdf chan struct{}
	// dummyHash is checked for unknown users, so a failed login takes as
	// long whether or not the name exists.
	dummyHash func() string
}

// New loads users and tokens from opts.Store.
func New(opts Options) (*Auth, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	if opts.Mode == "" {
		opts.Mode = ModeAuto
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.LoginTTL <= 0 {
		opts.LoginTTL = 30 * 24 * time.Hour
	}
	a := &Auth{opts: opts, log: opts.Logger, users: map[string]*user{}, tokens: map[string]*token{}, live: map[*liveCall]struct{}{},
		kdf: make(chan struct{}, maxConcurrentKDF)}
	a.dummyHash = sync.OnceValue(func() string {
		h, _ := a.hash("junction timing equaliser")
		return h
	})
	var err error
	if a.users, a.tokens, err = load(opts.Store); err != nil {
		return nil, err
	}
	return a, nil
}

func (u *user) parse() error {
	rg, err := roleGrants(u.Role)
	if err != nil {
		return err
	}
	own, err := parseGrants(u.Grants)
	if err != nil {
		return err
	}
	u.grants = append(rg, own...)
	return nil
}

// Enabled reports whether callers must authenticate: a user exists, or
// the mode is ModeRequired.
func (a *Auth) Enabled() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.enabledLocked()
}

func (a *Auth) enabledLocked() bool { return a.opts.Mode == ModeRequired || len(a.users) > 0 }

// Mode returns the configured mode.
func (a *Auth) Mode() Mode { return a.opts.Mode }

// Identity is an authenticated caller.
type Identity struct {
	// User is the user's name; empty for the anonymous caller of an open
	// broker.
	User string
	// Role is the user's role.
	Role string
	// TokenID names the token used, if any.
	TokenID string
	// Open marks the anonymous caller of a broker with no users, who may
	// do anything.
	Open bool
	// Bootstrap marks a loopback caller of a ModeRequired broker with no
	// users, who may only create the first user.
	Bootstrap bool
	// Expires is when the token used expires; zero for never.
	Expires time.Time

	grants      []Grant
	tokenGrants []Grant // when not nil, narrows grants
}

// Allows reports whether the identity may do action on station (and, for
// Consume, in group). Cluster-wide actions ignore station and group.
func (id *Identity) Allows(action Action, station, group string) bool {
	if id.Open {
		return true
	}
	if !allows(id.grants, action, station, group) {
		return false
	}
	return id.tokenGrants == nil || allows(id.tokenGrants, action, station, group)
}

// Sees reports whether the identity has any grant on station, which lets
// it describe the station and its groups.
func (id *Identity) Sees(station string) bool {
	if id.Open {
		return true
	}
	return touches(id.grants, station) && (id.tokenGrants == nil || touches(id.tokenGrants, station))
}

// Grants returns the identity's effective grants in text form.
func (id *Identity) Grants() []string {
	if id.tokenGrants != nil {
		return grantStrings(id.tokenGrants)
	}
	return grantStrings(id.grants)
}

// String names the identity for logs.
func (id *Identity) String() string {
	switch {
	case id == nil:
		return "internal"
	case id.Open:
		return "anonymous (open broker)"
	case id.Bootstrap:
		return "anonymous (bootstrap)"
	case id.TokenID != "":
		return id.User + " (token " + id.TokenID + ")"
	}
	return id.User
}

type identityKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity of the call ctx belongs to, or nil for
// a call from inside the server (such as connectors applied at start).
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

const tokenPrefix = "jct_"

// b64url is strict: a token's last character carries unused bits, and a
// lax decoder would take several spellings of one token.
var b64url = base64.RawURLEncoding.Strict()

// Authenticate returns the identity a bearer token stands for. It fails
// with ErrUnauthenticated (wrapped with the reason) for an unknown,
// revoked or expired token or one whose user is gone.
func (a *Auth) Authenticate(bearer string) (*Identity, error) {
	id, secret, ok := splitToken(bearer)
	if !ok {
		return nil, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	t := a.tokens[id]
	if t == nil {
		if err := a.catchingUp(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, errUnknownToken)
	}
	sum := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 {
		return nil, fmt.Errorf("%w: unknown or revoked token", ErrUnauthenticated)
	}
	if !t.ExpiresAt.IsZero() && !a.opts.Clock().Before(t.ExpiresAt) {
		return nil, fmt.Errorf("%w: token %s expired at %s", ErrUnauthenticated, id, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	u := a.users[t.User]
	if u == nil {
		return nil, fmt.Errorf("%w: the token's user no longer exists", ErrUnauthenticated)
	}
	ident := &Identity{User: u.Name, Role: u.Role, TokenID: id, Expires: t.ExpiresAt, grants: u.grants}
	if len(t.Grants) > 0 {
		ident.tokenGrants = t.grants
	}
	return ident, nil
}

// AuthenticateUser returns the identity of a user known by other means
// (a verified client certificate).
func (a *Auth) AuthenticateUser(name string) (*Identity, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	u := a.users[name]
	if u == nil {
		if err := a.catchingUp(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w %q for the client certificate", ErrUnauthenticated, errUnknownUser, name)
	}
	return &Identity{User: u.Name, Role: u.Role, grants: u.grants}, nil
}

// Unauthenticated returns the identity of a caller without credentials:
// the open identity while the broker has no users (loopback callers
// only, unless OpenToAnyAddress), the bootstrap identity in ModeRequired
// with no users, else ErrUnauthenticated.
func (a *Auth) Unauthenticated(loopback bool) (*Identity, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.users) == 0 {
		if err := a.catchingUp(); err != nil {
			return nil, err
		}
	}
	switch {
	case len(a.users) > 0:
		return nil, fmt.Errorf("%w: this broker requires a token (junction login, or Authorization: Bearer TOKEN)", ErrUnauthenticated)
	case !loopback && !a.opts.OpenToAnyAddress:
		return nil, fmt.Errorf("%w: this broker has no users yet and answers unauthenticated callers on loopback only", ErrUnauthenticated)
	case a.opts.Mode == ModeRequired:
		return &Identity{Bootstrap: true}, nil
	}
	return &Identity{Open: true}, nil
}

// CatchingUp reports whether this broker, a cluster node, does not yet
// know the cluster's users (see Options.CaughtUp).
func (a *Auth) CatchingUp() bool { return a.catchingUp() != nil }

// catchingUp returns ErrCatchingUp, with what to do, while the cluster
// node this broker is does not yet know the cluster's users.
func (a *Auth) catchingUp() error {
	if a.opts.CaughtUp == nil || a.opts.CaughtUp() {
		return nil
	}
	return fmt.Errorf("%w: it does not know the cluster's users yet; retry shortly or call another node", ErrCatchingUp)
}

func splitToken(s string) (id string, secret []byte, ok bool) {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) > 128 {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 {
		return "", nil, false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", nil, false
	}
	secret, err := b64url.DecodeString(enc)
	if err != nil || len(secret) != 32 {
		return "", nil, false
	}
	return id, secret, true
}

func newToken() (id, bearer string, hash []byte, err error) {
	buf := make([]byte, 8+32)
	if _, err := rand.Read(buf); err != nil {
		return "", "", nil, err
	}
	id = hex.EncodeToString(buf[:8])
	sum := sha256.Sum256(buf[8:])
	return id, tokenPrefix + id + "_" + b64url.EncodeToString(buf[8:]), sum[:], nil
}

// audit logs one change: who did it, what, to what.
func (a *Auth) audit(by *Identity, action, target string, attrs ...any) {
	a.log.Info("audit", append([]any{"actor", by.String(), "action", action, "target", target}, attrs...)...)
}

// UserInfo is a user as callers see it: never its password hash.
type UserInfo struct {
	Name      string
	Role      string
	Grants    []string
	CreatedAt time.Time
}

func (u *user) info() UserInfo {
	return UserInfo{Name: u.Name, Role: u.Role, Grants: slices.Clone(u.Grants), CreatedAt: u.CreatedAt}
}

// TokenInfo is a token as callers see it: never its secret or hash.
type TokenInfo struct {
	ID          string
	User        string
	Description string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Grants      []string
}

func (t *token) info() TokenInfo {
	return TokenInfo{ID: t.ID, User: t.User, Description: t.Description, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Grants: slices.Clone(t.Grants)}
}

func (a *Auth) putUser(u *user) error {
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := a.opts.Store.PutUser(u.Name, v); err != nil {
		return fmt.Errorf("store user %s: %w", u.Name, err)
	}
	return nil
}

func (a *Auth) putToken(t *token) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := a.opts.Store.PutToken(t.ID, v); err != nil {
		return fmt.Errorf("store token %s: %w", t.ID, err)
	}
	return nil
}

// CreateUser creates a user with a password (empty for a user that only
// authenticates with tokens or a client certificate), a role and grants.
// by must hold ManageUsers, unless the broker has no users yet. It
// reports whether this was the first user, which turns authentication on.
func (a *Auth) CreateUser(by *Identity, name, password, role string, grants []string) (UserInfo, bool, error) {
	if !names.Valid(name) {
		return UserInfo{}, false, fmt.Errorf("%w: user name %q: use 1 to 128 of a-z A-Z 0-9 . _ -", ErrInvalid, truncate(name))
	}
	u := &user{Name: name, Role: role, Grants: grants, CreatedAt: a.opts.Clock().UTC()}
	if err := u.parse(); err != nil {
		return UserInfo{}, false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if password != "" {
		if err := checkPasswordPolicy(password); err != nil {
			return UserInfo{}, false, err
		}
		h, err := a.hash(password)
		if err != nil {
			return UserInfo{}, false, err
		}
		u.PasswordHash = h
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	first := len(a.users) == 0
	if !first && !by.Allows(ManageUsers, "", "") {
		return UserInfo{}, false, fmt.Errorf("%w: creating users needs manage-users", ErrPermissionDenied)
	}
	if a.users[name] != nil {
		return UserInfo{}, false, fmt.Errorf("%w: user %q", ErrExists, name)
	}
	if first && !slices.Contains(u.grants, Grant{Action: ManageUsers}) {
		return UserInfo{}, false, fmt.Errorf("%w: the first user must be able to manage users (give it --role admin)", ErrInvalid)
	}
	if first && password == "" {
		return UserInfo{}, false, fmt.Errorf("%w: the first user needs a password, or nobody could log in", ErrInvalid)
	}
	if err := a.putUser(u); err != nil {
		return UserInfo{}, false, err
	}
	a.users[name] = u
	a.audit(by, "user.create", name, "role", role, "grants", strings.Join(grants, ","))
	if first {
		a.log.Warn("first user created: authentication is now required for every call", "user", name)
		a.closeLive(func(c *liveCall) bool { return c.open })
	}
	return u.info(), first, nil
}

// Users lists the users by name.
func (a *Auth) Users() []UserInfo {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]UserInfo, 0, len(a.users))
	for _, u := range a.users {
		out = append(out, u.info())
	}
	slices.SortFunc(out, func(x, y UserInfo) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// DeleteUser deletes a user and its tokens; calls open with them end.
func (a *Auth) DeleteUser(by *Identity, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.users[name] == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, truncate(name))
	}
	if len(a.users) == 1 {
		return fmt.Errorf("%w: %s is the last user; deleting it would lock everyone out", ErrInvalid, name)
	}
	var ids []string
	for id, t := range a.tokens {
		if t.User == name {
			ids = append(ids, id)
		}
	}
	if err := a.opts.Store.DeleteUser(name, ids); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	delete(a.users, name)
	for _, id := range ids {
		delete(a.tokens, id)
	}
	a.audit(by, "user.delete", name, "tokens_revoked", len(ids))
	a.closeLive(func(c *liveCall) bool { return c.user == name })
	return nil
}

// SetGrants replaces a user's role and grants. Calls the user has open
// end, so the new grants apply to everything from now on.
func (a *Auth) SetGrants(by *Identity, name, role string, grants []string) (UserInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.users[name]
	if old == nil {
		return UserInfo{}, fmt.Errorf("%w: user %q", ErrNotFound, truncate(name))
	}
	u := *old
	u.Role, u.Grants = role, grants
	if err := u.parse(); err != nil {
		return UserInfo{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !slices.Contains(u.grants, Grant{Action: ManageUsers}) && !a.otherUserManagerLocked(name) {
		return UserInfo{}, fmt.Errorf("%w: %s is the last user who can manage users", ErrInvalid, name)
	}
	if err := a.putUser(&u); err != nil {
		return UserInfo{}, err
	}
	a.users[name] = &u
	a.audit(by, "user.grants", name, "role", role, "grants", strings.Join(grants, ","))
	a.closeLive(func(c *liveCall) bool { return c.user == name })
	return u.info(), nil
}

func (a *Auth) otherUserManagerLocked(except string) bool {
	for n, u := range a.users {
		if n != except && slices.Contains(u.grants, Grant{Action: ManageUsers}) {
			return true
		}
	}
	return false
}

// SetPassword changes a user's password; users may change their own,
// others need ManageUsers.
func (a *Auth) SetPassword(by *Identity, name, password string) error {
	if by.User != name && !by.Allows(ManageUsers, "", "") {
		return fmt.Errorf("%w: changing another user's password needs manage-users", ErrPermissionDenied)
	}
	if err := checkPasswordPolicy(password); err != nil {
		return err
	}
	h, err := a.hash(password)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.users[name]
	if old == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, truncate(name))
	}
	u := *old
	u.PasswordHash = h
	if err := a.putUser(&u); err != nil {
		return err
	}
	a.users[name] = &u
	a.audit(by, "user.password", name)
	return nil
}

// Login checks a user's password and issues a token valid for ttl (the
// LoginTTL option when zero). A wrong name and a wrong password fail
// alike.
func (a *Auth) Login(name, password string, ttl time.Duration, description string) (string, TokenInfo, error) {
	fail := fmt.Errorf("%w: wrong user name or password", ErrUnauthenticated)
	if len(password) > MaxPasswordLen {
		return "", TokenInfo{}, fail
	}
	a.mu.RLock()
	u := a.users[name]
	a.mu.RUnlock()
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if hash == "" {
		// Spend the same time as a real check, so timing does not tell
		// which user names exist.
		a.check(a.dummyHash(), password)
		a.log.Info("audit", "actor", "anonymous", "action", "login.failed", "target", truncate(name))
		return "", TokenInfo{}, fail
	}
	ok, err := a.check(hash, password)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("user %s: %w", name, err)
	}
	if !ok {
		a.log.Info("audit", "actor", "anonymous", "action", "login.failed", "target", name)
		return "", TokenInfo{}, fail
	}
	if ttl <= 0 {
		ttl = a.opts.LoginTTL
	}
	if description == "" {
		description = "login"
	}
	by := &Identity{User: name}
	return a.createToken(by, name, description, ttl, nil)
}

// CreateToken issues a token for user (by's own when empty), valid for
// ttl (forever when zero), optionally narrowed to grants. The bearer
// string is returned only here.
func (a *Auth) CreateToken(by *Identity, userName, description string, ttl time.Duration, grants []string) (string, TokenInfo, error) {
	if userName == "" {
		userName = by.User
	}
	if userName == "" {
		return "", TokenInfo{}, fmt.Errorf("%w: name the user the token is for", ErrInvalid)
	}
	if userName != by.User && !by.Allows(ManageUsers, "", "") {
		return "", TokenInfo{}, fmt.Errorf("%w: creating a token for another user needs manage-users", ErrPermissionDenied)
	}
	if ttl < 0 {
		return "", TokenInfo{}, fmt.Errorf("%w: ttl must not be negative", ErrInvalid)
	}
	return a.createToken(by, userName, description, ttl, grants)
}

func (a *Auth) createToken(by *Identity, userName, description string, ttl time.Duration, grants []string) (string, TokenInfo, error) {
	if len(description) > 256 {
		return "", TokenInfo{}, fmt.Errorf("%w: description longer than 256 bytes", ErrInvalid)
	}
	parsed, err := parseGrants(grants)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	id, bearer, hash, err := newToken()
	if err != nil {
		return "", TokenInfo{}, err
	}
	now := a.opts.Clock().UTC()
	t := &token{ID: id, User: userName, Description: description, Hash: hash, CreatedAt: now, Grants: grants, grants: parsed}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.users[userName] == nil {
		return "", TokenInfo{}, fmt.Errorf("%w: user %q", ErrNotFound, truncate(userName))
	}
	if err := a.putToken(t); err != nil {
		return "", TokenInfo{}, err
	}
	a.tokens[id] = t
	a.audit(by, "token.create", id, "user", userName, "expires", t.ExpiresAt)
	return bearer, t.info(), nil
}

// Tokens lists the tokens of user ("*" for every user's), by creation
// time. Other users' tokens need ManageUsers.
func (a *Auth) Tokens(by *Identity, userName string) ([]TokenInfo, error) {
	if userName == "" {
		userName = by.User
	}
	if userName != by.User && !by.Allows(ManageUsers, "", "") {
		return nil, fmt.Errorf("%w: listing another user's tokens needs manage-users", ErrPermissionDenied)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []TokenInfo
	for _, t := range a.tokens {
		if userName == "*" || t.User == userName {
			out = append(out, t.info())
		}
	}
	slices.SortFunc(out, func(x, y TokenInfo) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out, nil
}

// RevokeToken deletes a token: calls with it fail from now on, and calls
// open with it end at once. Other users' tokens need ManageUsers.
func (a *Auth) RevokeToken(by *Identity, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tokens[id]
	if t == nil || (t.User != by.User && !by.Allows(ManageUsers, "", "")) {
		return fmt.Errorf("%w: token %q", ErrNotFound, truncate(id))
	}
	if err := a.opts.Store.DeleteToken(id); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	delete(a.tokens, id)
	a.audit(by, "token.revoke", id, "user", t.User)
	a.closeLive(func(c *liveCall) bool { return c.tokenID == id })
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
