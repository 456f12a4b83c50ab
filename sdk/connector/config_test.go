package connector_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

var update = flag.Bool("update", false, "rewrite golden files")

type sampleConfig struct {
	Dir     string        `json:"dir" connector:"required" doc:"Directory the files go to."`
	Format  string        `json:"format" default:"jsonl" allowed:"jsonl,lines" doc:"File format."`
	MaxWait time.Duration `json:"max_wait" default:"5s" doc:"Longest wait."`
	Token   string        `json:"token" connector:"secret" doc:"API token."`
	Tags    []string      `json:"tags" doc:"Tags."`
	Ratio   float64       `json:"ratio" default:"0.5" doc:"A ratio."`
	Retries uint8         `json:"retries" default:"3" doc:"Retries."`
	Verbose bool          `json:"verbose" doc:"Log more."`
	Rotate  struct {
		MaxBytes connector.Size `json:"max_bytes" default:"64MiB" doc:"Rotate after this size."`
	} `json:"rotate"`
}

func (c sampleConfig) Validate() error {
	if c.Format == "lines" && c.Verbose {
		return connector.FieldError{Field: "verbose", Message: "not supported with format lines"}
	}
	return nil
}

func sampleFactory() *connector.SinkFactory {
	return connector.NewSink(func(sampleConfig) (connector.Sink, error) { return connector.UnimplementedSink{}, nil })
}

