package inputfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.toml")
	if err := os.WriteFile(small, []byte("a = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "x.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
		text string
	}{
		{"regular file", small, nil, ""},
		{"exactly the cap", filepath.Join(dir, "small.toml"), nil, ""},
		{"over the cap", big, ErrTooLarge, "101 bytes, at most 100"},
		{"named pipe without a writer", fifo, ErrNotRegular, "a named pipe"},
		{"symlink to a named pipe", link, ErrNotRegular, "a named pipe"},
		{"directory", dir, ErrNotRegular, "a directory"},
		{"character device", "/dev/zero", ErrNotRegular, "character device"},
		{"missing", filepath.Join(dir, "none.toml"), fs.ErrNotExist, "none.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Read(tt.path, 100)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
			if !errors.Is(err, tt.want) || (err != nil && (!strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.text))) {
				t.Fatalf("Read(%s) = %v, want %v naming the path and %q", tt.path, err, tt.want, tt.text)
			}
		})
	}
}
