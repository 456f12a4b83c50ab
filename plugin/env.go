package plugin

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
)

// envProblems reports every variable of def's env that the plugin's spec
// does not declare, naming the variable (never its value).
func envProblems(def *config.Connector, spec connector.Spec) config.Errors {
	var out config.Errors
	for _, k := range sortedKeys(def.Env) {
		if !spec.AllowsEnv(k) {
			out = append(out, def.At("env."+k, envRefusal(k, spec)))
		}
	}
	return out
}

func envRefusal(name string, spec connector.Spec) string {
	declared := "none"
	if len(spec.Env) > 0 {
		declared = strings.Join(spec.Env, ", ")
	}
	return fmt.Sprintf("plugin %s@%s does not declare the environment variable %s, so it cannot be passed (it declares: %s)", spec.Name, spec.Version, name, declared)
}

// pluginEnv returns the environment of a plugin process: a clean base
// (PATH) plus the variables of env that the plugin's spec declares. A
// variable the spec does not declare is an error naming it: definitions
// are checked when applied, so this only happens when the plugin changed
// since.
func pluginEnv(spec connector.Spec, env map[string]string) ([]string, error) {
	out := []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range sortedKeys(env) {
		if !spec.AllowsEnv(k) {
			return nil, fmt.Errorf("env.%s: %s", k, envRefusal(k, spec))
		}
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
