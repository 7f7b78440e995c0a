// Package inputfile reads the small files a user hands the program (rule
// files, the settings file) with limits that hold before any parsing: only
// regular files, and only up to a size cap.
//
// A named pipe, a socket or a device with a .toml name must never hang or
// flood a reader: the file is opened without blocking (opening a FIFO for
// reading otherwise waits for a writer, forever), its type is checked on
// the open descriptor (so a swap after a stat cannot fool it), and reading
// stops one byte past the cap.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular and ErrTooLarge are the limits' errors (wrapped; test with
// errors.Is).
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// Read returns the contents of the regular file at path, refusing other
// file types and files larger than maxBytes. Errors read "path: problem".
func Read(path string, maxBytes int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // errors.Is(err, fs.ErrNotExist) still holds
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(info.Mode()))
	}
	if info.Size() > maxBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, ErrTooLarge, info.Size(), maxBytes)
	}
	// The file may grow between the stat and the read: read one byte past
	// the cap to notice.
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%s: %w: over %d bytes", path, ErrTooLarge, maxBytes)
	}
	return data, nil
}

// kind names a non-regular file type for error messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	default:
		return "type " + m.Type().String()
	}
}
