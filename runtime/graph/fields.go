package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
)

// checkFields walks a JSON document against the Go type it will decode
// into and reports the first object key the type does not define, or that
// appears twice in one object, naming its JSON path ("capabilities[2].cost").
// Values of types with their own UnmarshalJSON (contracts) are left to that
// method, which must be strict itself; schemas are walked as the struct
// they are. Type mismatches are left to the decoder.
func checkFields(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := checkValue(dec, t, "", 0); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the document", ErrInvalidFile)
	}
	return nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	schemaType      = reflect.TypeFor[capability.Schema]()
	anyType         = reflect.TypeFor[any]()
)

func checkValue(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > limits.CodecMaxDepth {
		return fmt.Errorf("%w: %s: nested deeper than %d", ErrInvalidFile, path, limits.CodecMaxDepth)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != schemaType && reflect.PointerTo(t).Implements(unmarshalerType) {
		var raw json.RawMessage
		return syntaxErr(dec.Decode(&raw), path)
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err, path)
	}
	switch tok {
	case json.Delim('{'):
		return checkObject(dec, t, path, depth)
	case json.Delim('['):
		return checkArray(dec, t, path, depth)
	}
	return nil
}

func checkObject(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err, path)
		}
		key, _ := tok.(string)
		where := joinPath(path, key)
		if seen[key] {
			return fmt.Errorf("%w: %s: duplicate field", ErrInvalidFile, where)
		}
		seen[key] = true
		ft, ok := fieldType(t, key)
		if !ok {
			return fmt.Errorf("%w: %s: unknown field", ErrInvalidFile, where)
		}
		if err := checkValue(dec, ft, where, depth+1); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return syntaxErr(err, path)
}

func checkArray(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	elem := anyType
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		elem = t.Elem()
	}
	for i := 0; dec.More(); i++ {
		if err := checkValue(dec, elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return syntaxErr(err, path)
}

// fieldType returns the type a key of an object decoded into t takes: a
// struct's field by exact json name, a map's element, or anything for
// other types (the decoder reports the mismatch).
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	switch t.Kind() {
	case reflect.Struct:
		ft, ok := jsonFields(t)[key]
		return ft, ok
	case reflect.Map:
		return t.Elem(), true
	}
	return anyType, true
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type)
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func syntaxErr(err error, path string) error {
	if err == nil {
		return nil
	}
	if path == "" {
		path = "document"
	}
	return fmt.Errorf("%w: %s: %v", ErrInvalidFile, path, err)
}
