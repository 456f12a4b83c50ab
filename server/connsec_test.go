package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

// connectorServer starts a broker with the file connector, JT_SECRET in
// its connector environment and its data directory as the only file
// root, and returns it with an anonymous (open broker) client.
func connectorServer(t *testing.T) (*Server, *client.Client, string) {
	t.Helper()
	t.Setenv("JT_SECRET", "hunter2")
	t.Setenv("JT_HIDDEN", "not-for-connectors")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{testPlugins},
		Security: SecurityOptions{ConnectorEnv: []string{"JT_SECRET"}}}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := dial(t, s, "")
	if _, err := c.CreateStation(context.Background(), client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	return s, c, dir
}

func sinkDef(config string) []byte {
	return []byte("name: files\nconnector: file\nkind: sink\nstation: orders\nconfig:\n" + config)
}

// wantRefused applies def and checks it is refused with an error
// containing want; validate must say the same.
func wantRefused(t *testing.T, c *client.Client, def []byte, want string) {
	t.Helper()
	ctx := context.Background()
	_, _, _, err := c.ApplyConnector(ctx, "def.yaml", def)
	if err == nil || !strings.Contains(problemsText(err), want) {
		t.Fatalf("apply: got %v, want an error containing %q", problemsText(err), want)
	}
	problems, _, err := c.ValidateConnector(ctx, "def.yaml", def)
	text := problemsText(err)
	for _, p := range problems {
		text += p.String() + "\n"
	}
	if !strings.Contains(text, want) {
		t.Fatalf("validate disagrees with apply: got %q, want %q", text, want)
	}
}

func problemsText(err error) string {
	if err == nil {
		return ""
	}
	var ce *client.Error
	if errors.As(err, &ce) && len(ce.Problems) > 0 {
		var b strings.Builder
		for _, p := range ce.Problems {
			b.WriteString(p.String() + "\n")
		}
		return b.String()
	}
	return err.Error()
}

func TestConnectorEnvLimitedToDeclaredVariables(t *testing.T) {
	_, c, dir := connectorServer(t)
	def := append(sinkDef("  dir: "+filepath.Join(dir, "out")+"\n"), []byte("env:\n  LD_PRELOAD: /tmp/evil.so\n")...)
	wantRefused(t, c, def, "does not declare the environment variable LD_PRELOAD")
}

func TestFileSourceConfinedToFileRoots(t *testing.T) {
	_, c, _ := connectorServer(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	def := []byte("name: slurp\nconnector: file\nkind: source\nstation: orders\nconfig:\n  glob: " + secret + "*\n  format: lines\n")
	wantRefused(t, c, def, "is outside the directories this broker lets connectors use")
}

func TestFileSinkConfinedToFileRoots(t *testing.T) {
	_, c, dir := connectorServer(t)
	wantRefused(t, c, sinkDef("  dir: "+t.TempDir()+"\n"), "is outside the directories")
	wantRefused(t, c, sinkDef("  dir: "+dir+"/../elsewhere\n"), "is outside the directories")
	// A symbolic link inside the root does not lead out of it.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, c, sinkDef("  dir: "+filepath.Join(link, "x")+"\n"), "is outside the directories")
	wantRefused(t, c, sinkDef("  dir: "+filepath.Join(dir, "out")+"\n  prefix: ../../x\n"), "must stay inside dir")
	// Inside the data directory is fine.
	if _, _, _, err := c.ApplyConnector(context.Background(), "def.yaml", sinkDef("  dir: "+filepath.Join(dir, "exports")+"\n")); err != nil {
		t.Fatalf("sink inside the data directory: %v", problemsText(err))
	}
}

func TestInterpolatedValuesNotEchoed(t *testing.T) {
	_, c, dir := connectorServer(t)
	ctx := context.Background()
	wantRefused(t, c, sinkDef("  dir: "+filepath.Join(dir, "out")+"\n  prefix: ${JT_HIDDEN}-\n"),
		"environment variable JT_HIDDEN is not set in the broker's connector environment")
	st, _, _, err := c.ApplyConnector(ctx, "def.yaml", sinkDef("  dir: "+filepath.Join(dir, "out")+"\n  prefix: ${JT_SECRET}-\n"))
	if err != nil {
		t.Fatal(problemsText(err))
	}
	got, err := c.Connector(ctx, "files")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*client.ConnectorStatus{st, got} {
		b, _ := json.Marshal(s.Config)
		text := string(b)
		if strings.Contains(text, "hunter2") || !strings.Contains(text, "${JT_SECRET}-") {
			t.Fatalf("status config shows %s, want the template and not the value", text)
		}
	}
}

func TestApplyConnectorNeedsStationPermissions(t *testing.T) {
	s, admin, _, dir := securedServerIn(t)
	ctx := context.Background()
	if _, err := admin.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	ops, _ := userToken(t, s, admin, "ops", "manage-connectors")
	def := sinkDef("  dir: " + filepath.Join(dir, "out") + "\n")
	_, _, _, err := ops.ApplyConnector(ctx, "def.yaml", def)
	if !errors.Is(err, client.ErrPermissionDenied) || !strings.Contains(err.Error(), "consume:orders:connector.files") || !strings.Contains(err.Error(), "produce:files.dlq") {
		t.Fatalf("apply without station permissions: %v", err)
	}
	reader, _ := userToken(t, s, admin, "reader", "consume:orders")
	if _, _, _, err := reader.ApplyConnector(ctx, "def.yaml", def); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("apply without manage-connectors: %v", err)
	}
}

func TestParseSecrets(t *testing.T) {
	m, err := parseSecrets(strings.NewReader("# comment\n\nAWS_KEY=abc=def\n  TOKEN = x y \n"))
	if err != nil || m["AWS_KEY"] != "abc=def" || m["TOKEN"] != " x y" {
		t.Fatalf("parseSecrets: %v %v", m, err)
	}
	if _, err := parseSecrets(strings.NewReader("ok=1\nbad line\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line: %v", err)
	}
}

// FuzzParseSecrets checks that the secrets parser never fails without a
// line number and only returns valid variable names.
func FuzzParseSecrets(f *testing.F) {
	f.Add("A=1\n# c\nB=two words\n")
	f.Add("=x\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseSecrets(strings.NewReader(s))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for k := range m {
			if !envNameRE.MatchString(k) {
				t.Fatalf("accepted name %q", k)
			}
		}
	})
}
