package tools

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Most calls pass arguments that plainly meet their tool's schema: a few
// strings, a boolean, a number within bounds. Decoding them for the schema
// validator, walking its compiled schema and decoding them again into the
// handler's type cost more than a small read from the embedded store, so
// such arguments are checked by a direct look at their JSON, and set on the
// handler's arguments from there (fastCheck). Everything else, every
// violation included, goes to the validator, which alone words refusals:
// fastCheck only ever says yes where the validator would
// (TestFastCheckAgreesWithValidator), and sets what json.Unmarshal would
// (TestFastCheckDecodesAsJSON).

// fastCheck accepts, without the validator, arguments that meet an input
// schema of the common shape: an object with additionalProperties false,
// whose members are all declared properties, each of a simple kind, with
// every required one present.
type fastCheck struct {
	props    map[string]fastProp
	required uint64 // a bit per required property, by fastProp.bit
}

type fastKind uint8

const (
	fastOther  fastKind = iota // anything else: its presence sends the call to the validator
	fastString                 // {"type":"string"}
	fastEnum                   // {"type":"string","enum":[strings]}
	fastBool                   // {"type":"boolean"}
	fastInt                    // {"type":"integer"}, with integer bounds or none
)

type fastProp struct {
	kind             fastKind
	bit              uint64
	enum             []string
	hasMin, hasMax   bool
	minimum, maximum int64

	field []int // the index of the field it decodes into; nil: none fastCheck can set
}

// annotations are keywords that do not take part in validation.
var annotations = map[string]bool{"description": true, "title": true, "default": true}

// newFastCheck reads schema, a tool's input schema, whose arguments
// decode into a t. It returns nil when the schema is not of the shape
// fastCheck knows.
func newFastCheck(schema []byte, t reflect.Type) *fastCheck {
	var top map[string]json.RawMessage
	if json.Unmarshal(schema, &top) != nil || string(top["type"]) != `"object"` || string(top["additionalProperties"]) != "false" {
		return nil
	}
	var props map[string]map[string]json.RawMessage
	var required []string
	for k, v := range top {
		var err error
		switch k {
		case "type", "additionalProperties":
		case "properties":
			err = json.Unmarshal(v, &props)
		case "required":
			err = json.Unmarshal(v, &required)
		default:
			if !annotations[k] {
				return nil
			}
		}
		if err != nil {
			return nil
		}
	}
	if len(props) > 64 {
		return nil
	}
	c := &fastCheck{props: make(map[string]fastProp, len(props))}
	i := 0
	for name, p := range props {
		c.props[name] = fastProp{bit: 1 << i}
		if f, ok := simpleProp(p); ok {
			f.bit = 1 << i
			c.props[name] = f
		}
		i++
	}
	for _, name := range required {
		p, ok := c.props[name]
		if !ok {
			return nil // a required property that no member may be
		}
		c.required |= p.bit
	}
	for name, index := range settableFields(t) {
		if p, ok := c.props[name]; ok && p.kind != fastOther {
			p.field = index
			c.props[name] = p
		}
	}
	return c
}

// settableFields maps the JSON names of t's fields that fastCheck can set
// (a string, a bool, an int or int64, or a pointer to one, reached through
// no pointer) to their index. A name two fields claim is left out.
func settableFields(t reflect.Type) map[string][]int {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string][]int{}
	claimed := map[string]int{}
	for _, f := range reflect.VisibleFields(t) {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		claimed[name]++
		if !f.IsExported() || f.Anonymous || name == "-" || (opts != "" && opts != "omitempty" && opts != "omitzero") ||
			!settable(f.Type) || throughPointer(t, f.Index) {
			continue
		}
		fields[name] = f.Index
	}
	for name, n := range claimed {
		if n > 1 {
			delete(fields, name)
		}
	}
	return fields
}

func settable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		return true
	}
	return false
}

// throughPointer reports whether the field at index is reached through an
// embedded pointer, which setting it would have to allocate.
func throughPointer(t reflect.Type, index []int) bool {
	for _, i := range index[:len(index)-1] {
		t = t.Field(i).Type
		if t.Kind() == reflect.Pointer {
			return true
		}
	}
	return false
}

