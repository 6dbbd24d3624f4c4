package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about the content of a config document.
var ErrInvalid = errors.New("invalid config")

// KeyError names the key a config error is about.
type KeyError struct {
	Key  string // dotted path, e.g. "wan.max_mbps" or "origins[1].url"
	Line int    // 1-based line in the document, 0 if unknown
	Msg  string
}

func (e *KeyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config: %s (line %d): %s", e.Key, e.Line, e.Msg)
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

func (e *KeyError) Unwrap() error { return ErrInvalid }

func keyErr(key, msg string) error { return &KeyError{Key: key, Msg: msg} }

// decodeStrict decodes b into out after checking that every key in the document is a
// known field, so a typo ("max_mpbs") is an error naming the key instead of a
// silently ignored setting. yaml.v3's KnownFields reports only the Go type, not the
// key path, hence the walk.
func decodeStrict(b []byte, out *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config: %w: %v", ErrInvalid, err)
	}
	if len(doc.Content) == 0 {
		return &KeyError{Key: "site", Msg: "is required (the document is empty)"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return &KeyError{Key: "(document)", Line: root.Line, Msg: "must be a mapping of keys"}
	}
	if err := checkKeys(root, reflect.TypeOf(*out), ""); err != nil {
		return err
	}
	if err := root.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return fmt.Errorf("config: %w: %s", ErrInvalid, te.Errors[0])
		}
		return fmt.Errorf("config: %w: %v", ErrInvalid, err)
	}
	return nil
}

func checkKeys(n *yaml.Node, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return nil
			}
			return &KeyError{Key: strings.TrimPrefix(prefix, "."), Line: n.Line, Msg: "must be a mapping"}
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + "." + k.Value
			ft, ok := fields[k.Value]
			if !ok {
				return &KeyError{Key: strings.TrimPrefix(key, "."), Line: k.Line, Msg: "unknown key"}
			}
			if seen[k.Value] {
				return &KeyError{Key: strings.TrimPrefix(key, "."), Line: k.Line, Msg: "duplicate key"}
			}
			seen[k.Value] = true
			if err := checkKeys(v, ft, key); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Struct {
			return checkLeaf(n, t, prefix)
		}
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return nil
			}
			return &KeyError{Key: strings.TrimPrefix(prefix, "."), Line: n.Line, Msg: "must be a list"}
		}
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i)); err != nil {
				return err
			}
		}
	default:
		return checkLeaf(n, t, prefix)
	}
	return nil
}

// checkLeaf decodes one value on its own so that a type error names its key.
func checkLeaf(n *yaml.Node, t reflect.Type, prefix string) error {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		return &KeyError{Key: strings.TrimPrefix(prefix, "."), Line: n.Line, Msg: msg}
	}
	return nil
}

// ByteSize is a size in bytes that a config file may write as a plain number or with
// a unit: "512MiB", "10GB", "1.5GiB". SI units are powers of 1000, IEC of 1024.
type ByteSize int64

var units = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseByteSize parses "1GiB", "500MB", "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("not a size: want bytes or a number with KiB/MiB/GiB/TiB/KB/MB/GB/TB")
	}
	return ByteSize(f * mult), nil
}

// UnmarshalYAML accepts an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number or a string like \"1GiB\"", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q: %v", n.Line, n.Value, err)
	}
	*b = v
	return nil
}

func (b ByteSize) String() string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	default:
		return strconv.FormatInt(int64(b), 10)
	}
}
