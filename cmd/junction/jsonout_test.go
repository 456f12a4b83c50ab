package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var snakeKey = regexp.MustCompile(`^[a-z0-9_./-]+$`)

// checkJSONStyle fails unless out is JSON whose keys are all snake_case
// and which holds no zero time.
func checkJSONStyle(t *testing.T, what, out string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snakeKey.MatchString(k) {
					t.Errorf("%s: key %s%q is not snake_case", what, path, k)
				}
				walk(path+k+".", e)
			}
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		case string:
			if strings.HasPrefix(v, "0001-01-01") {
				t.Errorf("%s: %s is the zero time", what, strings.TrimSuffix(path, "."))
			}
		}
	}
	walk("", v)
	return v
}

func TestJSONOutputIsOneStyle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	addr, plugins := startBrokerWithPlugins(t)
	dir := t.TempDir()
	def := filepath.Join(dir, "sink.yaml")
	os.WriteFile(def, []byte("name: files\nconnector: file\nkind: sink\nstation: orders\nbatch: {max_wait: 10ms}\nconfig:\n  dir: "+filepath.Join(dir, "out")+"\n"), 0o644)
	cli(t, addr, "", "station", "create", "orders", "--partitions", "2", "--retention-age", "30d")
	cli(t, addr, "a\n", "produce", "orders")
	cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "1")
	cli(t, addr, "", "connector", "apply", "-f", def)
	waitFor(t, "the sink to write", func() bool {
		out, _ := cli(t, addr, "", "connector", "status", "files")
		return strings.Contains(out, "Records out:          1")
	})

	cfg := filepath.Join(dir, "config.yaml")
	key := filepath.Join(dir, "keys", "k.key")
	catDir := filepath.Join(dir, "catalog")
	runOK := func(args ...string) string {
		t.Helper()
		out, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	runOK("hub", "keygen", "--out", key)
	runOK("hub", "publish", "--catalog", catDir, "--key", key, filepath.Join(plugins, "file"))
	runOK("hub", "trust", "add", "test", key+".pub", "--for", "*", "--config", cfg)
	hub := []string{"--config", cfg, "--catalog", catDir, "--data", filepath.Join(dir, "data")}

	for _, args := range [][]string{
		{"station", "list"},
		{"station", "describe", "orders"},
		{"group", "list", "orders"},
		{"group", "describe", "orders", "g"},
		{"group", "describe", "orders", "connector.files"},
		{"connector", "list"},
		{"connector", "status", "files"},
		{"plugin", "list"},
		append([]string{"hub", "search"}, hub...),
		append([]string{"hub", "info", "file"}, hub...),
		append([]string{"hub", "list", "--plugins", plugins}, hub...),
		{"hub", "trust", "list", "--config", cfg},
	} {
		out, _ := cli(t, addr, "", append(args, "-o", "json")...)
		checkJSONStyle(t, strings.Join(args[:2], " "), out)
	}

	out, _ := cli(t, addr, "", "group", "describe", "orders", "connector.files", "-o", "json")
	if !strings.Contains(out, `"max_deliveries": "unlimited"`) {
		t.Errorf("a connector's group shows max_deliveries as %s", out)
	}
	out, _ = cli(t, addr, "", "group", "describe", "orders", "connector.files")
	if !strings.Contains(out, "Max deliveries:  unlimited") {
		t.Errorf("describe text:\n%s", out)
	}

	// Every connector metric, with bytes and errors.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"records_in_total", "records_out_total", "records_rejected_total", "bytes_in_total", "bytes_out_total", "errors_total", "restarts_total", "lag_messages", "running"} {
		if !strings.Contains(string(metrics), "junction_connector_"+m+`{connector="files"`) {
			t.Errorf("/metrics lacks junction_connector_%s", m)
		}
	}
	if !strings.Contains(string(metrics), `junction_connector_bytes_out_total{connector="files"} 1`) {
		t.Errorf("bytes out of the one-byte record:\n%s", metrics)
	}

	// The API's JSON has the same names, with partition 0 and offset 0.
	for _, call := range []struct{ path, body string }{
		{"junction.v1.StationService/GetStation", `{"name":"orders"}`},
		{"junction.v1.GroupService/DescribeGroup", `{"station":"orders","group":"g"}`},
		{"junction.v1.ConnectorService/ListConnectors", `{}`},
	} {
		resp, err := http.Post(fmt.Sprintf("http://%s/%s", addr, call.path), "application/json", strings.NewReader(call.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", call.path, resp.Status, b)
		}
		checkJSONStyle(t, call.path, string(b))
		if call.path == "junction.v1.StationService/GetStation" && (!strings.Contains(string(b), `"partition":0`) || !strings.Contains(string(b), `"start_offset":"0"`)) {
			t.Errorf("GetStation leaves out partition 0 or offset 0: %s", b)
		}
	}
}