// simpleProp reads the schema of one property; false when it is not of a
// simple kind.
func simpleProp(p map[string]json.RawMessage) (fastProp, bool) {
	var f fastProp
	switch string(p["type"]) {
	case `"string"`:
		f.kind = fastString
	case `"boolean"`:
		f.kind = fastBool
	case `"integer"`:
		f.kind = fastInt
	default:
		return f, false
	}
	for k, v := range p {
		var err error
		switch {
		case k == "type" || annotations[k]:
		case k == "enum" && f.kind == fastString:
			f.kind = fastEnum
			err = json.Unmarshal(v, &f.enum)
		case k == "minimum" && f.kind == fastInt:
			f.hasMin = true
			f.minimum, err = strconv.ParseInt(string(v), 10, 64)
		case k == "maximum" && f.kind == fastInt:
			f.hasMax = true
			f.maximum, err = strconv.ParseInt(string(v), 10, 64)
		default:
			return f, false
		}
		if err != nil {
			return f, false
		}
	}
	return f, true
}

// accepts reports whether args, a JSON document, plainly meets the schema;
// false means the validator must decide.
func (c *fastCheck) accepts(args []byte) bool {
	return c.decode(args, nil, reflect.Value{})
}

// decode is accepts that also sets each member on dst, when it is valid,
// as json.Unmarshal would; it reports false, having set some or none, when
// args do not plainly meet the schema or a member has no field it can set.
// parsed holds the same arguments as parsed by the server, when it has
// them: their strings are set as they are, not copied out of args again.
func (c *fastCheck) decode(args []byte, parsed map[string]any, dst reflect.Value) bool {
	if !json.Valid(args) {
		return false
	}
	i := skipSpace(args, 0)
	if i >= len(args) || args[i] != '{' {
		return false
	}
	var seen uint64
	for i = skipSpace(args, i+1); i < len(args) && args[i] != '}'; {
		end := stringEnd(args, i)
		name := args[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return false
		}
		p, ok := c.props[string(name)]
		if !ok || seen&p.bit != 0 { // unknown, or twice
			return false
		}
		seen |= p.bit
		start := skipSpace(args, skipSpace(args, end)+1) // past the ':'
		end = valueEnd(args, start)
		if !p.accepts(args[start:end]) || dst.IsValid() && !p.set(dst, args[start:end], parsed[string(name)]) {
			return false
		}
		i = skipSpace(args, end)
		if i < len(args) && args[i] == ',' {
			i = skipSpace(args, i+1)
		}
	}
	return seen&c.required == c.required
}

// accepts reports whether v, one JSON value, plainly meets the property's
// schema.
func (p fastProp) accepts(v []byte) bool {
	switch p.kind {
	case fastString:
		return v[0] == '"'
	case fastEnum:
		if v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
			return false
		}
		for _, e := range p.enum {
			if string(v[1:len(v)-1]) == e {
				return true
			}
		}
		return false
	case fastBool:
		return string(v) == "true" || string(v) == "false"
	case fastInt:
		n, ok := plainInt(v)
		return ok && (!p.hasMin || n >= p.minimum) && (!p.hasMax || n <= p.maximum)
	}
	return false
}

// plainInt reads v, a JSON number, when it is an integer written plainly:
// no fraction or exponent (the validator decides those), at most 18 digits,
// which no int64 overflows.
func plainInt(v []byte) (int64, bool) {
	digits := v
	if v[0] == '-' {
		digits = v[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var n int64
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	if v[0] == '-' {
		n = -n
	}
	return n, true
}

// set sets v, a value that p accepts, on its field of dst. parsed is v as
// the server parsed it, or nil.
func (p fastProp) set(dst reflect.Value, v []byte, parsed any) bool {
	if p.field == nil {
		return false
	}
	f := dst.FieldByIndex(p.field)
	if f.Kind() == reflect.Pointer {
		ptr := reflect.New(f.Type().Elem())
		f.Set(ptr)
		f = ptr.Elem()
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := parsed.(string)
		if inner := v[1 : len(v)-1]; !ok && (bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner)) {
			if json.Unmarshal(v, &s) != nil { // escapes, or bytes JSON replaces
				return false
			}
		} else if !ok {
			s = string(inner)
		}
		f.SetString(s)
	case reflect.Bool:
		f.SetBool(v[0] == 't')
	case reflect.Int, reflect.Int64:
		n, ok := plainInt(v)
		if !ok || f.OverflowInt(n) {
			return false
		}
		f.SetInt(n)
	default:
		return false
	}
	return true
}
