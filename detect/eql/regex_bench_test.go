package eql

import "testing"

// Values of ordinary exec events, which the benchmarked regexes do not
// match.
var (
	benchCommandLines = []string{
		"ls -la /var/log",
		"/bin/bash -c echo hello",
		"curl -s https://example.com/install.sh",
		"ssh 10.0.0.5 uptime",
		"/usr/bin/python3 /opt/app/manage.py runserver 0.0.0.0:8000",
		"grep -r TODO /home/user/src",
		"/usr/lib/systemd/systemd-journald",
		"sleep 60",
	}
	benchExecutables = []string{
		"/usr/bin/ls",
		"/bin/bash",
		"/usr/bin/curl",
		"/usr/bin/ssh",
		"/usr/bin/python3.12",
		"/usr/bin/grep",
		"/usr/lib/systemd/systemd-journald",
		"/opt/google/chrome/chrome",
	}
)

// benchRegexes are regexes of the rule corpus with the field values they
// are matched against.
var benchRegexes = []struct {
	name    string
	pattern string
	fold    bool
	values  []string
}{
	{"ip-port-pair", ipPortPairPattern, false, benchCommandLines},
	{"url", `.*[A-Za-z0-9][A-Za-z0-9\-]*(\.[A-Za-z0-9][A-Za-z0-9\-]*)+(:[0-9]{1,5})?\/[^ ]+.*`, false, benchCommandLines},
	{"path-then-space", pathThenSpace, true, benchExecutables},
	{"var-run-pid", `/var/run/\w+\.(pid|lock|reboot)`, true, benchExecutables},
}

// BenchmarkRegexNonMatching runs each regex over its values, with the
// regexp alone and behind its precheck; one op is one value.
func BenchmarkRegexNonMatching(b *testing.B) {
	for _, br := range benchRegexes {
		cr, err := compileCheckedRegex(br.pattern, br.fold)
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range br.values {
			if cr.re.MatchString(v) != cr.matchString(v) {
				b.Fatalf("%s: precheck changes the result for %q", br.name, v)
			}
		}
		b.Run(br.name+"/regexp", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				cr.re.MatchString(br.values[i%len(br.values)])
			}
		})
		b.Run(br.name+"/precheck", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				cr.matchString(br.values[i%len(br.values)])
			}
		})
	}
}
