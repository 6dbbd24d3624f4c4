package p2pweb

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves /sdk/. The zero value serves the embedded files only.
type Handler struct {
	// Player serves /sdk/player/... (the hls.js + p2p-media-loader bundles the
	// test page loads); nil answers 404 there.
	Player fs.FS
}

// Files are the embedded files by name under /sdk/.
func Files() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

var files = Files()

// ServeHTTP answers GET and HEAD under /sdk/, with CORS open to any page:
// the script and the player carry nothing private.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/sdk/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-cache") // revalidate: the box may be updated
	fsys := files
	if rest, ok := strings.CutPrefix(name, "player/"); ok {
		if h.Player == nil {
			http.NotFound(w, r)
			return
		}
		fsys, name = h.Player, rest
	}
	if name == "" || strings.Contains(name, "/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	http.ServeFileFS(w, r, fsys, name)
}
