package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// closeObjects walks a schema tree (as decoded from JSON/YAML) and makes every
// object schema that lists "properties" reject any other property, unless the
// schema says otherwise (it has "additionalProperties" or
// "patternProperties", or "x-kubernetes-preserve-unknown-fields: true").
//
// A schema whose own properties are extended through allOf/anyOf/oneOf
// branches cannot be closed with additionalProperties (which only sees the
// sibling "properties"); such a schema is closed with the union of the
// property names of all branches instead, so that what any branch allows
// stays allowed.
//
// The walk follows schema keywords only, so a field that happens to be named
// like a keyword is never mistaken for one. OpenAPI's "nullable: true" is
// turned into a JSON Schema type that admits null.
//
// It returns how many schemas it closed.
func closeObjects(root any) int {
	n := 0
	var walk func(v any)
	walkMap := func(v any) {
		if m, ok := v.(map[string]any); ok {
			for _, e := range m {
				walk(e)
			}
		}
	}
	walkList := func(v any) {
		if l, ok := v.([]any); ok {
			for _, e := range l {
				walk(e)
			}
		}
	}
	walk = func(v any) {
		s, ok := v.(map[string]any)
		if !ok {
			return // true/false schemas
		}
		walkMap(s["properties"])
		walkMap(s["patternProperties"])
		walkMap(s["definitions"])
		walkMap(s["$defs"])
		walkMap(s["dependentSchemas"])
		for _, k := range []string{"additionalProperties", "unevaluatedProperties", "propertyNames",
			"additionalItems", "unevaluatedItems", "contains", "not", "if", "then", "else"} {
			walk(s[k])
		}
		switch items := s["items"].(type) {
		case []any:
			walkList(items)
		default:
			walk(items)
		}
		for _, k := range []string{"prefixItems", "allOf", "anyOf", "oneOf"} {
			walkList(s[k])
		}
		if nullable, _ := s["nullable"].(bool); nullable {
			if t, ok := s["type"].(string); ok {
				s["type"] = []any{t, "null"}
			}
		}
		if closeOne(s) {
			n++
		}
	}
	walk(root)
	return n
}

func closeOne(s map[string]any) bool {
	props, ok := s["properties"].(map[string]any)
	if !ok || len(props) == 0 {
		return false
	}
	if _, ok := s["additionalProperties"]; ok {
		return false
	}
	if _, ok := s["patternProperties"]; ok {
		return false
	}
	if _, ok := s["unevaluatedProperties"]; ok {
		return false
	}
	if b, _ := s["x-kubernetes-preserve-unknown-fields"].(bool); b {
		return false
	}
	extra := map[string]bool{}
	for _, comb := range []string{"allOf", "anyOf", "oneOf"} {
		branches, _ := s[comb].([]any)
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			if bm == nil {
				continue
			}
			if _, ok := bm["$ref"]; ok {
				// Properties behind a reference are unknown here: leave open.
				return false
			}
			if bp, ok := bm["properties"].(map[string]any); ok {
				for name := range bp {
					if _, own := props[name]; !own {
						extra[name] = true
					}
				}
			}
		}
	}
	if len(extra) == 0 {
		s["additionalProperties"] = false
		return true
	}
	// Close with the union of names: any name outside it is rejected.
	names := make([]any, 0, len(props)+len(extra))
	for name := range props {
		names = append(names, name)
	}
	for name := range extra {
		names = append(names, name)
	}
	s["propertyNames"] = map[string]any{"enum": names}
	return true
}

// schemaErrors flattens a jsonschema validation error into one reason per
// failing leaf, each "<json pointer>: <message>".
func schemaErrors(err error) []string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{"schema: " + err.Error()}
	}
	p := message.NewPrinter(language.English)
	seen := map[string]bool{}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			msg := fmt.Sprintf("schema: %s: %s", loc, e.ErrorKind.LocalizedString(p))
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(out)
	return out
}

// validateJSON validates the JSON form of a document against a schema.
func validateJSON(sch *jsonschema.Schema, raw []byte) []string {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{"schema: cannot read document: " + err.Error()}
	}
	if err := sch.Validate(inst); err != nil {
		return schemaErrors(err)
	}
	return nil
}

// toJSONValue round-trips a decoded YAML/JSON value through the schema
// library's decoder, so that numbers are represented as it expects.
func toJSONValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}
