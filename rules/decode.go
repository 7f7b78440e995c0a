package rules

import (
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
	gotoml "github.com/pelletier/go-toml/v2"
)

// decodeRuleFile decodes the TOML text of a rule file into f.
//
// go-toml decodes Elastic's rule corpus to the same values as
// BurntSushi/toml in a fraction of the time and allocations, so it decodes
// first (decodeFast). BurntSushi/toml has the last word: a document go-toml
// refuses is decoded again by it, so that a rejected rule reports its error
// (line, column and message) as before; so is any document whose values do
// not have the plain shapes ruleFile's fields take, where the two decoders
// can part ways (BurntSushi/toml refuses a table where a list of tables
// belongs, go-toml makes it the list's one element). FuzzDecodersAgree holds
// decodeRuleFile to BurntSushi/toml's answer.
func decodeRuleFile(text []byte, f *ruleFile) error {
	if decodeFast(text, f) {
		return nil
	}
	// go-toml may have filled part of f before it stopped.
	*f = ruleFile{}
	_, err := toml.Decode(string(text), f)
	return err
}

// decodeFast decodes text into f with go-toml, and reports false when it
// cannot or the document is not of plain shape (plainShape).
func decodeFast(text []byte, f *ruleFile) bool {
	var doc map[string]any
	return gotoml.Unmarshal(text, &doc) == nil && plainShape(doc, ruleFileType) && gotoml.Unmarshal(text, f) == nil
}

var ruleFileType = reflect.TypeFor[ruleFile]()

// fieldTags holds the toml tags of the fields of every struct type within
// ruleFile, by type: read-only once built, so Parse may run concurrently.
var fieldTags = tagsWithin(ruleFileType, map[reflect.Type][]string{})

func tagsWithin(t reflect.Type, tags map[reflect.Type][]string) map[reflect.Type][]string {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return tagsWithin(t.Elem(), tags)
	case reflect.Struct:
		names := make([]string, t.NumField())
		for i := range names {
			names[i] = t.Field(i).Tag.Get("toml")
			tagsWithin(t.Field(i).Type, tags)
		}
		tags[t] = names
	}
	return tags
}

// plainShape reports whether v, a value as go-toml decodes it into an
// interface, decodes into type t with no conversion: a table into a struct,
// an array into a slice, a string into a string, an integer into an
// integer, and a string or strings into an interface. A key names a field
// by its tag, exactly; one that names none is ignored, as both decoders
// ignore it, unless it equals a tag but for case (the decoders fold case
// differently).
func plainShape(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer:
		return plainShape(v, t.Elem())
	case reflect.Struct:
		table, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for key, val := range table {
			i, folded := fieldFor(t, key)
			if folded {
				return false
			}
			if i >= 0 && !plainShape(val, t.Field(i).Type) {
				return false
			}
		}
		return true
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, el := range list {
			if !plainShape(el, t.Elem()) {
				return false
			}
		}
		return true
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Int, reflect.Int64:
		_, ok := v.(int64)
		return ok
	case reflect.Interface:
		if list, ok := v.([]any); ok {
			for _, el := range list {
				if _, ok := el.(string); !ok {
					return false
				}
			}
			return true
		}
		_, ok := v.(string)
		return ok
	}
	return false
}

// fieldFor returns the index of the field of struct t tagged key, or -1;
// folded is true when key names no field exactly but one ignoring case.
func fieldFor(t reflect.Type, key string) (i int, folded bool) {
	for i, name := range fieldTags[t] {
		if name == key {
			return i, false
		}
		folded = folded || strings.EqualFold(name, key)
	}
	return -1, folded
}
