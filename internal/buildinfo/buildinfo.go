// Package buildinfo holds facts about the junction binary that the build
// sets with -ldflags "-X github.com/junctionhq/junction/internal/buildinfo.NAME=VALUE".
// A plain `go build` leaves the defaults below.
package buildinfo

// Version is the Junction release this binary is. The hub compares it with
// a catalog entry's minimum Junction version.
var Version = "0.1.0-dev"

// FirstPartyKey is the base64 ed25519 public key of the first-party
// connector catalog, trusted for every connector name. `make build` sets it
// to the key it generates in dist/keys; a plain `go build` leaves it empty,
// and then every catalog key must be trusted explicitly.
var FirstPartyKey = ""
