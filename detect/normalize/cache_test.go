package normalize

import (
	"strings"
	"testing"
	"unsafe"
)

func TestProcImageRoundTrip(t *testing.T) {
	long := strings.Repeat("9", maxIDLen+5)
	tests := []struct {
		name string
		in   image
		want image
	}{
		{"exec", image{exe: "/usr/bin/curl", cmdline: "curl -s x", cwd: "/root", uid: "0", gid: "1", euid: "2", egid: "3"},
			image{exe: "/usr/bin/curl", cmdline: "curl -s x", cwd: "/root", uid: "0", gid: "1", euid: "2", egid: "3"}},
		{"a name is kept only without an executable", image{exe: "/bin/sh", name: "other"}, image{exe: "/bin/sh"}},
		{"kernel thread", image{name: "kthreadd"}, image{name: "kthreadd"}},
		{"empty", image{}, image{}},
		{"an overlong id is cut", image{uid: long}, image{uid: long[:maxIDLen]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proc{ppid: 7, entity: 42}
			p.setImage(image{exe: "/old", cmdline: "old"})
			p.setImage(tt.in)
			if got := p.image(); got != tt.want {
				t.Fatalf("image %+v, want %+v", got, tt.want)
			}
			if p.ppid != 7 || p.entity != 42 {
				t.Fatalf("setImage changed the identity: %+v", p)
			}
			if tt.want.exe != "" && p.name() != baseName(tt.want.exe) {
				t.Fatalf("name %q", p.name())
			}
		})
	}
}

// The cache keeps copies of its own: never a string of the row, which
// may share its memory with a whole batch of rows.
func TestProcCacheCopiesRowStrings(t *testing.T) {
	buf := []byte("/usr/bin/curlcurl -s https://example.com/")
	exe := unsafe.String(&buf[0], 13)
	cmd := unsafe.String(&buf[13], len(buf)-13)
	p := &proc{}
	p.setImage(image{exe: exe, cmdline: cmd})
	start := uintptr(unsafe.Pointer(unsafe.StringData(p.img)))
	if lo, hi := uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&buf[len(buf)-1])); start >= lo && start <= hi {
		t.Fatal("the cache kept the row's memory")
	}
	if p.exe() != "/usr/bin/curl" || p.cmdline() != "curl -s https://example.com/" {
		t.Fatalf("image %+v", p.image())
	}
}
