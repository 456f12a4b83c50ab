package archtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are modules of the root module's that must never reach a
// community connector's module graph.
var forbidden = []string{
	"github.com/aws/aws-sdk-go-v2",
	"go.etcd.io/bbolt",
	"github.com/spf13/cobra",
	"github.com/snowflakedb/gosnowflake",
	"cloud.google.com/go/bigquery",
	"github.com/nats-io/",
	"github.com/parquet-go/",
	"github.com/prometheus/",
	"github.com/johannesboyne/gofakes3",
	"github.com/junctionhq/junction ",
}

// linkAllowed are the module path prefixes whose code may be linked into
// a community connector: the sdk module and what it needs (go-plugin,
// gRPC, protobuf).
var linkAllowed = []string{
	sdkModule,
	"github.com/hashicorp/go-plugin", "github.com/hashicorp/go-hclog", "github.com/hashicorp/yamux",
	"github.com/oklog/run", "github.com/fatih/color", "github.com/mattn/go-colorable", "github.com/mattn/go-isatty",
	"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto/googleapis/rpc",
	"github.com/golang/protobuf", "golang.org/x/net", "golang.org/x/sys", "golang.org/x/text",
}

// TestCommunityConnectorNeedsOnlyTheSDK builds testdata/community, a
// connector in its own module that requires the sdk module (through a
// replace, as a released one would through a version), and checks what it
// drags in: its go.mod names only the sdk module and what the sdk needs,
// the binary links only those, and its module graph holds none of the root
// module's heavy dependencies. The module is copied to a temporary
// directory so nothing is written here; it needs the module cache (or the
// proxy) for the sdk's dependencies.
func TestCommunityConnectorNeedsOnlyTheSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a connector module")
	}
	sdkDir, err := filepath.Abs(filepath.Join("..", "..", "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("testdata", "community", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "go.sum" {
			// The sdk's own sums cover a dependency it added since
			// testdata/community/go.sum was last tidied.
			sdkSum, err := os.ReadFile(filepath.Join(sdkDir, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, sdkSum...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gocmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return string(out)
	}
	gocmd("mod", "edit", "-replace", "github.com/junctionhq/junction/sdk="+sdkDir)
	bin := filepath.Join(dir, "community-upper")
	gocmd("build", "-o", bin, ".")

	// It is a working plugin: it prints its spec.
	out, err := exec.Command(bin, "--spec").Output()
	if err != nil {
		t.Fatalf("%s --spec: %v", bin, err)
	}
	var spec struct{ Name string }
	if err := json.Unmarshal(out, &spec); err != nil || spec.Name != "community-upper" {
		t.Fatalf("--spec printed %s (%v)", out, err)
	}

	var mod struct{ Require []struct{ Path string } }
	if err := json.Unmarshal([]byte(gocmd("mod", "edit", "-json")), &mod); err != nil {
		t.Fatal(err)
	}
	for _, r := range mod.Require {
		if !allowed(r.Path) {
			t.Errorf("the connector's go.mod requires %s, which the sdk should not need", r.Path)
		}
	}
	for _, m := range strings.Fields(gocmd("list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")) {
		if m != "example.com/community-upper" && !allowed(m) {
			t.Errorf("the connector links code of %s, which the sdk should not need", m)
		}
	}
	for _, line := range strings.Split(gocmd("list", "-m", "all"), "\n") {
		for _, f := range forbidden {
			if strings.HasPrefix(line+" ", f) {
				t.Errorf("the connector's module graph holds %s", line)
			}
		}
	}
}

func allowed(path string) bool {
	return slices.ContainsFunc(linkAllowed, func(p string) bool { return path == p || strings.HasPrefix(path, p+"/") })
}
