package viewerload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// OriginStats is the JSON of the demo origin's GET /stats: what it served since the
// last reset. Bytes are response body bytes; requests to /stats are not counted.
type OriginStats struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
	// Kinds splits the totals by request kind: "playlist", "segment", "fault", "other".
	Kinds map[string]OriginCounter `json:"kinds"`
	// Paths splits them by request path (the origin keeps a bounded number of paths).
	Paths map[string]OriginCounter `json:"paths"`
}

// OriginCounter counts requests and response body bytes.
type OriginCounter struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// Segments returns the counter of media segment requests.
func (s OriginStats) Segments() OriginCounter { return s.Kinds["segment"] }

// ResetOriginStats zeroes the origin's counters with POST {statsURL}/reset.
func ResetOriginStats(ctx context.Context, c *http.Client, statsURL string) error {
	u := strings.TrimSuffix(statsURL, "/") + "/reset"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("reset origin stats: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("reset origin stats: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reset origin stats: %w: %s", ErrStatus, resp.Status)
	}
	return nil
}

// ReadOriginStats fetches the origin's counters.
func ReadOriginStats(ctx context.Context, c *http.Client, statsURL string) (OriginStats, error) {
	var s OriginStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statsURL, nil)
	if err != nil {
		return s, fmt.Errorf("read origin stats: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return s, fmt.Errorf("read origin stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read origin stats: %w: %s", ErrStatus, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return s, fmt.Errorf("decode origin stats: %w", err)
	}
	return s, nil
}
