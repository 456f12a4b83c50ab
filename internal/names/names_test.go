package names

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"orders", "a", "Orders.v2_x-y", strings.Repeat("a", MaxLen), "...", ".a"} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", ".", "..", "a/b", "a b", "ä", strings.Repeat("a", MaxLen+1), "a\x00"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}

func TestValidPlugin(t *testing.T) {
	for _, s := range []string{"s3", "file", "acme-orders-2", strings.Repeat("a", MaxPluginLen)} {
		if !ValidPlugin(s) {
			t.Errorf("ValidPlugin(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "S3", "-a", "a-", "a--b", "a_b", "a.b", "../x", strings.Repeat("a", MaxPluginLen+1)} {
		if ValidPlugin(s) {
			t.Errorf("ValidPlugin(%q) = true, want false", s)
		}
	}
}
