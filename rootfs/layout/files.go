package layout

import "embed"

// Files are the static files of every root slot (etc/hosts, etc/passwd, the
// default outpostd config ...), rooted at "files".
//
//go:embed all:files
var Files embed.FS
