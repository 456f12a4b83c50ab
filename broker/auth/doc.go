// Package auth is the broker's authentication and authorisation: users
// with passwords hashed by argon2id, API tokens (random, stored hashed,
// revocable, optionally expiring), grants per station name pattern, roles
// that bundle grants, and the one connect-go interceptor that checks every
// method of every service, streams included.
//
// A broker with no users is open: every caller may do anything, and the
// server only listens on loopback in that state. The first user created
// turns authentication on; Mode Required turns it on from the start.
//
// Every change to users and tokens is logged as an "audit" line naming who
// did what; passwords and token secrets never appear in logs or in the
// metadata file.
package auth
