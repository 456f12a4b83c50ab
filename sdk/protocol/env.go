package protocol

import (
	"fmt"
	"regexp"
	"strings"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Environment variables no plugin may declare: they change how the dynamic
// loader, a shell or the plugin process itself behaves, or belong to the
// host (PATH is part of the clean base environment; go-plugin owns
// PLUGIN_* and the handshake cookie).
var (
	reservedEnv = []string{
		"PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CDPATH",
		"GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
		Handshake.MagicCookieKey,
	}
	reservedEnvPrefixes = []string{"LD_", "DYLD_", "PLUGIN_"}
)

// CheckEnvPattern validates one entry of Spec.Env: a variable name
// ([A-Za-z_][A-Za-z0-9_]*) or a non-empty name prefix followed by "*". It
// refuses reserved names (PATH, HOME, LD_*, ...) and patterns that could
// match one.
func CheckEnvPattern(p string) error {
	name, prefix := strings.CutSuffix(p, "*")
	if !envNameRE.MatchString(name) {
		return fmt.Errorf("%q is not a variable name or a prefix ending in * (such as AWS_*)", p)
	}
	for _, r := range reservedEnv {
		if r == name || (prefix && strings.HasPrefix(r, name)) {
			return fmt.Errorf("%q would pass %s, which a plugin may never receive", p, r)
		}
	}
	for _, r := range reservedEnvPrefixes {
		if strings.HasPrefix(name, r) || (prefix && strings.HasPrefix(r, name)) {
			return fmt.Errorf("%q would pass %s* variables, which a plugin may never receive", p, r)
		}
	}
	return nil
}

// AllowsEnv reports whether the spec declares the environment variable
// name, exactly or by a prefix pattern. A reserved name is never allowed,
// whatever the spec says.
func (s Spec) AllowsEnv(name string) bool {
	if !envNameRE.MatchString(name) || CheckEnvPattern(name) != nil {
		return false
	}
	for _, p := range s.Env {
		if CheckEnvPattern(p) != nil {
			continue
		}
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, pre) {
				return true
			}
		} else if p == name {
			return true
		}
	}
	return false
}
