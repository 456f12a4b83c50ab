package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// jsonSchemaURL is the location the one document of a JSON Schema source
// is registered under; $refs resolve within it (and to the metaschemas).
const jsonSchemaURL = "junction:///schema.json"

var printer = message.NewPrinter(language.English)

type jsonValidator struct {
	sch  *jsonschema.Schema
	fast *jnode // nil when the schema needs the full validator
	doc  any    // the parsed schema document, for compatibility checks
}

// noLoader refuses every URL the compiler would fetch, so a $ref cannot
// read the broker's files or reach the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref to %s: only references within the schema are allowed", url)
}

func compileJSON(f File) (validator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(f.Content))
	if err != nil {
		return nil, &CompileError{Type: JSON, File: f.Name, Err: fmt.Errorf("not JSON: %w", err)}
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(jsonSchemaURL, doc); err != nil {
		return nil, &CompileError{Type: JSON, File: f.Name, Err: err}
	}
	sch, err := compileJSONSafely(c)
	if err != nil {
		return nil, &CompileError{Type: JSON, File: f.Name, Err: errors.New(strings.ReplaceAll(err.Error(), jsonSchemaURL, "schema"))}
	}
	return &jsonValidator{sch: sch, fast: compileJSONFast(doc), doc: doc}, nil
}

// compileJSONSafely turns a panic of the compiler on a pathological
// schema into an error: a bad schema must never take the broker down.
func compileJSONSafely(c *jsonschema.Compiler) (sch *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schema cannot be compiled: %v", r)
		}
	}()
	return c.Compile(jsonSchemaURL)
}

func (v *jsonValidator) validate(data []byte) error {
	if v.fast != nil && v.fast.fastValid(data) {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &ValidationError{Rule: "json", Reason: "not valid JSON: " + err.Error()}
	}
	err = v.sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ValidationError{Rule: "schema", Reason: err.Error()}
	}
	return jsonValidationError(ve)
}

// jsonValidationError reports the first innermost failure of a validation
// error tree: the keyword that failed and where.
func jsonValidationError(ve *jsonschema.ValidationError) *ValidationError {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	out := &ValidationError{Reason: leaf.ErrorKind.LocalizedString(printer)}
	for _, tok := range leaf.InstanceLocation {
		out.Path = jsonPointer(out.Path, tok)
	}
	if kp := leaf.ErrorKind.KeywordPath(); len(kp) > 0 {
		out.Rule = kp[len(kp)-1]
	} else {
		out.Rule = "schema"
	}
	out.Reason = strings.TrimPrefix(out.Reason, out.Rule+": ")
	if n := countLeaves(ve); n > 1 {
		out.Reason += fmt.Sprintf(" (and %d more problems)", n-1)
	}
	return out
}

func countLeaves(ve *jsonschema.ValidationError) int {
	if len(ve.Causes) == 0 {
		return 1
	}
	n := 0
	for _, c := range ve.Causes {
		n += countLeaves(c)
	}
	return n
}
