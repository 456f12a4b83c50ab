// Package names validates the names Junction's parts share: stations,
// consumer groups and connector instances (the broker's names) and plugins
// (the catalog's names). One definition of each keeps the broker, the
// connector definition parser and the hub in agreement.
package names

import "regexp"

// MaxLen is the longest station, group or connector instance name.
const MaxLen = 128

// MaxPluginLen is the longest plugin (catalog) name.
const MaxPluginLen = 64

var (
	nameRE   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)
	pluginRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// Valid reports whether s is a valid station, consumer group or connector
// instance name: 1 to 128 of a-z A-Z 0-9 . _ -, and not "." or "..", so a
// name is safe as a path element.
func Valid(s string) bool {
	return nameRE.MatchString(s) && s != "." && s != ".."
}

// ValidPlugin reports whether s is a plugin name a catalog may use: lower
// case letters, digits and inner dashes, at most 64 characters.
func ValidPlugin(s string) bool {
	return len(s) <= MaxPluginLen && pluginRE.MatchString(s)
}
