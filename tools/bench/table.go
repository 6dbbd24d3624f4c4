package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Table is a Markdown comparison of two systems, metric by metric, with the ratio A/B.
type Table struct {
	Title string
	// A and B name the value columns, such as "outpostd" and "nginx".
	A, B string
	Rows []Row
}

// Row is one metric.
type Row struct {
	Metric string
	// A and B are the values; NaN means not measured.
	A, B float64
	// Format is the fmt verb for A and B, such as "%.1f"; empty means "%.3g".
	Format string
}

// Add appends a row.
func (t *Table) Add(metric, format string, a, b float64) {
	t.Rows = append(t.Rows, Row{Metric: metric, A: a, B: b, Format: format})
}

// WriteMarkdown writes t as a GitHub-flavoured Markdown table under a level-3 heading
// (when Title is set): metric | A | B | A/B.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", t.Title)
	}
	fmt.Fprintf(&b, "| metric | %s | %s | %s/%s |\n|---|---:|---:|---:|\n", cell(t.A), cell(t.B), cell(t.A), cell(t.B))
	for _, r := range t.Rows {
		f := r.Format
		if f == "" {
			f = "%.3g"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(r.Metric), value(f, r.A), value(f, r.B), ratioCell(r.A, r.B))
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func value(format string, v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratioCell is a/b with two decimals, or "-" when it has no meaning.
func ratioCell(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// cell escapes the characters that would break a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
