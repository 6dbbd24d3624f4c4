package viewerload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxPlaylistBytes bounds a playlist body; anything larger is not a playlist we test with.
const maxPlaylistBytes = 4 << 20

// bufPool holds the buffers segment bodies are read into and dropped from. 64 KiB reads
// keep the syscall count per segment low.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// fetcher issues GETs with a per-request timeout.
type fetcher struct {
	client  *http.Client
	timeout time.Duration
}

// get sends a GET and returns the response if its status is 200. The caller closes the
// body and cancels the returned function.
func (f *fetcher) get(ctx context.Context, url string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("new request %s: %w", url, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("get %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("get %s: %w: %s", url, ErrStatus, resp.Status)
	}
	return resp, cancel, nil
}

// playlist fetches a playlist body.
func (f *fetcher) playlist(ctx context.Context, url string) ([]byte, error) {
	resp, cancel, err := f.get(ctx, url)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPlaylistBytes))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	return body, nil
}

// count fetches a body, counts its bytes and drops them.
func (f *fetcher) count(ctx context.Context, url string) (int64, error) {
	resp, cancel, err := f.get(ctx, url)
	if err != nil {
		return 0, err
	}
	defer cancel()
	defer resp.Body.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var n int64
	for {
		m, err := resp.Body.Read(*bp)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", url, err)
		}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("read %s: %w", url, io.ErrUnexpectedEOF)
	}
	return n, nil
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
