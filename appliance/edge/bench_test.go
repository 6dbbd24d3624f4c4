package edge

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkServeHit measures a viewer's cache hit through the real edge over loopback
// HTTP with keep-alive: a 150 kB live segment (memory tier) and a live playlist.
func BenchmarkServeHit(b *testing.B) {
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"segment-150kB", "/media/live/seg-1.ts", segmentBytes(150_000)},
		{"playlist", "/media/live/index.m3u8", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			box := newTestBox(b)
			body := tc.body
			if body == nil {
				body = []byte(fmt.Sprintf(livePlaylist, box.origin.srv.URL))
			}
			box.origin.set(tc.path, body)
			url := box.srv.URL + "/o/demo/" + tc.path[len("/media/"):]
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			get := func() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get()
				}
			})
			b.StopTimer()
			client.CloseIdleConnections()
		})
	}
}
