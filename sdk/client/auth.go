package client

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Errors of authentication and authorisation.
var (
	// ErrUnauthenticated: the call carried no valid credentials (no
	// token, or one that is unknown, revoked or expired).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the caller's grants do not allow the call.
	ErrPermissionDenied = errors.New("permission denied")
)

// WithToken makes every call carry token ("Authorization: Bearer TOKEN").
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithTLSConfig sets the TLS configuration for https:// addresses: the CA
// to trust (RootCAs) and a client certificate for mutual TLS. Ignored with
// WithHTTPClient. The client adds HTTP/2 to its NextProtos.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *options) { o.tls = c.Clone() }
}

// bearer adds the token to every request of the client.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func answered(err error) bool {
	code := connect.CodeOf(err)
	return code == connect.CodeUnauthenticated || code == connect.CodePermissionDenied
}

// User is a broker user.
type User struct {
	Name string `json:"name"`
	// Role bundles grants: admin, operator, producer, consumer or empty.
	Role string `json:"role,omitempty"`
	// Grants such as "produce:orders.*" or "consume:orders:billing-*".
	Grants    []string  `json:"grants,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Token describes an API token (never its secret).
type Token struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Grants      []string  `json:"grants,omitempty"`
}

// Identity is who the broker takes the caller for.
type Identity struct {
	User    string   `json:"user,omitempty"`
	Role    string   `json:"role,omitempty"`
	Grants  []string `json:"grants,omitempty"`
	TokenID string   `json:"token_id,omitempty"`
	// Open is true while the broker has no users and lets loopback
	// callers do anything.
	Open bool `json:"open,omitempty"`
}

func userFromProto(u *junctionv1.User) User {
	return User{Name: u.GetName(), Role: u.GetRole(), Grants: u.GetGrants(), CreatedAt: u.GetCreatedAt().AsTime()}
}

func tokenFromProto(t *junctionv1.Token) Token {
	out := Token{ID: t.GetId(), User: t.GetUser(), Description: t.GetDescription(), CreatedAt: t.GetCreatedAt().AsTime(), Grants: t.GetGrants()}
	if t.GetExpiresAt() != nil {
		out.ExpiresAt = t.GetExpiresAt().AsTime()
	}
	return out
}

func ttlProto(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// Login exchanges a user's password for a new token valid for ttl (the
// broker's default, 30 days, when zero). The token is returned only here.
func (c *Client) Login(ctx context.Context, user, password string, ttl time.Duration, description string) (string, Token, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.auth.Login(ctx, connect.NewRequest(&junctionv1.LoginRequest{User: user, Password: password, Ttl: ttlProto(ttl), Description: description}))
	if err != nil {
		return "", Token{}, fromConnect(err)
	}
	return resp.Msg.Token, tokenFromProto(resp.Msg.Info), nil
}

// WhoAmI returns the caller's identity and grants.
func (c *Client) WhoAmI(ctx context.Context) (Identity, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.auth.WhoAmI(ctx, connect.NewRequest(&junctionv1.WhoAmIRequest{}))
	if err != nil {
		return Identity{}, fromConnect(err)
	}
	m := resp.Msg
	return Identity{User: m.User, Role: m.Role, Grants: m.Grants, TokenID: m.TokenId, Open: m.Open}, nil
}

// CreateUser creates a user; password may be empty for a user that only
// uses tokens or a client certificate. It reports whether this first user
// turned authentication on.
func (c *Client) CreateUser(ctx context.Context, u User, password string) (User, bool, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.users.CreateUser(ctx, connect.NewRequest(&junctionv1.CreateUserRequest{
		User: &junctionv1.User{Name: u.Name, Role: u.Role, Grants: u.Grants}, Password: password}))
	if err != nil {
		return User{}, false, fromConnect(err)
	}
	return userFromProto(resp.Msg.User), resp.Msg.AuthEnabled, nil
}

// Users lists the broker's users.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.users.ListUsers(ctx, connect.NewRequest(&junctionv1.ListUsersRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]User, len(resp.Msg.Users))
	for i, u := range resp.Msg.Users {
		out[i] = userFromProto(u)
	}
	return out, nil
}

// DeleteUser deletes a user and its tokens.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.users.DeleteUser(ctx, connect.NewRequest(&junctionv1.DeleteUserRequest{Name: name}))
	return fromConnect(err)
}

// SetGrants replaces a user's role and grants.
func (c *Client) SetGrants(ctx context.Context, name, role string, grants []string) (User, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.users.SetGrants(ctx, connect.NewRequest(&junctionv1.SetGrantsRequest{Name: name, Role: role, Grants: grants}))
	if err != nil {
		return User{}, fromConnect(err)
	}
	return userFromProto(resp.Msg.User), nil
}

// SetPassword changes a user's password.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.users.SetPassword(ctx, connect.NewRequest(&junctionv1.SetPasswordRequest{Name: name, Password: password}))
	return fromConnect(err)
}

// CreateToken issues a token for user (the caller when empty), valid for
// ttl (forever when zero), narrowed to grants when any are given. The
// token is returned only here.
func (c *Client) CreateToken(ctx context.Context, user, description string, ttl time.Duration, grants []string) (string, Token, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.tokens.CreateToken(ctx, connect.NewRequest(&junctionv1.CreateTokenRequest{User: user, Description: description, Ttl: ttlProto(ttl), Grants: grants}))
	if err != nil {
		return "", Token{}, fromConnect(err)
	}
	return resp.Msg.Token, tokenFromProto(resp.Msg.Info), nil
}

// Tokens lists user's tokens (the caller's when empty, everyone's for "*").
func (c *Client) Tokens(ctx context.Context, user string) ([]Token, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.tokens.ListTokens(ctx, connect.NewRequest(&junctionv1.ListTokensRequest{User: user}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]Token, len(resp.Msg.Tokens))
	for i, t := range resp.Msg.Tokens {
		out[i] = tokenFromProto(t)
	}
	return out, nil
}

// RevokeToken revokes a token by id; calls and streams using it stop.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.tokens.RevokeToken(ctx, connect.NewRequest(&junctionv1.RevokeTokenRequest{Id: id}))
	return fromConnect(err)
}
