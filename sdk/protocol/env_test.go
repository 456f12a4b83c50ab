package protocol

import (
	"strings"
	"testing"
)

func TestCheckEnvPattern(t *testing.T) {
	for _, p := range []string{"AWS_*", "AWS_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "_X", "A*", "HTTPS_PROXY", "LD"} {
		if err := CheckEnvPattern(p); err != nil {
			t.Errorf("CheckEnvPattern(%q) = %v, want nil", p, err)
		}
	}
	for p, want := range map[string]string{
		"":                          "not a variable name",
		"*":                         "not a variable name",
		"A B":                       "not a variable name",
		"1X":                        "not a variable name",
		"AWS*_":                     "not a variable name",
		"A=B":                       "not a variable name",
		"PATH":                      "PATH",
		"HOME":                      "HOME",
		"P*":                        "PATH",
		"H*":                        "HOME",
		"LD_PRELOAD":                "LD_",
		"LD_*":                      "LD_",
		"L*":                        "may never receive",
		"DYLD_INSERT_LIBRARIES":     "DYLD_",
		"PLUGIN_MIN_PORT":           "PLUGIN_",
		"JUNCTION_CONNECTOR_PLUGIN": "JUNCTION_CONNECTOR_PLUGIN",
		"JUNCTION_*":                "JUNCTION_CONNECTOR_PLUGIN",
		"BASH_ENV":                  "BASH_ENV",
	} {
		err := CheckEnvPattern(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckEnvPattern(%q) = %v, want an error naming %s", p, err, want)
		}
	}
}

func TestSpecValidateEnv(t *testing.T) {
	s := Spec{Name: "x", Version: "1.0.0", Kinds: []Kind{KindSink}, Env: []string{"AWS_*", "LD_PRELOAD", "HOME"}}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "env[1]") || !strings.Contains(err.Error(), "env[2]") || strings.Contains(err.Error(), "env[0]") {
		t.Fatalf("Validate = %v, want errors for env[1] and env[2] only", err)
	}
}

func TestAllowsEnv(t *testing.T) {
	s := Spec{Env: []string{"AWS_*", "HTTPS_PROXY"}}
	for name, want := range map[string]bool{
		"AWS_REGION": true, "AWS_": true, "HTTPS_PROXY": true,
		"HTTPS_PROXY_X": false, "AWS": false, "GCP_X": false, "PATH": false, "": false,
	} {
		if got := s.AllowsEnv(name); got != want {
			t.Errorf("AllowsEnv(%q) = %v, want %v", name, got, want)
		}
	}
	// A spec that bypassed Validate still never lets a reserved name through.
	bad := Spec{Env: []string{"L*", "PATH"}}
	for _, name := range []string{"LD_PRELOAD", "PATH", "LANG"} {
		if bad.AllowsEnv(name) {
			t.Errorf("invalid spec allowed %s", name)
		}
	}
}

func TestSpecEnvCrossesTheWire(t *testing.T) {
	s := Spec{Name: "x", Env: []string{"AWS_*", "HTTPS_PROXY"}}
	got := SpecFromPB(SpecToPB(s))
	if len(got.Env) != 2 || got.Env[0] != "AWS_*" || got.Env[1] != "HTTPS_PROXY" {
		t.Errorf("env after the wire: %q", got.Env)
	}
}

// FuzzEnvPattern checks that no pattern CheckEnvPattern accepts lets a
// reserved variable through AllowsEnv, and that AllowsEnv never panics.
func FuzzEnvPattern(f *testing.F) {
	for _, s := range []string{"AWS_*", "L*", "PATH", "LD_PRELOAD", "HOME", "P*", "_*", "X", "*", "A=B"} {
		f.Add(s, "LD_PRELOAD")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		s := Spec{Env: []string{pattern}}
		if !s.AllowsEnv(name) {
			return
		}
		if CheckEnvPattern(pattern) != nil {
			t.Fatalf("invalid pattern %q allowed %q", pattern, name)
		}
		if err := CheckEnvPattern(name); err != nil {
			t.Fatalf("pattern %q allowed reserved or malformed name %q: %v", pattern, name, err)
		}
	})
}
