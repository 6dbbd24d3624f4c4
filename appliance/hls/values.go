package hls

import (
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds every duration in a playlist (about 11.5 days; real
// segments last seconds). Larger values are hostile and rejected, which keeps
// a time.Duration far from overflow even when callers add a few thousand.
const maxSeconds = 1_000_000

// parseSeconds parses a decimal-floating-point number of seconds such as
// "4", "4.000000" or ".5". Fraction digits past nanoseconds are dropped.
// Signs, exponents, NaN and Inf are rejected.
func parseSeconds(s string) (time.Duration, bool) {
	s = trimLine(s)
	var whole, frac int64
	digits, i := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		whole = whole*10 + int64(s[i]-'0')
		digits++
		if whole > maxSeconds {
			return 0, false
		}
	}
	if i < len(s) && s[i] == '.' {
		scale := int64(time.Second / 10)
		for i++; i < len(s) && isDigit(s[i]); i++ {
			frac += int64(s[i]-'0') * scale
			scale /= 10
			digits++
		}
	}
	if i != len(s) || digits == 0 {
		return 0, false
	}
	return time.Duration(whole)*time.Second + time.Duration(frac), true
}

// ceilSecond rounds up to whole seconds, as EXT-X-TARGETDURATION is an
// integer number of seconds that no segment may exceed.
func ceilSecond(d time.Duration) time.Duration {
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

// parseUint parses a decimal-integer (0 to 2^64-1).
func parseUint(s string) (uint64, bool) {
	n, err := strconv.ParseUint(trimLine(s), 10, 64)
	return n, err == nil
}

// parseInt64 parses a non-negative decimal-integer that fits an int64
// (bit size 63: no sign, at most 2^63-1).
func parseInt64(s string) (int64, bool) {
	n, err := strconv.ParseUint(trimLine(s), 10, 63)
	return int64(n), err == nil
}

// parseByteRange checks "<n>[@<o>]" and returns it trimmed.
func parseByteRange(s string) (string, bool) {
	s = trimLine(s)
	n, o, hasOffset := strings.Cut(s, "@")
	if _, ok := parseUint(n); !ok || n != trimLine(n) {
		return "", false
	}
	if hasOffset {
		if _, ok := parseUint(o); !ok || o != trimLine(o) {
			return "", false
		}
	}
	return s, true
}

// parseDateTime parses an ISO 8601 date-time as encoders write it: RFC 3339
// ("Z" or "+01:00"), ffmpeg's "+0100", "+01", or no zone at all (UTC).
func parseDateTime(s string) (time.Time, bool) {
	s = trimLine(s)
	if len(s) > 64 {
		return time.Time{}, false
	}
	t, err := time.Parse(dateLayout(s), s)
	return t, err == nil
}

// dateLayout picks the layout from the zone suffix, so that a date-time is
// parsed once instead of trying layouts in turn.
func dateLayout(s string) string {
	const base = "2006-01-02T15:04:05.999999999"
	zoneAt := func(n int) bool { // s ends in a sign and n-1 more bytes
		return len(s) > n && (s[len(s)-n] == '+' || s[len(s)-n] == '-')
	}
	switch {
	case strings.HasSuffix(s, "Z"), zoneAt(6) && s[len(s)-3] == ':':
		return base + "Z07:00"
	case zoneAt(5):
		return base + "Z0700"
	case zoneAt(3):
		return base + "Z07"
	}
	return base
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
