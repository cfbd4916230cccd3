package tools

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// describeViolation is the one place a schema violation becomes words: a
// sentence that names the field (as the storage layer does,
// "entries[1].key"), the value given, the limit, and what to change, never
// the validator's own wording. schema is the JSON schema that was checked
// and doc the checked document, both used to quote the field's description
// and the value. Too many items is too_large, like the storage layer's count
// limits.
func describeViolation(err error, schema []byte, doc any) (storage.Code, string) {
	ve, ok := err.(*validator.ValidationError)
	if !ok {
		return storage.CodeInvalidArgument, err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	v := violation{field: fieldName(ve.InstanceLocation), value: valueAt(doc, ve.InstanceLocation)}
	var root any
	if json.Unmarshal(schema, &root) == nil {
		v.schema = schemaAt(root, ve.SchemaURL)
	}
	code := storage.CodeInvalidArgument
	if _, ok := ve.ErrorKind.(*kind.MaxItems); ok {
		code = storage.CodeTooLarge
	}
	return code, v.explain(ve.ErrorKind)
}

// violation is what is known about the value a violation is about.
type violation struct {
	field  string         // "entries[1].key"; "" for the arguments as a whole
	value  any            // the value given
	schema map[string]any // the schema holding the broken keyword
}

func (v violation) explain(k validator.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Required:
		return v.missing(k.Missing)
	case *kind.AdditionalProperties:
		slices.Sort(k.Properties) // the validator lists them in map order
		names := make([]string, len(k.Properties))
		for i, p := range k.Properties {
			names[i] = v.child(p)
		}
		what := "arguments"
		if v.field != "" {
			what = "fields"
		}
		known := v.propertyNames()
		if len(known) == 0 {
			return fmt.Sprintf("%s: not allowed; this takes no %s, leave them out", strings.Join(names, ", "), what)
		}
		return fmt.Sprintf("%s: not allowed; the %s here are %s (check the spelling)", strings.Join(names, ", "), what, strings.Join(known, ", "))
	case *kind.Type:
		return v.sentence("%s is %s; give %s", v.quote(), article(k.Got), alternatives(k.Want))
	case *kind.Minimum:
		return v.sentence("%s is below the minimum of %s; give %s or more", v.quote(), number(k.Want), number(k.Want))
	case *kind.Maximum:
		return v.sentence("%s is above the maximum of %s; give %s or less", v.quote(), number(k.Want), number(k.Want))
	case *kind.ExclusiveMinimum:
		return v.sentence("%s must be more than %s", v.quote(), number(k.Want))
	case *kind.ExclusiveMaximum:
		return v.sentence("%s must be less than %s", v.quote(), number(k.Want))
	case *kind.MultipleOf:
		return v.sentence("%s is not a multiple of %s", v.quote(), number(k.Want))
	case *kind.MinLength:
		return v.sentence("%s is %s long, under the minimum of %s", v.quote(), plural(k.Got, "character"), plural(k.Want, "character"))
	case *kind.MaxLength:
		return v.sentence("%s is %s long, over the maximum of %s; shorten it", v.quote(), plural(k.Got, "character"), plural(k.Want, "character"))
	case *kind.Pattern:
		return v.sentence("%s does not match the pattern %s%s", v.quote(), k.Want, v.hint())
	case *kind.Enum:
		return v.sentence("%s is not one of %s", v.quote(), choices(k.Want))
	case *kind.Const:
		return v.sentence("%s must be %s", v.quote(), render(k.Want))
	case *kind.MinItems:
		return v.sentence("%s, under the minimum of %d; give at least %d", plural(k.Got, "item"), k.Want, k.Want)
	case *kind.MaxItems:
		return v.sentence("%s, over the maximum of %d; split them over calls of at most %d each", plural(k.Got, "item"), k.Want, k.Want)
	case *kind.MinProperties:
		return v.sentence("%s, under the minimum of %d", plural(k.Got, "entry"), k.Want)
	case *kind.MaxProperties:
		return v.sentence("%s, over the maximum of %d", plural(k.Got, "entry"), k.Want)
	case *kind.UniqueItems:
		return v.sentence("items %d and %d are the same; give each once", k.Duplicates[0], k.Duplicates[1])
	case *kind.FalseSchema:
		return v.sentence("not allowed here; leave it out")
	default:
		return v.sentence("%s is not accepted here%s", v.quote(), v.hint())
	}
}

// missing names required properties that were not given, and what to give:
// the description of each (for confirm, what it must equal).
func (v violation) missing(names []string) string {
	props, _ := v.schema["properties"].(map[string]any)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = v.child(n) + ": missing; it is required"
		if p, ok := props[n].(map[string]any); ok {
			if d, _ := p["description"].(string); d != "" {
				if strings.HasPrefix(d, "must ") {
					parts[i] = v.child(n) + ": missing; it " + d
				} else {
					parts[i] = v.child(n) + ": missing; give " + d
				}
			}
		}
	}
	return strings.Join(parts, ". ")
}

func (v violation) sentence(format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	if v.field == "" {
		return "arguments: " + msg
	}
	return v.field + ": " + msg
}

// child is the name of property p of the field.
func (v violation) child(p string) string {
	if v.field == "" {
		return p
	}
	return v.field + "." + p
}

// quote renders the value given, cut short when long.
func (v violation) quote() string { return render(v.value) }

// hint is the field's description, which says what it takes.
func (v violation) hint() string {
	if d, _ := v.schema["description"].(string); d != "" {
		return "; it takes " + d
	}
	return ""
}

func (v violation) propertyNames() []string {
	props, _ := v.schema["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// fieldName writes an instance location as "entries[1].key".
func fieldName(loc []string) string {
	var b strings.Builder
	for _, seg := range loc {
		if _, err := strconv.Atoi(seg); err == nil {
			fmt.Fprintf(&b, "[%s]", seg)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// valueAt is the value at loc in doc, nil when there is none.
func valueAt(doc any, loc []string) any {
	for _, seg := range loc {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}

// schemaAt is the schema a violation is about. Its URL points either at the
// schema ("…#/properties/entries/items", for required and
// additionalProperties) or at the broken keyword inside it
// ("…#/properties/limit/minimum"): the last object on the path is the one.
func schemaAt(root any, schemaURL string) map[string]any {
	_, frag, _ := strings.Cut(schemaURL, "#")
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	found, _ := root.(map[string]any)
	cur := root
	for t := range strings.SplitSeq(strings.TrimPrefix(frag, "/"), "/") {
		if t == "" {
			continue
		}
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return found
			}
			cur = c[i]
		default:
			return found
		}
		if m, ok := cur.(map[string]any); ok {
			found = m
		}
	}
	return found
}

// maxQuoted caps a value quoted in a message: the message is for a model,
// and the value was the caller's anyway.
const maxQuoted = 80

// render writes a value as JSON ("abc", 10, [1,2]), cut short when long.
func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && s[cut]&0xC0 == 0x80 { // keep UTF-8 whole
			cut--
		}
		s = s[:cut] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

func number(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// article names a JSON type with its article: "an integer", "a string".
func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "integer", "array", "object":
		return "an " + t
	}
	return "a " + t
}

// alternatives names the types a value may have. null is left out when
// there is another: an optional argument is better left out than null.
func alternatives(types []string) string {
	if len(types) > 1 {
		types = slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "null" })
	}
	words := make([]string, len(types))
	for i, t := range types {
		words[i] = article(t)
	}
	return strings.Join(words, " or ")
}

func choices(values []any) string {
	words := make([]string, len(values))
	for i, v := range values {
		words[i] = render(v)
	}
	return strings.Join(words, ", ")
}
