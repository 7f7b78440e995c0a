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
// cannot or the document is not of plain shape (fill).
func decodeFast(text []byte, f *ruleFile) bool {
	var doc map[string]any
	return gotoml.Unmarshal(text, &doc) == nil && fill(reflect.ValueOf(f).Elem(), doc)
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

// fill stores v, a value as go-toml decodes it into an interface, in
// dst, and reports true, when v has the plain shape of dst's type, which
// BurntSushi/toml decodes to the same: a table into a struct, an array
// into a slice, a string into a string, an integer into an integer, a
// string or strings into an interface. A key names a field by its tag,
// exactly; one that names none is ignored, as both decoders ignore it,
// unless it equals a tag but for case (the decoders fold case
// differently). On false, dst may hold part of v.
func fill(dst reflect.Value, v any) bool {
	switch t := dst.Type(); t.Kind() {
	case reflect.Pointer:
		// As BurntSushi/toml: a key present allocates its value.
		dst.Set(reflect.New(t.Elem()))
		return fill(dst.Elem(), v)
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
			if i >= 0 && !fill(dst.Field(i), val) {
				return false
			}
		}
		return true
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return false
		}
		// As BurntSushi/toml: an empty array is an empty slice, not nil.
		out := reflect.MakeSlice(t, len(list), len(list))
		for i, el := range list {
			if !fill(out.Index(i), el) {
				return false
			}
		}
		dst.Set(out)
		return true
	case reflect.String:
		s, ok := v.(string)
		dst.SetString(s)
		return ok
	case reflect.Int, reflect.Int64:
		n, ok := v.(int64)
		dst.SetInt(n)
		return ok
	case reflect.Interface:
		if list, ok := v.([]any); ok {
			for _, el := range list {
				if _, ok := el.(string); !ok {
					return false
				}
			}
			dst.Set(reflect.ValueOf(list))
			return true
		}
		s, ok := v.(string)
		if ok {
			dst.Set(reflect.ValueOf(s))
		}
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
