package supervise

import (
	"bytes"
	"sync"
)

// maxLine bounds one line; longer output is split.
const maxLine = 4096

// Ring keeps the last N lines written to it. It is an io.Writer that splits on
// newlines and holds back a partial last line until its newline arrives.
type Ring struct {
	mu      sync.Mutex
	lines   []string
	next    int
	full    bool
	partial []byte
	// Tee, when set, receives every complete line (without the newline).
	tee func(line string)
}

// NewRing returns a ring of n lines.
func NewRing(n int) *Ring { return &Ring{lines: make([]string, n)} }

// Write implements io.Writer.
func (r *Ring) Write(b []byte) (int, error) {
	r.mu.Lock()
	var complete []string
	data := append(r.partial, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		for len(line) > maxLine {
			complete = append(complete, string(line[:maxLine]))
			line = line[maxLine:]
		}
		complete = append(complete, string(line))
		data = data[i+1:]
	}
	for len(data) > maxLine {
		complete = append(complete, string(data[:maxLine]))
		data = data[maxLine:]
	}
	r.partial = append([]byte(nil), data...)
	for _, l := range complete {
		r.add(l)
	}
	tee := r.tee
	r.mu.Unlock()
	if tee != nil {
		for _, l := range complete {
			tee(l)
		}
	}
	return len(b), nil
}

func (r *Ring) add(l string) {
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}
