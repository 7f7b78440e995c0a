package fleet

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Whatever surrounds it, no run of minSecretRun bytes of the secret
// survives redaction, and text without the secret is left alone.
func FuzzRedact(f *testing.F) {
	const secret = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"
	f.Add("token "+secret+" rejected", 0, 44)
	f.Add(base64.StdEncoding.EncodeToString([]byte("Bearer "+secret)), 3, 20)
	f.Add("plain text with no secret", 0, 0)
	f.Fuzz(func(t *testing.T, around string, from, to int) {
		if from < 0 || to > len(secret) || from > to {
			return
		}
		part := secret[from:to]
		s := around + part + around
		got := redact(s, secret)
		for i := 0; i+minSecretRun <= len(secret); i++ {
			if strings.Contains(got, secret[i:i+minSecretRun]) {
				t.Fatalf("redact(%q) = %q keeps %q", s, got, secret[i:i+minSecretRun])
			}
		}
		if len(part) < minSecretRun && redact(around, secret) == around && !strings.Contains(got, "<redacted>") && got != s {
			t.Fatalf("redact changed text without the secret: %q -> %q", s, got)
		}
	})
}
