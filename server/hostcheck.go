package server

import (
	"net"
	"net/http"
	"strings"

	"github.com/junctionhq/junction/broker/auth"
)

// loopbackOnly refuses, while authentication is off, requests addressed to
// any host but a loopback one. An open broker answers only loopback
// callers, but a web page can still reach it through DNS rebinding (a
// hostile name that resolves to 127.0.0.1): its requests then carry that
// name as their Host, which this refuses. With --insecure (an operator's
// choice to serve openly on the network) there is nothing to check.
func loopbackOnly(a *auth.Auth, insecure bool, next http.Handler) http.Handler {
	if insecure {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (a == nil || !a.Enabled()) && !loopbackHost(r.Host) {
			http.Error(w, "this broker has no users and answers only requests addressed to localhost, 127.0.0.1 or [::1]; create a user to serve other names", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names a loopback address.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
