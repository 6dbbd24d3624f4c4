package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-ecdn/outpost/appliance/capture"
)

// logsMaxRead bounds what one request reads of a log file: the newest bytes.
const logsMaxRead = 8 << 20

// logNameRE is what a log file may be called: the image's init writes
// init.log and <service>.log, rotated to .log.1.
var logNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*\.log(\.1)?$`)

// bootLog is one entry of GET /api/v1/logs.
type bootLog struct {
	Name     string    `json:"name"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
}

// mountBootLogs serves the log files the image's init keeps on the data
// partition (the directory in OUTPOST_LOG_DIR: init.log, outpostd.log and
// their rotated .log.1, the previous boots' lines included): GET /api/v1/logs
// lists them, GET /api/v1/logs/{name}[?tail=N] returns one as text (the last N
// lines; at most its newest 8 MiB). Like the diagnostics API it needs the
// bearer token diag.api_token, read from the current config on each request.
func (d *daemon) mountBootLogs(mux *http.ServeMux) {
	dir := os.Getenv("OUTPOST_LOG_DIR")
	mux.HandleFunc("GET /api/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		if !d.logsAllowed(w, r, dir) {
			return
		}
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("logs API: read the log directory", "dir", dir, "err", err)
			jsonError(w, http.StatusInternalServerError, "cannot read the log directory")
			return
		}
		list := []bootLog{}
		for _, e := range entries {
			if !e.Type().IsRegular() || !logNameRE.MatchString(e.Name()) {
				continue
			}
			if info, err := e.Info(); err == nil {
				list = append(list, bootLog{Name: e.Name(), Bytes: info.Size(), Modified: info.ModTime().UTC()})
			}
		}
		slices.SortFunc(list, func(a, b bootLog) int { return strings.Compare(a.Name, b.Name) })
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, list)
	})
	mux.HandleFunc("GET /api/v1/logs/{name}", func(w http.ResponseWriter, r *http.Request) {
		if !d.logsAllowed(w, r, dir) {
			return
		}
		name := r.PathValue("name")
		if !logNameRE.MatchString(name) {
			jsonError(w, http.StatusBadRequest, "log names look like init.log, outpostd.log or outpostd.log.1")
			return
		}
		tail := 0
		if s := r.URL.Query().Get("tail"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				jsonError(w, http.StatusBadRequest, "tail must be a positive number of lines")
				return
			}
			tail = n
		}
		b, truncated, err := readLogTail(dir, name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			jsonError(w, http.StatusNotFound, "no such log")
			return
		case err != nil:
			d.log.Warn("logs API: read a log", "name", name, "err", err)
			jsonError(w, http.StatusInternalServerError, "cannot read the log")
			return
		}
		if tail > 0 {
			b = lastLines(b, tail)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if truncated {
			w.Header().Set("X-Outpost-Log-Truncated", "only the newest 8 MiB")
		}
		w.Write(b)
	})
}

// logsAllowed answers the request itself unless it carries the diagnostics
// token and the box keeps log files.
func (d *daemon) logsAllowed(w http.ResponseWriter, r *http.Request, dir string) bool {
	token := d.cfg.Load().Diag.APIToken
	if token == "" {
		jsonError(w, http.StatusForbidden, "the logs API is off: set diag.api_token in the config")
		return false
	}
	if !capture.BearerMatches(r, token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="outpost"`)
		jsonError(w, http.StatusUnauthorized, "missing or wrong API token (Authorization: Bearer <diag.api_token>)")
		return false
	}
	if dir == "" {
		jsonError(w, http.StatusNotFound, "no log directory (not running in the Outpost image)")
		return false
	}
	return true
}

// readLogTail reads the newest logsMaxRead bytes of dir/name, starting at a
// line when it had to cut. os.Root keeps the open inside dir, symlinks too.
func readLogTail(dir, name string) ([]byte, bool, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, false, err
	}
	defer root.Close()
	if st, err := root.Lstat(name); err != nil || !st.Mode().IsRegular() {
		return nil, false, fs.ErrNotExist // missing, or a symlink or directory: not a log the init wrote
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	off := max(0, st.Size()-logsMaxRead)
	b, err := io.ReadAll(io.NewSectionReader(f, off, logsMaxRead))
	if err != nil {
		return nil, false, err
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, off > 0, nil
}

// lastLines returns the last n lines of b (a final newline ends the last
// line, it does not start an empty one).
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for ; n > 0; n-- {
		i := bytes.LastIndexByte(b[:end], '\n')
		if i < 0 {
			return b
		}
		end = i
	}
	return b[end+1:]
}
