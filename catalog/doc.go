// Package catalog reads, verifies, publishes and installs from connector
// catalogs.
//
// A catalog is a directory or an http(s) URL holding index.json, its
// detached signature index.json.sig, and the connector artifacts the index
// points to. The format is documented in FORMAT.md. Everything an index
// says is checked by [ParseIndex] before it is used, and every artifact is
// checked by [Installer] against its size, sha256 and its publisher's
// ed25519 signature, and the publisher against a [TrustStore], before it is
// run or installed. Verification failures wrap [ErrVerify].
package catalog
