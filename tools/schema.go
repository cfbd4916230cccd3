package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaOf derives the JSON schema of T from its fields: `json` names which
// properties exist and which are optional (omitempty), `jsonschema` gives the
// description a model reads, and `schema` adds bounds, as in
// `schema:"minimum=10,maximum=1000,default=100,enum=GET|PUT"`.
func schemaOf[T any]() (*jsonschema.Schema, error) {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{
		TypeSchemas: map[reflect.Type]*jsonschema.Schema{
			// Metadata is any JSON value, not the byte array RawMessage is;
			// so is a D1 cell.
			reflect.TypeFor[json.RawMessage](): anyJSON(),
			reflect.TypeFor[any]():             anyJSON(),
		},
	})
	if err != nil {
		return nil, err
	}
	portable(s)
	if err := refine(reflect.TypeFor[T](), s); err != nil {
		return nil, err
	}
	return s, nil
}

// anyJSON is any JSON value, one branch per type. The shorter spellings,
// `true` or a schema with no keyword, are legal JSON Schema, but clients
// that map tool schemas onto a stricter dialect reject or drop them (the
// MCP Inspector's --strict check, test/inspector, flags both).
func anyJSON() *jsonschema.Schema {
	s := &jsonschema.Schema{}
	for _, t := range []string{"object", "array", "string", "number", "boolean", "null"} {
		s.AnyOf = append(s.AnyOf, &jsonschema.Schema{Type: t})
	}
	return s
}

// isAnyJSON reports whether s is anyJSON() and nothing more.
func isAnyJSON(s *jsonschema.Schema) bool {
	if s == nil || len(s.AnyOf) != 6 {
		return false
	}
	bare := *s
	bare.AnyOf = nil
	return reflect.ValueOf(bare).IsZero()
}

// portable gives every schema under s a single type. jsonschema.For types
// slices and pointers as ["null", T], since Go may encode them as null; but
// no argument needs to be null (an optional one is left out), results use
// empty slices and leave out absent pointers, and a type array is what
// clients mapping schemas onto a single-type dialect (Gemini's) reject.
func portable(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) > 0 {
		t := slices.DeleteFunc(slices.Clone(s.Types), func(t string) bool { return t == "null" })
		s.Types = nil
		switch len(t) {
		case 1:
			s.Type = t[0]
		case 0:
		default:
			s.Types = t // a real union: TestSchemasArePortable names it
		}
	}
	for _, p := range s.Properties {
		portable(p)
	}
	portable(s.Items)
	if s.Type == "array" && isAnyJSON(s.Items) {
		s.Items = nil // an array of anything needs no items schema
	}
	portable(s.AdditionalProperties)
	for _, b := range s.AnyOf {
		portable(b)
	}
}

// refine applies the `schema` tags of t's fields to the properties of s,
// descending into nested structs, slices and pointers.
func refine(t reflect.Type, s *jsonschema.Schema) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
		if s.Items != nil {
			s = s.Items
		}
	}
	if t.Kind() != reflect.Struct || s == nil {
		return nil
	}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		prop := s.Properties[name]
		if !f.IsExported() || name == "-" || prop == nil {
			continue
		}
		if err := refine(f.Type, prop); err != nil {
			return err
		}
		tag := f.Tag.Get("schema")
		if tag == "" {
			continue
		}
		for opt := range strings.SplitSeq(tag, ",") {
			if err := applyOption(prop, opt); err != nil {
				return fmt.Errorf("%s.%s: schema tag %q: %w", t.Name(), f.Name, opt, err)
			}
		}
	}
	return nil
}

func applyOption(s *jsonschema.Schema, opt string) error {
	key, val, ok := strings.Cut(opt, "=")
	if !ok {
		return fmt.Errorf("want key=value")
	}
	num := func() (*float64, error) {
		f, err := strconv.ParseFloat(val, 64)
		return &f, err
	}
	count := func() (*int, error) {
		n, err := strconv.Atoi(val)
		return &n, err
	}
	var err error
	switch key {
	case "minimum":
		s.Minimum, err = num()
	case "maximum":
		s.Maximum, err = num()
	case "minItems":
		s.MinItems, err = count()
	case "maxItems":
		s.MaxItems, err = count()
	case "minLength":
		s.MinLength, err = count()
	case "maxLength":
		s.MaxLength, err = count()
	case "default":
		if !json.Valid([]byte(val)) {
			val = strconv.Quote(val)
		}
		s.Default = json.RawMessage(val)
	case "enum":
		for v := range strings.SplitSeq(val, "|") {
			s.Enum = append(s.Enum, v)
		}
	default:
		return fmt.Errorf("unknown option %q", key)
	}
	return err
}

// deriveSchemas derives the JSON schemas of a tool's input and output from
// their Go types.
func deriveSchemas[In, Out any]() (in, out []byte, err error) {
	inSchema, err := schemaOf[In]()
	if err != nil {
		return nil, nil, fmt.Errorf("input schema: %w", err)
	}
	outSchema, err := schemaOf[Out]()
	if err != nil {
		return nil, nil, fmt.Errorf("output schema: %w", err)
	}
	if in, err = json.Marshal(inSchema); err != nil {
		return nil, nil, err
	}
	if out, err = json.Marshal(outSchema); err != nil {
		return nil, nil, err
	}
	return in, out, nil
}

// generatedOr returns the schemas of tool name as generated into
// schemas_gen.go, or derives them when there are none yet. Deriving every
// tool's schemas by reflection was a third of the start-up time; a test
// keeps the generated ones equal to what derive gives. Both are
// json.Marshal's output, which mcpserver's answer to tools/list relies on.
func generatedOr(name string, derive func() ([]byte, []byte, error)) (in, out []byte, err error) {
	if g, ok := generatedSchemas[name]; ok {
		return []byte(g.in), []byte(g.out), nil
	}
	return derive()
}

// compile prepares a schema for validating arguments.
func compile(name string, raw []byte) (*validator.Schema, error) {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	url := "mem:///tools/" + name + ".json"
	c := validator.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}