func TestDecodeDefaults(t *testing.T) {
	v, err := sampleFactory().Decode(map[string]any{"dir": "/tmp", "tags": []any{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	c := v.(sampleConfig)
	if c.Format != "jsonl" || c.MaxWait != 5*time.Second || c.Rotate.MaxBytes != 64*connector.MiB ||
		c.Ratio != 0.5 || c.Retries != 3 || strings.Join(c.Tags, ",") != "a,b" {
		t.Errorf("decoded %+v", c)
	}
}

func TestDecodeValues(t *testing.T) {
	v, err := sampleFactory().Decode(map[string]any{
		"dir": "/d", "max_wait": "250ms", "retries": "7", "verbose": "true", "tags": "x, y",
		"rotate": map[string]any{"max_bytes": float64(1024)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := v.(sampleConfig)
	if c.MaxWait != 250*time.Millisecond || c.Retries != 7 || !c.Verbose || c.Rotate.MaxBytes != 1024 || strings.Join(c.Tags, ",") != "x,y" {
		t.Errorf("decoded %+v", c)
	}
}

func TestDecodeReportsEveryError(t *testing.T) {
	_, err := sampleFactory().Decode(map[string]any{
		"formt":    "jsonl",
		"format":   "xml",
		"max_wait": 5,
		"token":    42,
		"retries":  300,
		"tags":     []any{"a", 1},
		"rotate":   map[string]any{"max_bytes": "lots", "extra": 1},
	})
	var fes connector.FieldErrors
	if !errors.As(err, &fes) || !errors.Is(err, connector.ErrConfig) {
		t.Fatalf("err = %v, want FieldErrors", err)
	}
	want := []string{
		`formt: unknown field, did you mean "format"?`,
		`rotate.extra: unknown field`,
		`dir: required`,
		`format: want one of jsonl, lines, got "xml"`,
		`max_wait: want a duration such as 5s, got 5`,
		`token: want a string, got a number (value hidden)`,
		`tags: want a list of strings, got 1 at index 1`,
		`retries: want a non-negative integer that fits uint8, got 300`,
		`rotate.max_bytes: want a size such as 64MiB, got "lots"`,
	}
	got := make(map[string]bool)
	for _, fe := range fes {
		got[fe.Error()] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing error %q", w)
		}
	}
	if len(fes) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(fes), len(want), err)
	}
	if t.Failed() {
		t.Log(err)
	}
}

func TestDecodeRunsValidate(t *testing.T) {
	_, err := sampleFactory().Decode(map[string]any{"dir": "d", "format": "lines", "verbose": true})
	var fes connector.FieldErrors
	if !errors.As(err, &fes) || len(fes) != 1 || fes[0].Field != "verbose" {
		t.Fatalf("err = %v, want one error naming verbose", err)
	}
}

func TestSpecGolden(t *testing.T) {
	def := connector.Definition{
		Name: "sample", Version: "1.2.3", Description: "A sample.",
		Sink: sampleFactory(),
		Source: connector.NewSource(func(struct {
			Glob string `json:"glob" connector:"required" doc:"Files."`
		}) (connector.Source, error) {
			return nil, nil
		}),
	}
	spec := def.Spec()
	if err := spec.Validate(); err != nil {
		t.Fatalf("spec invalid: %v", err)
	}
	got, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sample_spec.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("spec differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

func TestSpecValidate(t *testing.T) {
	bad := connector.Spec{Name: "Bad Name", Version: "1.0", Fields: []connector.Field{
		{Name: "x", Type: connector.TypeDuration, Default: "soon"},
	}}
	err := bad.Validate()
	for _, w := range []string{"name:", "version:", "kinds:", "fields.x: has no doc", `fields.x: default: "soon" is not a valid duration`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to mention %q", err, w)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]connector.Size{
		"8MiB": 8 << 20, "512KB": 512000, "1024": 1024, "1.5GiB": 3 << 29, "64mib": 64 << 20, "10 B": 10,
	} {
		got, err := connector.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "1.5", "MiB", "NaN", "1e400"} {
		if _, err := connector.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
	if s := (64 * connector.MiB).String(); s != "64MiB" {
		t.Errorf("String() = %s", s)
	}
}

func TestNewSinkPanicsOnBadDefault(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	connector.NewSink(func(struct {
		D time.Duration `json:"d" default:"soon"`
	}) (connector.Sink, error) {
		return nil, nil
	})
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"dir":"/tmp"}`)
	f.Add(`{"dir":"/tmp","rotate":{"max_bytes":"8MiB"},"max_wait":"1m","tags":["a"]}`)
	f.Add(`{"formt":1,"rotate":[],"retries":-1}`)
	factory := sampleFactory()
	f.Fuzz(func(t *testing.T, in string) {
		var raw map[string]any
		if json.Unmarshal([]byte(in), &raw) != nil {
			return
		}
		v, err := factory.Decode(raw)
		if err != nil {
			if !errors.Is(err, connector.ErrConfig) {
				t.Fatalf("error %v is not a config error", err)
			}
			return
		}
		if _, ok := v.(sampleConfig); !ok {
			t.Fatalf("decoded %T", v)
		}
	})
}

type sharedFields struct {
	Bucket string `json:"bucket" connector:"required" doc:"Bucket."`
	Region string `json:"region" default:"us-east-1" doc:"Region."`
}

type embeddingConfig struct {
	sharedFields
	Format string `json:"format" default:"jsonl" doc:"Format."`
}

func TestEmbeddedStructFieldsBelongToTheParent(t *testing.T) {
	f := connector.NewSink(func(embeddingConfig) (connector.Sink, error) { return nil, nil })
	v, err := f.Decode(map[string]any{"bucket": "b", "format": "lines"})
	if err != nil {
		t.Fatal(err)
	}
	c := v.(embeddingConfig)
	if c.Bucket != "b" || c.Region != "us-east-1" || c.Format != "lines" {
		t.Fatalf("decoded %+v", c)
	}
	var names []string
	for _, fl := range (connector.Definition{Name: "x", Version: "1.0.0", Sink: f}).Spec().Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "bucket,region,format" {
		t.Fatalf("spec fields %v, want bucket,region,format", names)
	}
	if _, err := f.Decode(map[string]any{"format": "lines"}); err == nil || !strings.Contains(err.Error(), "bucket: required") {
		t.Fatalf("missing embedded required field: err = %v", err)
	}
}
