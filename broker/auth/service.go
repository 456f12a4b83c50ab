package auth

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Handlers returns the auth, user and token services as (path, handler)
// pairs to mount, and their names for gRPC reflection. opts should carry
// the interceptor.
func (a *Auth) Handlers(opts ...connect.HandlerOption) (map[string]http.Handler, []string) {
	s := &service{a}
	out := make(map[string]http.Handler, 3)
	p, h := junctionv1connect.NewAuthServiceHandler(s, opts...)
	out[p] = h
	p, h = junctionv1connect.NewUserServiceHandler(s, opts...)
	out[p] = h
	p, h = junctionv1connect.NewTokenServiceHandler(s, opts...)
	out[p] = h
	return out, []string{junctionv1connect.AuthServiceName, junctionv1connect.UserServiceName, junctionv1connect.TokenServiceName}
}

type service struct{ a *Auth }

func caller(ctx context.Context) *Identity {
	if id := FromContext(ctx); id != nil {
		return id
	}
	return &Identity{}
}

func userProto(u UserInfo) *v1.User {
	return &v1.User{Name: u.Name, Role: u.Role, Grants: u.Grants, CreatedAt: timestamppb.New(u.CreatedAt)}
}

func tokenProto(t TokenInfo) *v1.Token {
	p := &v1.Token{Id: t.ID, User: t.User, Description: t.Description, CreatedAt: timestamppb.New(t.CreatedAt), Grants: t.Grants}
	if !t.ExpiresAt.IsZero() {
		p.ExpiresAt = timestamppb.New(t.ExpiresAt)
	}
	return p
}

func (s *service) Login(ctx context.Context, req *connect.Request[v1.LoginRequest]) (*connect.Response[v1.LoginResponse], error) {
	bearer, info, err := s.a.Login(req.Msg.User, req.Msg.Password, req.Msg.Ttl.AsDuration(), req.Msg.Description)
	if err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.LoginResponse{Token: bearer, Info: tokenProto(info)}), nil
}

func (s *service) WhoAmI(ctx context.Context, req *connect.Request[v1.WhoAmIRequest]) (*connect.Response[v1.WhoAmIResponse], error) {
	id := caller(ctx)
	return connect.NewResponse(&v1.WhoAmIResponse{User: id.User, Role: id.Role, Grants: id.Grants(), TokenId: id.TokenID, Open: id.Open}), nil
}

func (s *service) CreateUser(ctx context.Context, req *connect.Request[v1.CreateUserRequest]) (*connect.Response[v1.CreateUserResponse], error) {
	u := req.Msg.GetUser()
	info, first, err := s.a.CreateUser(caller(ctx), u.GetName(), req.Msg.Password, u.GetRole(), u.GetGrants())
	if err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.CreateUserResponse{User: userProto(info), AuthEnabled: first}), nil
}

func (s *service) ListUsers(ctx context.Context, req *connect.Request[v1.ListUsersRequest]) (*connect.Response[v1.ListUsersResponse], error) {
	resp := &v1.ListUsersResponse{}
	for _, u := range s.a.Users() {
		resp.Users = append(resp.Users, userProto(u))
	}
	return connect.NewResponse(resp), nil
}

func (s *service) DeleteUser(ctx context.Context, req *connect.Request[v1.DeleteUserRequest]) (*connect.Response[v1.DeleteUserResponse], error) {
	if err := s.a.DeleteUser(caller(ctx), req.Msg.Name); err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.DeleteUserResponse{}), nil
}

func (s *service) SetGrants(ctx context.Context, req *connect.Request[v1.SetGrantsRequest]) (*connect.Response[v1.SetGrantsResponse], error) {
	info, err := s.a.SetGrants(caller(ctx), req.Msg.Name, req.Msg.Role, req.Msg.Grants)
	if err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.SetGrantsResponse{User: userProto(info)}), nil
}

func (s *service) SetPassword(ctx context.Context, req *connect.Request[v1.SetPasswordRequest]) (*connect.Response[v1.SetPasswordResponse], error) {
	if err := s.a.SetPassword(caller(ctx), req.Msg.Name, req.Msg.Password); err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.SetPasswordResponse{}), nil
}

func (s *service) CreateToken(ctx context.Context, req *connect.Request[v1.CreateTokenRequest]) (*connect.Response[v1.CreateTokenResponse], error) {
	bearer, info, err := s.a.CreateToken(caller(ctx), req.Msg.User, req.Msg.Description, req.Msg.Ttl.AsDuration(), req.Msg.Grants)
	if err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.CreateTokenResponse{Token: bearer, Info: tokenProto(info)}), nil
}

func (s *service) ListTokens(ctx context.Context, req *connect.Request[v1.ListTokensRequest]) (*connect.Response[v1.ListTokensResponse], error) {
	ts, err := s.a.Tokens(caller(ctx), req.Msg.User)
	if err != nil {
		return nil, Error(err)
	}
	resp := &v1.ListTokensResponse{}
	for _, t := range ts {
		resp.Tokens = append(resp.Tokens, tokenProto(t))
	}
	return connect.NewResponse(resp), nil
}

func (s *service) RevokeToken(ctx context.Context, req *connect.Request[v1.RevokeTokenRequest]) (*connect.Response[v1.RevokeTokenResponse], error) {
	if err := s.a.RevokeToken(caller(ctx), req.Msg.Id); err != nil {
		return nil, Error(err)
	}
	return connect.NewResponse(&v1.RevokeTokenResponse{}), nil
}
