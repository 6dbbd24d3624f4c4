package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// body is the response body Client returns: it counts bytes for Health, caps the
// size, arms the stall watch around each read and releases the attempt on Close.
type body struct {
	rc     io.ReadCloser
	name   string
	st     *originStats
	ctx    context.Context // the caller's
	actx   context.Context // the attempt's, canceled by the stall watch
	cancel context.CancelCauseFunc
	watch  *stallWatch
	max    int64
	n      int64
	err    error // sticky failure
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if room := b.max - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	b.watch.arm()
	n, err := b.rc.Read(p)
	b.watch.disarm()
	b.n += int64(n)
	if b.n > b.max {
		n -= int(b.n - b.max)
		b.n = b.max
		err = fmt.Errorf("origin %s: read body: more than %d bytes: %w", b.name, b.max, ErrTooLarge)
		b.st.failure(err)
		b.err = err
	}
	b.st.bytes.Add(int64(n))
	if err != nil && err != io.EOF && b.err == nil {
		b.err = b.fail(err)
		err = b.err
	}
	return n, err
}

// fail maps a read error and records it unless the caller gave up.
func (b *body) fail(err error) error {
	if b.ctx.Err() != nil {
		return fmt.Errorf("origin %s: read body: %w", b.name, ctxError(b.ctx))
	}
	if cause := context.Cause(b.actx); errors.Is(cause, ErrTimeout) {
		err = cause
	}
	err = fmt.Errorf("origin %s: read body: %w", b.name, err)
	b.st.failure(err)
	return err
}

func (b *body) Close() error {
	b.watch.stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
