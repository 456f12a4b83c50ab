package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/internal/buildinfo"
)

func TestVersionShowsCommitAndKey(t *testing.T) {
	pub, err := catalog.GenerateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	oldKey, oldCommit := buildinfo.FirstPartyKey, buildinfo.Commit
	t.Cleanup(func() { buildinfo.FirstPartyKey, buildinfo.Commit = oldKey, oldCommit })
	buildinfo.FirstPartyKey, buildinfo.Commit = pub.String(), "abc1234"

	out, _, code := runCLI(t, "", "version")
	if code != 0 || !strings.Contains(out, buildinfo.Version) || !strings.Contains(out, "abc1234") || !strings.Contains(out, pub.KeyID()) {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
	out, _, _ = runCLI(t, "", "version", "-o", "json")
	checkJSONStyle(t, "version", out)
	if !strings.Contains(out, `"first_party_key_id": "`+pub.KeyID()+`"`) {
		t.Fatalf("version -o json:\n%s", out)
	}
	buildinfo.FirstPartyKey = ""
	if out, _, _ = runCLI(t, "", "version"); !strings.Contains(out, "none built in") {
		t.Fatalf("version without a key:\n%s", out)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "complete -o default -F __start_junction junction", "zsh": "#compdef junction", "fish": "complete -c junction"} {
		out, errs, code := runCLI(t, "", "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %s; output lacks %q", shell, code, errs, want)
		}
	}
	if _, _, code := runCLI(t, "", "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
	// The hidden completion entry point completes subcommands.
	out, _, _ := runCLI(t, "", "__complete", "sta")
	if !strings.Contains(out, "station") {
		t.Errorf("__complete sta:\n%s", out)
	}
}
