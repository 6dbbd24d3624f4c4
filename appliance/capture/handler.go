package capture

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Secret is a credential that redacts itself in logs and fmt output.
type Secret string

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps the secret out of %v and %s.
func (Secret) String() string { return "REDACTED" }

// HandlerConfig configures the diagnostics API.
type HandlerConfig struct {
	// Token is the bearer token clients must send ("Authorization: Bearer ...").
	// Empty disables the API: every request gets 403.
	Token Secret
	// Interfaces lists the interfaces clients may capture on; empty means any.
	Interfaces []string
	// DefaultInterface is used when the request names none; "" makes iface required.
	DefaultInterface string
	// NetNS is the namespace file the interfaces live in; "" means the process's own.
	NetNS string
	// Top serves GET /top; nil answers 404 there.
	Top *TopTalkers
	// MaxConcurrent bounds captures running at once; 0 means 1.
	MaxConcurrent int
	// Logger receives one line per capture; nil discards.
	Logger *slog.Logger
}

// Handler serves the packet-capture API, relative to where it is mounted:
//
//	GET /capture?iface=wan0&filter=...&seconds=10&max_packets=1000&max_bytes=1048576&snaplen=65535
//	    streams a pcap file as a download; trailers X-Capture-Packets,
//	    X-Capture-Stop and X-Capture-Kernel-Drops summarise it.
//	GET /top?n=20
//	    JSON Top: bytes per LAN host and per remote service over the last minute.
//
// Mount it with http.StripPrefix, e.g. under /api/v1/diag/. Every request needs the
// bearer token; errors are a status and a short text/plain message.
func Handler(cfg HandlerConfig) http.Handler {
	n := cfg.MaxConcurrent
	if n <= 0 {
		n = 1
	}
	h := &handler{cfg: cfg, sem: make(chan struct{}, n), log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		h.tokenSum = sum[:]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /capture", h.auth(h.serveCapture))
	mux.HandleFunc("GET /top", h.auth(h.serveTop))
	return mux
}

type handler struct {
	cfg      HandlerConfig
	sem      chan struct{}
	log      *slog.Logger
	tokenSum []byte
}

func (h *handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.tokenSum == nil {
			http.Error(w, "diagnostics API disabled: no API token configured on the box", http.StatusForbidden)
			return
		}
		if !bearerMatches(r, h.tokenSum) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="outpost"`)
			http.Error(w, "missing or wrong API token", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// BearerMatches reports whether r carries "Authorization: Bearer <token>". The
// comparison is over SHA-256 sums, which have one length, so it leaks nothing
// about the token's. The box's other token-protected endpoints use it too.
func BearerMatches(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return bearerMatches(r, sum[:])
}

func bearerMatches(r *http.Request, tokenSum []byte) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return ok && subtle.ConstantTimeCompare(sum[:], tokenSum) == 1
}

// publicError maps an Open error to a status and a message safe to show.
func publicError(err error) (int, string) {
	var se *SyntaxError
	switch {
	case errors.As(err, &se):
		return http.StatusBadRequest, se.Error()
	case errors.Is(err, ErrFilterTooComplex):
		return http.StatusBadRequest, "filter too complex"
	case errors.Is(err, ErrBounds):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrNoInterface):
		return http.StatusNotFound, "no such interface"
	case errors.Is(err, ErrInterfaceNotAllowed):
		return http.StatusForbidden, "capture on this interface is not allowed"
	case errors.Is(err, ErrBusy):
		return http.StatusTooManyRequests, "a capture is already running; try again when it ends"
	case errors.Is(err, ErrPermission):
		return http.StatusServiceUnavailable, "the box may not capture packets (needs root or CAP_NET_RAW)"
	case errors.Is(err, ErrUnsupported):
		return http.StatusNotImplemented, "packet capture is not supported on this system"
	}
	return http.StatusInternalServerError, "capture failed"
}

func (h *handler) options(r *http.Request) (Options, error) {
	q := r.URL.Query()
	o := Options{Interface: q.Get("iface"), Filter: q.Get("filter"), NetNS: h.cfg.NetNS}
	if o.Interface == "" {
		o.Interface = h.cfg.DefaultInterface
	}
	if o.Interface == "" {
		return o, fmt.Errorf("%w: iface is required", ErrBounds)
	}
	if len(h.cfg.Interfaces) > 0 && !slices.Contains(h.cfg.Interfaces, o.Interface) {
		return o, ErrInterfaceNotAllowed
	}
	num := func(key string, max int64) (int64, error) {
		v := q.Get(key)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("%w: %s must be a whole number from 0 to %d", ErrBounds, key, max)
		}
		return n, nil
	}
	secs, err := num("seconds", int64(MaxDuration/time.Second))
	if err != nil {
		return o, err
	}
	o.Duration = time.Duration(secs) * time.Second
	pk, err := num("max_packets", MaxPackets)
	if err != nil {
		return o, err
	}
	o.MaxPackets = int(pk)
	if o.MaxBytes, err = num("max_bytes", MaxBytes); err != nil {
		return o, err
	}
	snap, err := num("snaplen", MaxSnaplen)
	if err != nil {
		return o, err
	}
	o.Snaplen = int(snap)
	return o, nil
}

func (h *handler) serveCapture(w http.ResponseWriter, r *http.Request) {
	o, err := h.options(r)
	if err == nil {
		select {
		case h.sem <- struct{}{}:
			defer func() { <-h.sem }()
		default:
			err = ErrBusy
		}
	}
	var s *Session
	if err == nil {
		s, err = Open(o)
	}
	if err != nil {
		status, msg := publicError(err)
		if status >= 500 {
			h.log.Error("capture open failed", "iface", o.Interface, "err", err)
		}
		http.Error(w, msg, status)
		return
	}
	defer s.Close()
	o = s.Options()
	name := fmt.Sprintf("outpost-%s-%s.pcap", safeName(o.Interface), time.Now().UTC().Format("20060102T150405Z"))
	hd := w.Header()
	hd.Set("Content-Type", "application/vnd.tcpdump.pcap")
	hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Trailer", "X-Capture-Packets, X-Capture-Stop, X-Capture-Kernel-Drops")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(o.Duration + 30*time.Second)) // a server WriteTimeout must not cut the capture
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	res, err := s.WriteTo(r.Context(), w)
	hd.Set("X-Capture-Packets", strconv.Itoa(res.Packets))
	hd.Set("X-Capture-Stop", string(res.Stop))
	hd.Set("X-Capture-Kernel-Drops", strconv.FormatUint(res.KernelDrops, 10))
	h.log.Info("capture", "iface", o.Interface, "filter", o.Filter, "packets", res.Packets,
		"bytes", res.Bytes, "stop", res.Stop, "kernel_drops", res.KernelDrops, "err", err)
}

func (h *handler) serveTop(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Top == nil {
		http.Error(w, "top talkers are not enabled on this box", http.StatusNotFound)
		return
	}
	n := 20
	if v := r.URL.Query().Get("n"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 1000 {
			http.Error(w, "n must be a number from 1 to 1000", http.StatusBadRequest)
			return
		}
		n = k
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(h.cfg.Top.Snapshot(n))
}

// safeName keeps an interface name usable in a Content-Disposition filename.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
