package client_test

import (
	"net"
	"strings"
	"testing"
)

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
