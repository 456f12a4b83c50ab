package pluginwire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// ReadSpec runs the plugin binary at path with --spec and returns the Spec
// it prints. When the spec parses but is unusable (invalid, or for another
// protocol version), the error says why and the returned Spec still names
// the plugin.
func ReadSpec(ctx context.Context, path string) (connector.Spec, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--spec")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return connector.Spec{}, fmt.Errorf("%s --spec: %w: %s", path, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return connector.Spec{}, fmt.Errorf("%s --spec: %w", path, err)
	}
	var spec connector.Spec
	if err := json.Unmarshal(out, &spec); err != nil {
		return connector.Spec{}, fmt.Errorf("%s --spec: not a connector spec: %w", path, err)
	}
	if spec.ProtocolVersion != connector.ProtocolVersion {
		return connector.Spec{Name: spec.Name}, fmt.Errorf("%s speaks connector protocol %d, this broker speaks %d: install a build of it for this Junction", path, spec.ProtocolVersion, connector.ProtocolVersion)
	}
	if err := spec.Validate(); err != nil {
		return connector.Spec{Name: spec.Name}, fmt.Errorf("%s --spec: %w", path, err)
	}
	return spec, nil
}
