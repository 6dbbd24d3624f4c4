package superpeer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pion/logging"
)

func TestPionLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  func(l logging.LeveledLogger)
		want string // "" : nothing logged at debug level and above
	}{
		{"trace is dropped", func(l logging.LeveledLogger) {
			l.Tracef("packet %d", 1)
		}, ""},
		{"info becomes debug", func(l logging.LeveledLogger) {
			l.Infof("ICE state %s", "connected")
		}, "level=DEBUG msg=\"ICE state connected\" pion=ice"},
		{"errors become warnings", func(l logging.LeveledLogger) {
			l.Errorf("DTLS handshake: %v", "bad record MAC")
		}, "level=WARN msg=\"DTLS handshake: bad record MAC\" pion=ice"},
		{"closed sockets are debug", func(l logging.LeveledLogger) {
			l.Errorf("Failed to read UDP packet: read udp4 127.0.0.1:5000: %s", "use of closed network connection")
		}, "level=DEBUG msg=\"Failed to read UDP packet: read udp4 127.0.0.1:5000: use of closed network connection\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}})
			tc.log(pionLogs{slog.New(h)}.NewLogger("ice"))
			got := strings.TrimSpace(buf.String())
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("logged %q, want %q", got, tc.want)
			}
		})
	}
}
