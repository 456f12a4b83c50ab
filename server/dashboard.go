package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/web"
)

// The dashboard's browser session: the token Login issues, kept in an
// HttpOnly, SameSite=Strict cookie the page's scripts cannot read, and a
// CSRF token in a readable cookie that every API call must echo in the
// X-Junction-CSRF header (double submit). Callers with an Authorization
// header (the CLI, SDKs, curl) are untouched.
const (
	sessionCookie = "junction-session"
	csrfCookie    = "junction-csrf"
	csrfHeader    = "X-Junction-CSRF"
	sessionTTL    = 12 * time.Hour
	loginPath     = "/ui/login"
	logoutPath    = "/ui/logout"
)

// mountDashboard serves the web dashboard at "/" and its assets under
// "/ui/". They are public (static files; every datum comes from the API,
// which authentication guards).
func mountDashboard(mux *http.ServeMux, a *auth.Auth) {
	for _, m := range web.Mounts(web.Options{LoginPath: loginPath}) {
		mux.Handle(m.Pattern, m.Handler)
	}
	if a != nil {
		mux.HandleFunc("POST "+loginPath, func(w http.ResponseWriter, r *http.Request) { dashboardLogin(w, r, a) })
		mux.HandleFunc("POST "+logoutPath, func(w http.ResponseWriter, r *http.Request) { dashboardLogout(w, r, a) })
	}
}

// sameOrigin refuses a request a browser sent from another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func dashboardLogin(w http.ResponseWriter, r *http.Request, a *auth.Auth) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site login refused", http.StatusForbidden)
		return
	}
	var req struct{ Username, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "want a JSON body {\"username\", \"password\"}", http.StatusBadRequest)
		return
	}
	token, _, err := a.Login(req.Username, req.Password, sessionTTL, "dashboard")
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, auth.ErrUnauthenticated) {
			status = http.StatusUnauthorized
		}
		http.Error(w, err.Error(), status)
		return
	}
	csrf := make([]byte, 24)
	rand.Read(csrf)
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: base64.RawURLEncoding.EncodeToString(csrf), Path: "/", MaxAge: int(sessionTTL / time.Second),
		Secure: secure, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// dashboardLogout revokes the session's token and clears its cookies.
func dashboardLogout(w http.ResponseWriter, r *http.Request, a *auth.Auth) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site logout refused", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if id, err := a.Authenticate(c.Value); err == nil && id.TokenID != "" {
			a.RevokeToken(id, id.TokenID)
		}
	}
	for _, name := range []string{sessionCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == sessionCookie, SameSite: http.SameSiteStrictMode})
	}
	w.WriteHeader(http.StatusNoContent)
}

// dashboardSessions turns a dashboard session cookie into the bearer token
// the API's interceptor checks, for POSTs (every API call) that carry the
// matching CSRF header. Anything else passes through unchanged.
func dashboardSessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" || r.URL.Path == loginPath || r.URL.Path == logoutPath {
			next.ServeHTTP(w, r)
			return
		}
		session, err := r.Cookie(sessionCookie)
		if err != nil || session.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		csrf, err := r.Cookie(csrfCookie)
		if err != nil || csrf.Value == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(csrf.Value)) != 1 || !sameOrigin(r) {
			http.Error(w, "a dashboard session needs the X-Junction-CSRF header of its junction-csrf cookie", http.StatusForbidden)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+session.Value)
		next.ServeHTTP(w, r)
	})
}
