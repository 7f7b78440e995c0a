package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Documentation pages each conformance case encodes.
const (
	docEQLSyntax    = "https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-syntax.html"
	docEQLFunctions = "https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-function-ref.html"
	docEQLPipes     = "https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-pipe-ref.html"
	docEQLSearch    = "https://www.elastic.co/guide/en/elasticsearch/reference/current/eql.html"
	docEQLAPI       = "https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-search-api.html"
	docArrays       = "https://www.elastic.co/guide/en/elasticsearch/reference/current/array.html"
	docNested       = "https://www.elastic.co/guide/en/elasticsearch/reference/current/nested.html"
	docExists       = "https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-exists-query.html"
	docKQL          = "https://www.elastic.co/guide/en/kibana/current/kuery-query.html"
	docBoolQuery    = "https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-bool-query.html"
)

// conformanceCase is one semantic rule of Elasticsearch's EQL or Kibana's
// KQL, as its documentation states it, over the events in
// testdata/conformance/events.jsonl: the query and the serial_event_id of
// every event it returns, in order (a sequence's events one after the
// other).
type conformanceCase struct {
	doc   string
	rule  string
	lang  string
	query string
	want  []int
}

var conformanceCases = []conformanceCase{
	// Events: order, category, tiebreaker.
	{docEQLAPI, "events are ordered by timestamp, then the tiebreaker field", "eql", `process where true | head 3`, []int{1, 2, 3}},
	{docEQLSyntax, "`any` matches every category", "eql", `any where serial_event_id > 10`, []int{11, 12, 13, 14, 15, 16}},
	{docEQLSyntax, "the category is matched exactly", "eql", `Process where true`, nil},

	// Arrays and objects.
	{docNested, "an array of objects flattens: a.b is every element's b", "eql", `process where args.name == "-c"`, []int{9}},
	{docNested, "flattened values lose which object they came from", "eql", `process where args.name == "-c" and args.pos == 2`, []int{9}},
	{docNested, "objects nested in arrays of objects flatten too", "eql", `any where args.meta.tag == "inner"`, []int{9}},
	{docNested, "an event with an array of objects still matches on its other fields", "eql", `process where process_name : "python.exe"`, []int{9, 10, 12}},
	{docArrays, "a comparison on a multi-valued field holds when any value does", "eql", `registry where bytes_written_string_list == "en"`, []int{8}},
	{docArrays, "dotted keys and objects name the same field", "eql", `any where user.name == "admin" or user.name == "vagrant"`, []int{4, 12}},
	{docEQLFunctions, "cidrMatch holds when any value is in a block", "eql", `network where cidrMatch(source_address, "::1/128")`, []int{11}},

	// Null and missing fields.
	{docEQLSyntax, "a comparison with a missing field is not true: the event is not returned", "eql", `process where exit_code >= 0`, []int{5, 10}},
	{docEQLSyntax, "a comparison with a missing field is not true, whichever side it is on", "eql", `process where -1 < exit_code`, []int{5, 10}},
	{docBoolQuery, "!= against a constant is a must_not query: it holds where the field is missing", "eql", `process where exit_code != 0`, []int{1, 2, 3, 4, 9, 10, 12}},
	{docBoolQuery, "not over a comparison with a constant is must_not too", "eql", `process where not (exit_code == 0)`, []int{1, 2, 3, 4, 9, 10, 12}},
	{docBoolQuery, "not in is must_not", "eql", `process where exit_code not in (0, 2)`, []int{1, 2, 3, 4, 9, 10, 12}},
	{docBoolQuery, "not over and/or is the complement", "eql", `process where not (exit_code > 0 and opcode == 1)`, []int{1, 2, 3, 4, 5, 9, 10, 12}},
	{docEQLSyntax, "not over an ordering comparison is the opposite comparison, which needs the field", "eql", `process where not (exit_code > 0)`, []int{5}},
	{docEQLSyntax, "or holds when one side does", "eql", `process where exit_code > 0 or opcode == 3`, []int{1, 2, 10}},
	{docEQLFunctions, "a comparison used as a value is null on a missing field, and null == null", "eql", `process where null == (exit_code > -1)`, []int{1, 2, 3, 4, 9, 12}},
	{docEQLSyntax, "== null tests absence", "eql", `process where exit_code == null`, []int{1, 2, 3, 4, 9, 12}},
	{docEQLSyntax, "!= null tests presence", "eql", `process where exit_code != null`, []int{5, 10}},
	{docExists, "an explicit JSON null is no value", "eql", `network where destination_address == null`, []int{11}},
	{docEQLSyntax, "an optional field missing from every event is null, not an error", "eql", `process where ?no_such_field == "x"`, nil},
	{docEQLFunctions, "a function with a null argument returns null", "eql", `process where length(command_line) > 0`, []int{3, 4}},
	{docEQLFunctions, "not over a function's null result is still null", "eql", `process where not endsWith(command_line, "%")`, []int{3}},
	{docEQLFunctions, "not over a comparison of computed values is three-valued", "eql", `process where not (length(command_line) < 25)`, []int{3}},
	{docBoolQuery, "startsWith on a field is a prefix query: not is must_not", "eql", `process where not startsWith(command_line, "cmd")`, []int{1, 2, 3, 5, 9, 10, 12}},

	// Case and wildcards.
	{docEQLSyntax, "== is case-sensitive", "eql", `process where process_name == "CMD.EXE"`, nil},
	{docEQLSyntax, ": is case-insensitive", "eql", `process where process_name : "CMD.EXE"`, []int{4, 5}},
	{docEQLSyntax, "== does not expand wildcards", "eql", `process where process_name == "cmd*"`, nil},
	{docEQLSyntax, ": expands * and ?", "eql", `process where process_name : "c?d.*"`, []int{4, 5}},
	{docEQLSyntax, "like is case-sensitive, like~ is not", "eql", `process where process_name like "python*" or process_name like~ "SYSTEM"`, []int{2, 9, 10}},
	{docEQLSyntax, "in is case-sensitive", "eql", `process where process_name in ("CMD.exe", "smss.exe")`, []int{3}},
	{docEQLSyntax, "in~ is case-insensitive and takes values literally", "eql", `process where process_name in~ ("CMD.exe", "py*")`, []int{4, 5}},
	{docEQLSyntax, "regex is anchored", "eql", `process where process_name regex "cmd"`, nil},
	{docEQLSyntax, "regex~ is case-insensitive", "eql", `process where process_name regex~ "PY.*"`, []int{9, 10, 12}},
	{docEQLSyntax, "strings order case-sensitively", "eql", `process where process_name >= "System" and process_name < "System "`, []int{2}},
	{docEQLSyntax, "a keyword holding a number compares with a number", "eql", `network where destination_port == 443`, []int{6}},

	// Functions.
	{docEQLFunctions, "add", "eql", `process where add(serial_event_id, 1) == 4`, []int{3}},
	{docEQLFunctions, "arithmetic operators", "eql", `process where serial_event_id * 2 - 1 == 7`, []int{4}},
	{docEQLFunctions, "divide on integers truncates", "eql", `process where divide(serial_event_id, 2) == 1`, []int{2, 3}},
	{docEQLFunctions, "modulo", "eql", `process where modulo(serial_event_id, 5) == 0`, []int{5, 10}},
	{docEQLFunctions, "between", "eql", `process where between(command_line, "/c ", " %") == "echo"`, []int{4}},
	{docEQLFunctions, "concat", "eql", `process where concat(process_name, ":", opcode) == "cmd.exe:2"`, []int{5}},
	{docEQLFunctions, "endsWith~", "eql", `process where endsWith~(process_name, ".EXE")`, []int{3, 4, 5, 9, 10, 12}},
	{docEQLFunctions, "indexOf", "eql", `process where indexOf(process_name, "exe") == 4`, []int{4, 5}},
	{docEQLFunctions, "indexOf finds nothing: null", "eql", `process where indexOf(process_name, "zzz") == null and opcode == 1`, []int{3, 4, 9}},
	{docEQLFunctions, "number", "eql", `process where number(hex_string, 16) == 31`, []int{12}},
	{docEQLFunctions, "number with a null base reads base 10", "eql", `process where number(dec_string, null) == 42`, []int{12}},
	{docEQLFunctions, "string", "eql", `process where string(opcode) == "2"`, []int{5, 10}},
	{docEQLFunctions, "stringContains", "eql", `process where stringContains(command_line, "echo")`, []int{4}},
	{docEQLFunctions, "substring with a negative start", "eql", `process where substring(process_name, -4) == ".exe"`, []int{3, 4, 5, 9, 10}},

	// Sequences.
	{docEQLSyntax, "a sequence without maxspan has no time limit", "eql", `sequence [process where serial_event_id == 1] [process where serial_event_id == 9]`, []int{1, 9}},
	{docEQLSyntax, "maxspan includes its end", "eql", `sequence with maxspan=1s [process where serial_event_id == 3] [process where serial_event_id == 4]`, []int{3, 4}},
	{docEQLSyntax, "maxspan excludes what lies beyond", "eql", `sequence with maxspan=999ms [process where serial_event_id == 3] [process where serial_event_id == 4]`, nil},
	{docEQLSyntax, "by joins the steps on their keys", "eql", `sequence by unique_pid [process where opcode == 1] [network where true]`, []int{4, 6, 9, 11}},
	// Elasticsearch's grammar takes any expression after `by`; its EQL QA
	// suite has `by unique_pid * 2` (sequenceNonFieldBasedJoin).
	{docEQLSyntax, "join keys may be expressions over fields", "eql", `sequence [any where serial_event_id in (2, 3)] by serial_event_id [any where serial_event_id in (4, 5)] by 7 - serial_event_id`, []int{3, 4, 2, 5}},
	{docEQLSyntax, "per-step by keys join positionally", "eql", `sequence [process where opcode == 1] by unique_pid [process where true] by unique_ppid`, []int{3, 4}},
	{docEQLSyntax, "until ends a pending sequence", "eql", `sequence by unique_pid [process where opcode == 1] [network where true] until [process where exit_code == 1]`, []int{4, 6}},
	// The order is not stated on the page; Elasticsearch keeps completed
	// sequences sorted by the ordinal of their last event
	// (x-pack/plugin/eql/.../execution/sequence/Sequence.java, compareTo).
	{docEQLSearch, "sequences are returned in the order of the event that completes them", "eql", `sequence by unique_pid [file where true] [registry where true]`, []int{14, 15, 13, 16}},
	{docEQLSyntax, "one event never fills two steps of one sequence", "eql", `sequence [process where serial_event_id < 4] [process where serial_event_id < 4]`, []int{1, 2, 2, 3}},

	// Pipes.
	{docEQLPipes, "head", "eql", `file where true | head 1`, []int{7}},
	{docEQLPipes, "tail", "eql", `process where true | tail 2`, []int{10, 12}},
	{docEQLPipes, "pipes chain: head then tail", "eql", `process where true | head 4 | tail 2`, []int{3, 4}},
	{docEQLPipes, "pipes chain: tail then head", "eql", `process where true | tail 3 | head 1`, []int{9}},
	{docEQLPipes, "pipes apply to sequences", "eql", `sequence by unique_pid [process where true] [any where true] | head 2 | tail 1`, []int{5, 6}},

	// KQL.
	{docKQL, "a term matches the keyword exactly, case-sensitively", "kql", `process_name:cmd.exe`, []int{4, 5}},
	{docKQL, "an unquoted * is a wildcard", "kql", `process_name:python*`, []int{9, 10}},
	{docKQL, "a quoted * is literal", "kql", `process_name:"python*"`, nil},
	{docKQL, "field:* tests existence", "kql", `exit_code:*`, []int{5, 10}},
	{docKQL, "not matches events without the field", "kql", `event_type:process and not exit_code:0`, []int{1, 2, 3, 4, 9, 10, 12}},
	{docKQL, "value lists", "kql", `process_name:(smss.exe or System)`, []int{2, 3}},
	{docKQL, "ranges", "kql", `serial_event_id >= 11 and serial_event_id < 13`, []int{11, 12}},
	{docKQL, "a term on a multi-valued field matches any value", "kql", `bytes_written_string_list:en`, []int{8}},
	{docKQL, "arrays of objects flatten", "kql", `args.name:-c`, []int{9}},
	{docKQL, "wildcards in field names query every matching field", "kql", `*_name:(System or explorer.exe)`, []int{2, 7}},
	{docKQL, "a range on a date compares dates (epoch milliseconds are dates)", "kql", `@timestamp < "1970-01-01T00:00:03Z"`, []int{1, 2, 3}},
	{docKQL, "a quoted value may hold spaces and special characters", "kql", `command_line:"cmd.exe /c echo %PATH%"`, []int{4}},
	{docKQL, "a backslash escapes a special character in an unquoted value", "kql", `command_line:*echo\ %PATH%`, []int{4}},
	{docKQL, "keywords are case-sensitive", "kql", `process_name:CMD.exe`, nil},
	{docKQL, "not on a multi-valued field means no value matches", "kql", `event_type:registry and not bytes_written_string_list:en`, []int{15, 16}},
	{docKQL, "escaped special characters in an unquoted value are literal", "kql", `file_path:C\:\\Windows\\explorer.exe`, []int{7}},
	{docKQL, "a quoted value escapes only backslash and quote", "kql", `file_path:"C:\\Windows\\explorer.exe"`, []int{7}},
	{docKQL, "and on a multi-valued field may use different values", "kql", `user.name:root and user.name:admin`, []int{12}},
}

func TestConformance(t *testing.T) {
	events := filepath.Join("testdata", "conformance", "events.jsonl")
	for _, tc := range conformanceCases {
		t.Run(tc.lang+" "+tc.rule, func(t *testing.T) {
			args := []string{"query", "--lang", tc.lang, "--event-category-field", "event_type", "--tiebreaker-field", "serial_event_id", events, tc.query}
			code, out, errs := runCLI(t, "", args...)
			if code != exitOK {
				t.Fatalf("%s\nexit %d: %s", tc.query, code, errs)
			}
			var got []int
			for _, ev := range alertsOf(t, out) {
				got = append(got, int(ev["serial_event_id"].(float64)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s\n(%s)\ngot  %v\nwant %v", tc.query, tc.doc, got, tc.want)
			}
		})
	}
}

// Every case names the page it encodes.
func TestConformanceCasesCiteDocs(t *testing.T) {
	for _, tc := range conformanceCases {
		if !strings.HasPrefix(tc.doc, "https://www.elastic.co/") || tc.rule == "" {
			t.Errorf("case %q cites no documentation page", tc.query)
		}
	}
}
