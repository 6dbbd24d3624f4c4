package superpeer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs (ICE, DTLS, SCTP, data channels) into the box's
// logger instead of pion's default stderr logger: pion's Info and Debug become
// Debug, Trace is dropped, Warn and Error become Warn, except the
// "use of closed network connection" errors every socket reader logs when a
// peer connection or the box closes, which are normal and become Debug.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level slog.Level, msg string) {
	if level >= slog.LevelWarn && isClosedNoise(msg) {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) && level < slog.LevelWarn {
		return // skip formatting what nobody reads
	}
	l.emit(level, fmt.Sprintf(format, args...))
}

// isClosedNoise reports pion errors that only say a socket closed under a reader.
func isClosedNoise(msg string) bool {
	return strings.Contains(msg, net.ErrClosed.Error()) || strings.Contains(msg, io.ErrClosedPipe.Error())
}

func (l pionLogger) Trace(string)                 {}
func (l pionLogger) Tracef(string, ...any)        {}
func (l pionLogger) Debug(msg string)             { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(f string, args ...any) { l.emitf(slog.LevelDebug, f, args...) }
func (l pionLogger) Info(msg string)              { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Infof(f string, args ...any)  { l.emitf(slog.LevelDebug, f, args...) }
func (l pionLogger) Warn(msg string)              { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(f string, args ...any)  { l.emitf(slog.LevelWarn, f, args...) }
func (l pionLogger) Error(msg string)             { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(f string, args ...any) { l.emitf(slog.LevelWarn, f, args...) }
