package buildinfo

import "runtime/debug"

// Commit is the source revision this binary was built from. `make build`
// sets it; otherwise Revision falls back to what the Go toolchain
// recorded (go build in a git checkout records it).
var Commit = ""

// Revision returns the source revision of this binary and whether its
// tree had uncommitted changes; "" when unknown.
func Revision() (rev string, modified bool) {
	info, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if Commit != "" {
		rev = Commit
	}
	return rev, modified
}

// GoVersion is the Go release that built this binary.
func GoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.GoVersion
	}
	return ""
}
