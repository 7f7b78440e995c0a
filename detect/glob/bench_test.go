package glob

import (
	"strings"
	"testing"
)

// ruleGlobs are multi-star patterns as they appear in Elastic's Linux
// detection rules; none of them has one of the exact, prefix, suffix or
// contains shapes.
var ruleGlobs = []string{
	`*http*//*/api/v1/secrets*`,
	`*http*//*/api/v1/namespaces/*/secrets*`,
	`*http*//*/apis/rbac.authorization.k8s.io/*`,
	`*echo*> /etc/passwd*`,
	`*echo*>/etc/shadow*`,
	`/*/sap.com*/servlet_jsp/irj/*`,
	`*\x*\x*\x*\x*\x*\x*\x*\x*\x*\x*\x*\x*\x*\x*`,
	`*import*pty*spawn*`,
	`*import*subprocess*call*`,
	`*|*base64 --decode*`,
	`*openssl*enc * -d *`,
	`*ruby*-e**Fiddle.dlopen*.so*`,
	`*computeMetadata/v1/instance/service-accounts/*/oauth2/access_token*`,
	`*/home/*/.ssh/*`,
	`*../../../*etc/*`,
	`*timeout *sh -c *`,
	`*mysqldump*/var/www/html/*/writable/uploads/backup/mysql*`,
	`/bin/chmod 777 */gravacoes/*.WAV`,
}

// ruleGlobsSingle are EQL patterns that also use '?'.
var ruleGlobsSingle = []string{
	`*/latest/meta-data/iam/security-credentials/?*`,
	`*<?php*?>*`,
	`/u0?/install/APPS/*/webtier/ohs/bin/.apachectl`,
	`import os;os.set?id(0);os.system(*)`,
	`?memfd:*`,
}

// missLines are command lines and arguments that match none of the
// patterns above, as most do.
var missLines = []string{
	"/usr/bin/python3 /usr/lib/command-not-found -- curl",
	"bash -c echo hello world > /tmp/out.txt",
	"/usr/sbin/sshd -D -oCiphers=aes256-gcm@openssh.com,chacha20-poly1305@openssh.com -oMACs=hmac-sha2-256-etm@openssh.com",
	"curl -sSL https://example.com/install.sh -o /tmp/install.sh",
	"/usr/lib/systemd/systemd-journald",
	"--no-pager",
	"python3 -c import sys; print(sys.version)",
	"/bin/sh -c /usr/bin/apt-get update -qq && /usr/bin/apt-get install -y --no-install-recommends ca-certificates openssl",
}

// hitLines each match at least one of the patterns above.
var hitLines = []string{
	"curl -k -H Authorization: Bearer x https://10.0.0.1:6443/api/v1/secrets?limit=500",
	"sh -c echo root2::0:0::/root:/bin/bash > /etc/passwd",
	`python3 -c import pty;pty.spawn("/bin/bash")`,
	`printf \x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f | sh`,
	"cat ../../../../etc/shadow",
	"/bin/chmod 777 /srv/gravacoes/call.WAV",
}

func benchGlobs(b *testing.B, srcs []string, opts Options, lowerSrc bool, lines []string) {
	pats := make([]*Pattern, len(srcs))
	for i, src := range srcs {
		if lowerSrc {
			src = strings.ToLower(src)
		}
		pats[i] = Compile(src, opts)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, p := range pats {
			for _, s := range lines {
				p.Match(s)
			}
		}
	}
}

// BenchmarkRuleGlobs matches the rule patterns the ways the query
// languages use them: EQL lowers sources and input and matches exactly,
// EQL on long input folds, KQL escapes.
func BenchmarkRuleGlobs(b *testing.B) {
	lowered := func(lines []string) []string {
		out := make([]string, len(lines))
		for i, s := range lines {
			out[i] = strings.ToLower(s)
		}
		return out
	}
	eqlPats := append(append([]string(nil), ruleGlobs...), ruleGlobsSingle...)
	cases := []struct {
		name     string
		srcs     []string
		opts     Options
		lowerSrc bool
		lines    []string
	}{
		{"eql/miss", eqlPats, Options{Single: true}, true, lowered(missLines)},
		{"eql/hit", eqlPats, Options{Single: true}, true, lowered(hitLines)},
		{"eqlfold/miss", eqlPats, Options{Single: true, Fold: true}, false, missLines},
		{"eqlfold/hit", eqlPats, Options{Single: true, Fold: true}, false, hitLines},
		{"kql/miss", ruleGlobs, Options{Escape: true}, false, missLines},
		{"kql/hit", ruleGlobs, Options{Escape: true}, false, hitLines},
		{"single/miss", ruleGlobsSingle, Options{Single: true}, false, missLines},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchGlobs(b, c.srcs, c.opts, c.lowerSrc, c.lines) })
	}
}
