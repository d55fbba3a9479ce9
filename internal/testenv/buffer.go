package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects output written from several goroutines: a child
// process's stdout and stderr, or a logger's sink (it is a zapcore
// WriteSyncer).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Sync does nothing: the bytes are already in memory.
func (b *Buffer) Sync() error { return nil }

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
