package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

// The page and its assets are served with a strict content security
// policy; paths outside the dashboard stay 404.
func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	for _, m := range Mounts(Options{Title: "Junction <test>"}) {
		mux.Handle(m.Pattern, m.Handler)
	}
	resp := get(t, mux, "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<script type="module" src="/ui/js/app.js">`) {
		t.Fatalf("GET / = %d %.300s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "Junction &lt;test&gt;") {
		t.Errorf("the title is not escaped: %.300s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, p := range []string{"/ui/app.css", "/ui/js/app.js", "/ui/js/api.js", "/ui/js/stations.js", "/ui/js/connectors.js", "/ui/js/hub.js", "/ui/js/overview.js", "/ui/js/chart.js", "/ui/js/fmt.js", "/ui/js/deadletters.js"} {
		r := get(t, mux, p)
		if r.StatusCode != 200 {
			t.Errorf("GET %s = %d", p, r.StatusCode)
		}
		if strings.HasSuffix(p, ".js") && !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s: content type %q; modules need a JavaScript type", p, r.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/nope", "/ui/nope.js", "/ui/../web.go"} {
		if r := get(t, mux, p); r.StatusCode == 200 {
			t.Errorf("GET %s = 200; want it not served", p)
		}
	}
}
