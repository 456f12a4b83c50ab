package schema

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// graphqlValidator checks that a payload is a GraphQL operation document
// valid against the schema, as Memphis did.
type graphqlValidator struct {
	sch *ast.Schema
}

func compileGraphQL(f File) (v validator, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &CompileError{Type: GraphQL, File: f.Name, Err: fmt.Errorf("schema cannot be parsed: %v", r)}
		}
	}()
	sch, gerr := gqlparser.LoadSchema(&ast.Source{Name: f.Name, Input: string(f.Content)})
	if gerr != nil {
		return nil, &CompileError{Type: GraphQL, File: f.Name, Err: gerr}
	}
	return &graphqlValidator{sch: sch}, nil
}

func (v *graphqlValidator) validate(data []byte) (err error) {
	if !utf8.Valid(data) {
		return &ValidationError{Rule: "utf8", Reason: "the document is not UTF-8"}
	}
	defer func() {
		if r := recover(); r != nil {
			err = &ValidationError{Rule: "parse", Reason: fmt.Sprintf("the document cannot be parsed: %v", r)}
		}
	}()
	_, errs := gqlparser.LoadQuery(v.sch, string(data))
	if len(errs) == 0 {
		return nil
	}
	return graphqlError(errs)
}

func graphqlError(errs gqlerror.List) *ValidationError {
	first := errs[0]
	out := &ValidationError{Rule: first.Rule, Reason: first.Message}
	if out.Rule == "" {
		out.Rule = "syntax"
	}
	switch {
	case len(first.Path) > 0:
		out.Path = "/" + first.Path.String()
	case len(first.Locations) > 0:
		out.Path = fmt.Sprintf("%d:%d", first.Locations[0].Line, first.Locations[0].Column)
	}
	if len(errs) > 1 {
		out.Reason += fmt.Sprintf(" (and %d more problems)", len(errs)-1)
	}
	return out
}

var errGraphQLCompat = errors.New("graphql schemas have no compatibility rules: use compatibility none")
