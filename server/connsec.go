package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/config"
)

// What connectors may reach. A connector definition starts a process, so
// besides needing manage-connectors its caller must hold the station
// permissions of its data flow (consume for a sink, produce for a source,
// produce on its dead-letter station); its ${VAR} references resolve only
// in variables the server names (--connector-env) or its secrets file
// (--connector-secrets), never the broker's whole environment; and config
// fields its plugin marks as paths must lie inside the server's file roots
// (--file-roots, default the data directory).

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxSecretsFile bounds the secrets file.
const maxSecretsFile = 1 << 20

// parseSecrets reads KEY=VALUE lines; blank lines and lines starting with
// # are skipped. A value is taken as is, up to the end of its line.
func parseSecrets(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: want NAME=VALUE with NAME of letters, digits and _", n)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}

func loadSecrets(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("connector secrets: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretsFile+1))
	if err != nil {
		return nil, fmt.Errorf("connector secrets %s: %w", path, err)
	}
	if len(data) > maxSecretsFile {
		return nil, fmt.Errorf("connector secrets %s: larger than %d bytes", path, maxSecretsFile)
	}
	m, err := parseSecrets(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("connector secrets %s: %w", path, err)
	}
	return m, nil
}

// connectorEnv returns where connector definitions' ${VAR} resolve: the
// secrets file, then the variables of the broker's environment named in
// allow; and how errors name it.
func connectorEnv(allow []string, secretsFile string) (func(string) (string, bool), string, error) {
	allowed := map[string]bool{}
	for _, n := range allow {
		if !envNameRE.MatchString(n) {
			return nil, "", fmt.Errorf("--connector-env: %q is not a variable name", n)
		}
		allowed[n] = true
	}
	secrets, err := loadSecrets(secretsFile)
	if err != nil {
		return nil, "", err
	}
	lookup := func(name string) (string, bool) {
		if v, ok := secrets[name]; ok {
			return v, true
		}
		if allowed[name] {
			return os.LookupEnv(name)
		}
		return "", false
	}
	where := "the broker's connector environment: only variables named by junction server --connector-env"
	if secretsFile != "" {
		where += " or set in " + secretsFile
	}
	if len(allow) == 0 && secretsFile == "" {
		where += " (none) or a --connector-secrets file"
	}
	return lookup, where, nil
}

// authorizeConnector checks that the caller applying or validating def
// holds the station permissions its data flow uses. Definitions from
// inside the server (--connectors at start) carry no caller and pass.
func authorizeConnector(ctx context.Context, def *config.Connector) error {
	id := auth.FromContext(ctx)
	if id == nil {
		return nil
	}
	var missing []string
	if !id.Allows(auth.ManageConnectors, "", "") {
		missing = append(missing, "manage-connectors")
	}
	switch def.Kind {
	case config.KindSink:
		if g := plugin.GroupName(def.Name); !id.Allows(auth.Consume, def.Station, g) {
			missing = append(missing, "consume:"+def.Station+":"+g)
		}
	default:
		if !id.Allows(auth.Produce, def.Station, "") {
			missing = append(missing, "produce:"+def.Station)
		}
	}
	if def.DLQ != "" && !id.Allows(auth.Produce, def.DLQ, "") {
		missing = append(missing, "produce:"+def.DLQ+" (its dead-letter station)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s may not run connector %s (%s on station %s): it needs %s",
			auth.ErrPermissionDenied, id, def.Name, def.Kind, def.Station, strings.Join(missing, ", "))
	}
	return nil
}

// confineConnectors sets what the connector host lets connectors reach.
func confineConnectors(h *plugin.Options, opts Options) error {
	lookup, where, err := connectorEnv(opts.Security.ConnectorEnv, opts.Security.ConnectorSecrets)
	if err != nil {
		return err
	}
	h.LookupEnv, h.EnvWhere = lookup, where
	h.PathRoots = opts.Security.FileRoots
	if len(h.PathRoots) == 0 {
		h.PathRoots = []string{opts.DataDir}
	}
	h.Authorize = authorizeConnector
	return nil
}
