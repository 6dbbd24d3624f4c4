package capture

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestPackageDoc keeps the package doc comment (what comes in, what goes out).
func TestPackageDoc(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			docs = append(docs, f.Doc.Text())
		}
	}
	if len(docs) != 1 {
		t.Fatalf("want exactly one package doc comment, got %d", len(docs))
	}
	for _, want := range []string{"What comes in", "What goes out", "# Usage"} {
		if !strings.Contains(docs[0], want) {
			t.Errorf("package doc lacks %q", want)
		}
	}
}
