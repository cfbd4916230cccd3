package tools

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
)

// Large values (a 16 MiB value_base64) come as string arguments. bind
// checks and decodes the arguments by a JSON round trip, which would copy
// such a string four times over (the schema validator alone copies every
// string it checks). So the string arguments that need only be strings are
// lifted out of the round trip, checked as "" in their place, and set on
// the decoded arguments as the server decoded them.

// liftable finds the arguments bind may lift: top-level fields of In of
// type string or *string whose schema asks nothing of a string but that it
// is one, so that checking "" in its place is the same check. It maps each
// one's JSON name to its field's index.
func liftable(t reflect.Type, rawSchema []byte) (map[string][]int, error) {
	var schema struct {
		Properties map[string]map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(rawSchema, &schema); err != nil {
		return nil, err
	}
	if t.Kind() != reflect.Struct {
		return nil, nil
	}
	lift := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		prop, ok := schema.Properties[name]
		if !f.IsExported() || !ok || len(f.Index) != 1 || // promoted fields are not lifted
			(f.Type != reflect.TypeFor[string]() && f.Type != reflect.TypeFor[*string]()) {
			continue
		}
		only := true
		for k := range prop {
			if k != "type" && k != "description" && k != "title" {
				only = false
			}
		}
		if only {
			lift[name] = f.Index
		}
	}
	return lift, nil
}

// lifted returns the arguments of req as JSON without the liftable string
// arguments, which it returns apart, as decoded.
//
// A request from a client holds its arguments twice: as the JSON it came
// in (kept for exact numbers: d1_query's params) and parsed. The JSON
// stays the source; the lifted strings are taken from the parsed
// arguments, which decoded that same JSON. A Go caller's request holds
// parsed arguments only; a string there is lifted when it is valid UTF-8,
// which a JSON round trip keeps as it is.
func (c *call[In, Out]) lifted(req mcp.CallToolRequest) ([]byte, map[string]string, error) {
	parsed, _ := req.Params.Arguments.(map[string]any)
	take := func(name string) (string, bool) {
		if _, ok := c.lift[name]; !ok {
			return "", false
		}
		s, ok := parsed[name].(string)
		return s, ok
	}
	if raw := req.Params.RawArguments; len(raw) > 0 {
		var lifted map[string]string
		out, ok := stripStrings(raw, func(name string) bool {
			s, ok := take(name)
			if ok {
				if lifted == nil {
					lifted = map[string]string{}
				}
				lifted[name] = s
			}
			return ok
		})
		if !ok {
			return raw, nil, nil
		}
		return out, lifted, nil
	}
	args := req.GetRawArguments()
	var lifted map[string]string
	for name := range c.lift {
		if s, ok := take(name); ok && utf8.ValidString(s) {
			if lifted == nil {
				lifted, parsed = map[string]string{}, maps.Clone(parsed)
				args = parsed
			}
			lifted[name] = s
			parsed[name] = "" // a string all the same
		}
	}
	raw, err := json.Marshal(args)
	return raw, lifted, err
}

// setLifted sets the lifted arguments on in.
func (c *call[In, Out]) setLifted(in *In, lifted map[string]string) {
	v := reflect.ValueOf(in).Elem()
	for name, s := range lifted {
		f := v.FieldByIndex(c.lift[name])
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.ValueOf(&s))
		} else {
			f.SetString(s)
		}
	}
}

// stripStrings returns obj, a JSON object, with the values of the members
// that lift chooses, among those whose value is a string, replaced by "".
// It reports false, and lift's choices do not count, when obj is not an
// object it can read simply: a member name with an escape, or one that
// occurs twice. obj is valid JSON (the server parsed it).
func stripStrings(obj []byte, lift func(name string) bool) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	var out []byte
	copied := 0 // obj[:copied] is in out
	seen := map[string]bool{}
	for i = skipSpace(obj, i+1); i < len(obj) && obj[i] != '}'; {
		if obj[i] != '"' {
			return nil, false
		}
		end := stringEnd(obj, i)
		name := obj[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 || seen[string(name)] {
			return nil, false
		}
		seen[string(name)] = true
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		start := skipSpace(obj, i+1)
		end = valueEnd(obj, start)
		if end < 0 {
			return nil, false
		}
		if obj[start] == '"' && lift(string(name)) {
			out = append(append(out, obj[copied:start]...), `""`...)
			copied = end
		}
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	if i >= len(obj) {
		return nil, false
	}
	if copied == 0 {
		return obj, true // nothing lifted
	}
	return append(out, obj[copied:]...), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value that starts at b[i],
// or -1 when there is none.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}
