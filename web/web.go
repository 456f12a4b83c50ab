// Package web is Junction's dashboard: a single-page app of plain ES
// modules and CSS, embedded in the binary and served on the API port. It
// reads the same Connect JSON API any client uses and keeps no state on
// the server: it polls while a page is visible and nothing runs, in the
// browser or the broker, once it is closed.
//
// Authentication hooks: every API call the dashboard makes is a
// same-origin POST with credentials, carrying the value of the
// "junction-csrf" cookie (when the server sets one) in the X-Junction-CSRF
// header. When a call fails with the Connect code "unauthenticated" the
// dashboard shows its login form, which posts {"username", "password"} as
// JSON to Options.LoginPath; the server answers by setting its session
// cookie (HttpOnly, SameSite=Strict) and the CSRF cookie, and the
// dashboard retries. Without authentication none of this is used.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Options configures the dashboard.
type Options struct {
	// Title is shown in the page header. Default "Junction".
	Title string
	// LoginPath is where the login form posts once the API requires
	// authentication. Default "/ui/login".
	LoginPath string
}

// Mount is what the server mounts: the dashboard page at "/" and its
// assets under "/ui/".
type Mount struct {
	Pattern string
	Handler http.Handler
}

// Mounts returns the dashboard's handlers and the patterns to serve them
// on. Only the exact path "/" serves the page, so unknown paths stay 404s.
func Mounts(o Options) []Mount {
	h := Handler(o)
	return []Mount{{Pattern: "GET /{$}", Handler: h}, {Pattern: "GET /ui/", Handler: h}}
}

// securityHeaders keeps the page from being framed or running anything
// not served here.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// Handler serves the page at "/" and the files of static/ under "/ui/".
func Handler(o Options) http.Handler {
	if o.Title == "" {
		o.Title = "Junction"
	}
	if o.LoginPath == "" {
		o.LoginPath = "/ui/login"
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	page := renderIndex(sub, o)
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/ui/" || r.URL.Path == "/ui/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(page)
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func renderIndex(sub fs.FS, o Options) []byte {
	raw, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	t := template.Must(template.New("index").Parse(string(raw)))
	cfg, _ := json.Marshal(map[string]string{"title": o.Title, "loginPath": o.LoginPath})
	var buf bytes.Buffer
	if err := t.Execute(&buf, map[string]any{"Title": o.Title, "Config": string(cfg)}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
