package superpeer_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/outpost-ecdn/outpost/appliance/superpeer"
)

type goldenCommand struct {
	Name    string `json:"name"`
	Max     int    `json:"max"`
	Command struct {
		C int     `json:"c"`
		I int64   `json:"i"`
		R int64   `json:"r"`
		S int64   `json:"s"`
		B int64   `json:"b"`
		L []int64 `json:"l"`
		P []int64 `json:"p"`
	} `json:"command"`
	Chunks []string `json:"chunks"`
}

func loadCommands(t testing.TB) []goldenCommand {
	b, err := os.ReadFile("testdata/commands.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []goldenCommand `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

func (g goldenCommand) cmd() superpeer.Command {
	c := g.Command
	return superpeer.Command{Type: superpeer.CommandType(c.C), Segment: c.I, RequestID: c.R, Size: c.S, Byte: c.B, Loaded: c.L, Loading: c.P}
}

// TestCommandsMatchP2PMediaLoader: the box's bytes equal the npm core's, and the
// box reads the npm bytes back into the same command.
func TestCommandsMatchP2PMediaLoader(t *testing.T) {
	for _, g := range loadCommands(t) {
		t.Run(g.Name, func(t *testing.T) {
			var got []string
			for _, m := range g.cmd().Encode(g.Max) {
				got = append(got, hex.EncodeToString(m))
			}
			if d := cmp.Diff(g.Chunks, got); d != "" {
				t.Errorf("encoding differs (-npm +ours):\n%s", d)
			}
			var j superpeer.Joiner
			var cmd []byte
			for i, h := range g.Chunks {
				m, _ := hex.DecodeString(h)
				if !superpeer.IsCommandChunk(m) {
					t.Fatalf("chunk %d not a command chunk", i)
				}
				c, done, err := j.Add(m)
				if err != nil {
					t.Fatal(err)
				}
				if done != (i == len(g.Chunks)-1) {
					t.Fatalf("chunk %d: done=%v", i, done)
				}
				cmd = c
			}
			back, err := superpeer.ParseCommand(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(g.cmd(), back, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("decoded differs (-npm +ours):\n%s", d)
			}
		})
	}
}

func TestJoinerRejectsDisorder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
	}{
		{"part without first", []string{"dstr\x00cend"}},
		{"first twice", []string{"cstr\x00dend", "cstr\x00cend"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j superpeer.Joiner
			var err error
			for _, c := range tc.chunks {
				_, _, err = j.Add([]byte(c))
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, g := range loadCommands(f) {
		for _, h := range g.Chunks {
			m, _ := hex.DecodeString(h)
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var j superpeer.Joiner
		if superpeer.IsCommandChunk(b) {
			if cmd, done, err := j.Add(b); err == nil && done {
				b = cmd
			}
		}
		c, err := superpeer.ParseCommand(b)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses the same way.
		var joined []byte
		for _, m := range c.Encode(superpeer.MaxMessageSize) {
			joined = append(joined, m[4:len(m)-4]...)
		}
		again, err := superpeer.ParseCommand(joined)
		if err != nil {
			t.Fatalf("re-encoded %+v does not parse: %v", c, err)
		}
		if c.Type == superpeer.CmdAnnouncement && len(c.Loaded) < 255*255 {
			if d := cmp.Diff(c.Loaded, again.Loaded, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("loaded ids changed:\n%s", d)
			}
		}
	})
}

func TestSafeChunks(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		max  int
	}{
		{"plain", bytes.Repeat([]byte{1}, 100), 30},
		{"looks like a command", []byte("cstr-payload-cend" + "cstr-payload-dend"), 17},
		{"frames everywhere", bytes.Repeat([]byte("cstrcend"), 40), 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out []byte
			for _, c := range superpeer.SafeChunks(tc.data, tc.max) {
				if len(c) > tc.max || len(c) == 0 {
					t.Fatalf("chunk of %d bytes", len(c))
				}
				if superpeer.IsCommandChunk(c) {
					t.Fatalf("chunk %q looks like a command", c)
				}
				out = append(out, c...)
			}
			if !bytes.Equal(out, tc.data) {
				t.Fatal("chunks do not add up to the data")
			}
		})
	}
}
