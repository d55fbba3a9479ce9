package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/refundq/refundq/internal/intake"
)

// input is the file to import as an intake.Source. A regular file is
// opened again for every pass. Anything that can be read only once (a
// pipe, a FIFO, standard input from a pipe or a terminal) is copied to a
// spool file during the first pass, and later passes read the spool.
type input struct {
	path, name string
	// sizeHint is the file's size when known.
	sizeHint int64
	// once is the input's single pass; nil for a regular file.
	once  *os.File
	spool *os.File
	// spooled counts the bytes in the spool.
	spooled int64
	passes  int
	stat    os.FileInfo
	// stop ends the wake-up of a blocked read of once.
	stop func() bool
}

// Stdin is the path that names standard input.
const Stdin = "-"

// openInput looks at what path is before reading it, so a device or a
// directory is refused at once instead of read forever.
func openInput(ctx context.Context, path string) (*input, error) {
	in := &input{path: path, name: filepath.Base(path)}
	if path == Stdin {
		in.path, in.name = "/dev/stdin", "stdin"
	}
	fi, err := os.Stat(in.path)
	if path == Stdin && err != nil { // no /dev/stdin on this system
		return in, in.readOnce(os.Stdin)
	}
	if err != nil {
		return nil, &intake.InputError{Reason: pathError(err)}
	}
	if err := refuseSpecial(in.path, fi); err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() {
		in.stat, in.sizeHint = fi, fi.Size()
		return in, nil
	}
	f, err := openWaiting(ctx, in.path)
	if err != nil {
		return nil, err
	}
	return in, in.readOnce(f)
}

// refuseSpecial refuses inputs that are not files of rows: reading
// /dev/zero or /dev/urandom never ends, and a directory or a socket has
// no rows. A terminal is read like a pipe, until end of input (Ctrl-D).
func refuseSpecial(path string, fi os.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular(), m&fs.ModeNamedPipe != 0:
		return nil
	case m.IsDir():
		return &intake.InputError{Reason: path + " is a directory: give a CSV or JSONL file"}
	case m&fs.ModeCharDevice != 0 && isTerminalStdin(fi):
		return nil
	case m&fs.ModeDevice != 0:
		return &intake.InputError{Reason: path + " is a device (such as /dev/zero or /dev/urandom), not a file: " +
			"give a CSV or JSONL file, or - to read standard input"}
	}
	return &intake.InputError{Reason: path + " is not a regular file (" + m.Type().String() + "): give a CSV or JSONL file"}
}

// isTerminalStdin reports whether fi is standard input and a terminal.
// Other devices are not even opened: opening one can have effects.
func isTerminalStdin(fi os.FileInfo) bool {
	st, err := os.Stdin.Stat()
	return err == nil && os.SameFile(fi, st) && term.IsTerminal(int(os.Stdin.Fd()))
}

func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// openWaiting opens a FIFO, which blocks until a writer opens the other
// end, without ignoring ctx: on Ctrl-C it opens the write end itself, so
// the pending open returns, and closes both. It keeps trying until that
// open has returned, so no open is left behind to steal a later writer.
func openWaiting(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		for o.f == nil && o.err == nil {
			// Fails (ENXIO) until the open above is waiting.
			if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				_ = w.Close()
			}
			select {
			case o = <-ch:
			case <-time.After(10 * time.Millisecond):
			}
		}
		if o.f != nil {
			_ = o.f.Close()
		}
		return nil, ctx.Err()
	}
	if o.err != nil {
		return nil, &intake.InputError{Reason: pathError(o.err)}
	}
	return o.f, nil
}

// readOnce sets f up as the input of the first pass, copied to a spool.
// The spool is unlinked at once, so nothing is left behind however the
// process ends.
func (in *input) readOnce(f *os.File) error {
	spool, err := os.CreateTemp("", "refundq-import-*.spool")
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("importer: cannot spool %s: %w", in.name, err)
	}
	_ = os.Remove(spool.Name())
	in.once, in.spool = f, spool
	return nil
}

// Open starts a pass: the file again, the spool, or for the first pass
// over a pipe the pipe itself while it is spooled.
func (in *input) Open(ctx context.Context) (io.ReadCloser, error) {
	in.passes++
	switch {
	case in.once == nil:
		return in.reopen()
	case in.passes == 1:
		r, stop := interruptible(ctx, in.once)
		in.stop = stop
		return &spooling{in: in, r: r}, nil
	}
	return io.NopCloser(io.NewSectionReader(in.spool, 0, in.spooled)), nil
}

// reopen opens the regular file again, refusing one that changed since
// the first pass: its rows were counted and checked as they were.
func (in *input) reopen() (io.ReadCloser, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, &intake.InputError{Reason: pathError(err)}
	}
	fi, err := f.Stat()
	if err != nil || in.passes > 1 && (fi.Size() != in.stat.Size() || !fi.ModTime().Equal(in.stat.ModTime())) {
		_ = f.Close()
		return nil, intake.ErrChanged
	}
	return f, nil
}

// Close releases the input and its spool.
func (in *input) Close() {
	if in.stop != nil {
		in.stop()
	}
	for _, f := range []*os.File{in.once, in.spool} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// spooling reads the single pass over a pipe and keeps a copy.
type spooling struct {
	in *input
	r  io.Reader
}

func (s *spooling) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		if _, werr := s.in.spool.Write(p[:n]); werr != nil {
			return 0, fmt.Errorf("importer: cannot spool %s (set TMPDIR to a roomier place): %w", s.in.name, werr)
		}
		s.in.spooled += int64(n)
	}
	return n, err
}

func (s *spooling) Close() error { return nil }

// interruptible makes a blocked read of a pipe or terminal return when
// ctx ends: Go polls such files, so a read deadline wakes the read.
func interruptible(ctx context.Context, f *os.File) (io.Reader, func() bool) {
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	return readerFunc(func(p []byte) (int, error) {
		n, err := f.Read(p)
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, err
	}), stop
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// DefaultRejectsPath is where the rejects of path go unless told: next
// to a file, or in the current directory for standard input, a pipe or a
// device path (/dev/stdin would otherwise give /dev/stdin.rejects.csv).
func DefaultRejectsPath(path string) string {
	if path == Stdin {
		return "stdin.rejects.csv"
	}
	clean := filepath.Clean(path)
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() || strings.HasPrefix(clean, "/dev/") || strings.HasPrefix(clean, "/proc/") {
		return filepath.Base(clean) + ".rejects.csv"
	}
	return path + ".rejects.csv"
}
