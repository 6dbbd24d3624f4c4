package supervise

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultLogMax is the size at which a FileLog rotates: name.log becomes
// name.log.1, so one log never takes more than twice this on the disk.
const DefaultLogMax = 1 << 20

// defaultQueue bounds what waits in memory for a slow disk.
const defaultQueue = 256 << 10

// closeWait bounds Close: a disk that hangs must not hang a shutdown.
const closeWait = 5 * time.Second

// FileLog is an io.Writer that appends to a size-bounded file on a background
// goroutine. Before a write would take the file past Max bytes, the file is
// renamed to Path+".1" (replacing an older one) and a new one is started, so
// the pair never holds more than 2*Max bytes. An existing file is continued,
// which is how the previous boot's lines survive a reboot.
//
// Write never waits for the disk: it queues a copy (at most Queue bytes wait)
// and returns. When the queue is full the write is dropped and counted, and
// once the disk catches up a line in the file says how many were lost.
type FileLog struct {
	path  string
	max   int64
	queue int

	mu      sync.Mutex
	pending []chunk
	queued  int // bytes in pending
	lost    int // ever dropped
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	// Owned by the writer goroutine.
	f    *os.File
	size int64
	// write is the file write; tests swap it for a slow disk.
	write func(f *os.File, b []byte) (int, error)
}

// chunk is one queued write, or a run of dropped ones at the place they were
// lost.
type chunk struct {
	b       []byte
	dropped int
}

// OpenFileLog opens (or creates) path for appending. max <= 0 means
// DefaultLogMax.
func OpenFileLog(path string, max int64) (*FileLog, error) {
	return openFileLog(path, max, defaultQueue, func(f *os.File, b []byte) (int, error) { return f.Write(b) })
}

func openFileLog(path string, max int64, queue int, write func(*os.File, []byte) (int, error)) (*FileLog, error) {
	if max <= 0 {
		max = DefaultLogMax
	}
	l := &FileLog{path: path, max: max, queue: queue, wake: make(chan struct{}, 1), done: make(chan struct{}), write: write}
	if err := l.open(false); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

func (l *FileLog) open(truncate bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(l.path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("supervise: open log %s: %w", l.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("supervise: open log %s: %w", l.path, err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write implements io.Writer. It never blocks on the disk and never fails:
// what cannot be queued is counted as dropped.
func (l *FileLog) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.lost++
	case l.queued+len(p) > l.queue:
		l.lost++
		if n := len(l.pending); n > 0 && l.pending[n-1].dropped > 0 {
			l.pending[n-1].dropped++
		} else {
			l.pending = append(l.pending, chunk{dropped: 1})
		}
	default:
		l.pending = append(l.pending, chunk{b: append([]byte(nil), p...)})
		l.queued += len(p)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Dropped is how many writes were lost since the log was opened.
func (l *FileLog) Dropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Close writes what is queued (waiting at most 5 s for the disk) and closes
// the file. Later writes are dropped.
func (l *FileLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-l.done:
		return nil
	case <-t.C:
		return fmt.Errorf("supervise: log %s: the disk did not take the last lines in %v", l.path, closeWait)
	}
}

func (l *FileLog) run() {
	defer close(l.done)
	defer func() {
		if l.f != nil {
			l.f.Close()
		}
	}()
	dropped := 0 // lost and not yet said in the file
	for range l.wake {
		for {
			l.mu.Lock()
			batch, closed := l.pending, l.closed
			l.pending = nil
			l.mu.Unlock()
			for _, c := range batch {
				if c.dropped > 0 {
					dropped += c.dropped
					continue
				}
				if dropped > 0 {
					note := fmt.Sprintf("--- %d log lines dropped here: the disk was too slow or failing ---\n", dropped)
					if l.append([]byte(note)) {
						dropped = 0
					}
				}
				if !l.append(c.b) {
					dropped++
					l.mu.Lock()
					l.lost++
					l.mu.Unlock()
				}
				l.mu.Lock()
				l.queued -= len(c.b)
				l.mu.Unlock()
			}
			if len(batch) == 0 {
				if closed {
					return
				}
				break // a failing disk is retried at the next write, not in a loop
			}
		}
	}
}

// append writes b, rotating first when b would take the file past max. It
// reports whether b reached the file.
func (l *FileLog) append(b []byte) bool {
	if int64(len(b)) > l.max {
		b = b[:l.max]
	}
	if l.f == nil || l.size > 0 && l.size+int64(len(b)) > l.max {
		if err := l.rotate(); err != nil {
			return false
		}
	}
	n, err := l.write(l.f, b)
	l.size += int64(n)
	return err == nil
}

func (l *FileLog) rotate() error {
	if l.f != nil {
		l.f.Close()
		l.f = nil
		if err := os.Rename(l.path, l.path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return l.open(true)
}
