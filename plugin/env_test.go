package plugin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/connector"
)

func TestPluginEnvPassesOnlyDeclaredVariables(t *testing.T) {
	spec := connector.Spec{Name: "p", Version: "1.0.0", Env: []string{"AWS_*", "TZ"}}
	got, err := pluginEnv(spec, map[string]string{"TZ": "UTC", "AWS_REGION": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=eu-west-1", "TZ=UTC"}
	if !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	for _, k := range []string{"HOME", "LD_PRELOAD", "GCP_KEY", "PATH"} {
		_, err := pluginEnv(spec, map[string]string{k: "s3cr3t"})
		if err == nil || !strings.Contains(err.Error(), "env."+k) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: err = %v, want one naming the variable and not its value", k, err)
		}
	}
}

func TestUndeclaredEnvIsRejectedAtApply(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"})
	ctx := context.Background()

	def := "name: d\nconnector: discard\nkind: sink\nstation: s\nenv:\n  DISCARD_MODE: fast\n  LD_PRELOAD: /tmp/evil.so\n  OTHER: s3cr3t\n"
	_, _, _, err := e.h.Apply(ctx, "d.yaml", []byte(def))
	if !errors.Is(err, ErrInvalidDefinition) {
		t.Fatalf("err = %v, want an invalid definition", err)
	}
	for _, w := range []string{"env.LD_PRELOAD", "env.OTHER", "does not declare the environment variable OTHER", "it declares: DISCARD_*"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "DISCARD_MODE") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error names a declared variable or shows a value:\n%v", err)
	}

	// A declared variable reaches the plugin, on a clean base environment.
	def = "name: d\nconnector: discard\nkind: sink\nstation: s\nenv:\n  DISCARD_REFUSE: please\n"
	_, _, _, err = e.h.Apply(ctx, "d.yaml", []byte(def))
	if err == nil || !strings.Contains(err.Error(), "refused: DISCARD_REFUSE=please, HOME set: false") {
		t.Fatalf("the plugin did not see its declared variable alone: %v", err)
	}
	if got := e.h.List(); len(got) != 0 {
		t.Fatalf("rejected definitions left connectors behind: %+v", got)
	}
}
