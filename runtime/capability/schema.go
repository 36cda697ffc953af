package capability

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Schema kinds.
const (
	KindPrimitive = "primitive"
	KindArray     = "array"
	KindObject    = "object"
	KindReference = "reference"
	KindUnion     = "union"
)

// Primitive type names.
var primitiveNames = map[string]bool{"string": true, "number": true, "boolean": true, "null": true}

// ErrInvalidSchema is returned for a malformed schema.
var ErrInvalidSchema = cnverr.New(cnverr.InvalidInput, "invalid schema")

// Schema is a type schema, tagged by "type":
//
//	{"type":"primitive","primitive_type":"string"}
//	{"type":"array","items":S}
//	{"type":"object","properties":{"name":S,…},"required":["name"]}
//	{"type":"reference","type_ref":"User"}
//	{"type":"union","options":[S,…]}
//
// In JSON a bare string "User" is accepted as shorthand for a reference. An
// object without "required" requires every listed property; parsing spells
// that list out, so in memory and in msgpack Required lists exactly the
// required properties and an empty or nil Required means none is.
type Schema struct {
	Type       string             `json:"type"`
	Primitive  string             `json:"primitive_type,omitempty"`
	Items      *Schema            `json:"items,omitempty"`
	Properties map[string]*Schema `json:"properties,omitempty"`
	Required   []string           `json:"required,omitempty"`
	Ref        string             `json:"type_ref,omitempty"`
	Options    []*Schema          `json:"options,omitempty"`
}

// PrimitiveSchema returns a primitive schema.
func PrimitiveSchema(name string) *Schema { return &Schema{Type: KindPrimitive, Primitive: name} }

// UnmarshalJSON accepts a schema object or a bare type name.
func (s *Schema) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		if primitiveNames[name] {
			*s = Schema{Type: KindPrimitive, Primitive: name}
		} else {
			*s = Schema{Type: KindReference, Ref: name}
		}
		return nil
	}
	type plain Schema
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = Schema(p)
	if s.Type == KindObject && s.Required == nil {
		// "required" absent means every property is required. Spell it
		// out here so that the in-memory form has one meaning, and an
		// explicit empty list (nothing required) survives encodings that
		// drop empty lists: in memory, nil means nothing is required.
		s.Required = s.allProperties()
	}
	return nil
}

func (s *Schema) allProperties() []string {
	req := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		req = append(req, k)
	}
	sort.Strings(req)
	return req
}

// Validate checks the schema's shape and depth.
func (s *Schema) Validate() error { return s.validate(0) }

func (s *Schema) validate(depth int) error {
	if s == nil {
		return fmt.Errorf("%w: missing schema", ErrInvalidSchema)
	}
	if depth > limits.MaxSchemaDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrInvalidSchema, limits.MaxSchemaDepth)
	}
	switch s.Type {
	case KindPrimitive:
		if !primitiveNames[s.Primitive] {
			return fmt.Errorf("%w: unknown primitive %q", ErrInvalidSchema, s.Primitive)
		}
	case KindArray:
		return s.Items.validate(depth + 1)
	case KindObject:
		for name, p := range s.Properties {
			if err := p.validate(depth + 1); err != nil {
				return fmt.Errorf("property %q: %w", name, err)
			}
		}
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok {
				return fmt.Errorf("%w: required property %q is not defined", ErrInvalidSchema, r)
			}
		}
	case KindReference:
		if s.Ref == "" || len(s.Ref) > limits.MaxIDLen {
			return fmt.Errorf("%w: reference name must be 1 to %d bytes", ErrInvalidSchema, limits.MaxIDLen)
		}
	case KindUnion:
		if len(s.Options) == 0 {
			return fmt.Errorf("%w: union without options", ErrInvalidSchema)
		}
		for _, o := range s.Options {
			if err := o.validate(depth + 1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: unknown schema type %q", ErrInvalidSchema, s.Type)
	}
	return nil
}

// Hash is hex of the first 16 bytes of SHA-256 over the schema's canonical
// encoding (32 hex digits). Equal schemas always hash equally: the codec
// sorts map keys. A nil schema hashes as the primitive null.
func (s *Schema) Hash() string {
	if s == nil {
		s = PrimitiveSchema("null")
	}
	sum := sha256.Sum256(codec.MustMarshal(s.normalized()))
	return hex.EncodeToString(sum[:16])
}

// normalized returns a copy with "required" spelled out and sorted, so that
// an object with an implicit and one with an explicit full required list hash
// the same.
func (s *Schema) normalized() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Items = s.Items.normalized()
	if s.Properties != nil {
		c.Properties = make(map[string]*Schema, len(s.Properties))
		for k, v := range s.Properties {
			c.Properties[k] = v.normalized()
		}
	}
	c.Required = s.requiredList()
	if s.Options != nil {
		c.Options = make([]*Schema, len(s.Options))
		for i, o := range s.Options {
			c.Options[i] = o.normalized()
		}
	}
	return &c
}

func (s *Schema) requiredList() []string {
	if s.Type != KindObject {
		return nil
	}
	req := append([]string(nil), s.Required...)
	sort.Strings(req)
	return req
}

// Name is a short display name: the reference name, the primitive name, or
// the kind.
func (s *Schema) Name() string {
	switch {
	case s == nil:
		return "null"
	case s.Type == KindReference:
		return s.Ref
	case s.Type == KindPrimitive:
		return s.Primitive
	}
	return s.Type
}

// AcceptsFrom reports whether a value of type `from` may be passed where s is
// expected:
//   - primitives: equal names;
//   - references: equal names (names are nominal types);
//   - arrays: the item types are compatible;
//   - objects: every property s requires exists in `from` and is compatible
//     (width subtyping);
//   - union on the expected side: any option accepts;
//   - union on the produced side: every option must be accepted (a value may
//     be any of them).
func (s *Schema) AcceptsFrom(from *Schema) bool {
	if s == nil || from == nil {
		return s.Name() == from.Name()
	}
	if from.Type == KindUnion {
		for _, o := range from.Options {
			if !s.AcceptsFrom(o) {
				return false
			}
		}
		return true
	}
	switch s.Type {
	case KindUnion:
		for _, o := range s.Options {
			if o.AcceptsFrom(from) {
				return true
			}
		}
		return false
	case KindPrimitive:
		return from.Type == KindPrimitive && from.Primitive == s.Primitive
	case KindReference:
		return from.Type == KindReference && from.Ref == s.Ref
	case KindArray:
		return from.Type == KindArray && s.Items.AcceptsFrom(from.Items)
	case KindObject:
		if from.Type != KindObject {
			return false
		}
		for _, name := range s.requiredList() {
			fp, ok := from.Properties[name]
			if !ok || !s.Properties[name].AcceptsFrom(fp) {
				return false
			}
		}
		return true
	}
	return false
}
