package superpeer

import (
	"bytes"
	"fmt"
	"math/bits"
)

// The p2p-media-loader data-channel protocol (lib/p2p/commands of the core, the
// same in 2.2 and 2.3): a command is a type byte followed by named fields, framed
// "cstr"..."cend"; a command longer than one message is split into equal parts
// framed cstr/dend, dstr/dend..., dstr/cend. Unframed messages are segment bytes.

// CommandType is a command's first byte.
type CommandType byte

const (
	CmdAnnouncement CommandType = 0 // l: loaded ids, p: ids loading over HTTP
	CmdRequest      CommandType = 1 // i: segment id, r: request id, b: resume byte
	CmdData         CommandType = 2 // i, s: byte count that follows, r
	CmdDone         CommandType = 3 // i, r: all data sent
	CmdAbsent       CommandType = 4 // i, r
	CmdCancel       CommandType = 5 // i, r
)

// Command is one decoded command; fields a type does not use stay zero.
type Command struct {
	Type      CommandType
	Segment   int64 // i
	RequestID int64 // r
	Size      int64 // s
	Byte      int64 // b (resume offset; 0 = from the start)
	Loaded    []int64
	Loading   []int64
}

// MaxMessageSize is p2p-media-loader's default webRtcMaxMessageSize: the
// largest message it sends, and the size of the box's data chunks.
const MaxMessageSize = 64*1024 - 1

var (
	frameCmdStart = []byte("cstr")
	frameCmdEnd   = []byte("cend")
	frameDivStart = []byte("dstr")
	frameDivEnd   = []byte("dend")
)

// Serialized item types (the high nibble of an item's first byte).
const (
	itemInt        = 0
	itemSimilarInt = 1
	itemString     = 2
)

// Encode serializes c and frames it into messages of at most maxMessage bytes.
func (c Command) Encode(maxMessage int) [][]byte {
	b := []byte{byte(c.Type)}
	switch c.Type {
	case CmdAnnouncement:
		if len(c.Loaded) > 0 {
			b = append(b, 'l')
			b = appendSimilarInts(b, c.Loaded)
		}
		if len(c.Loading) > 0 {
			b = append(b, 'p')
			b = appendSimilarInts(b, c.Loading)
		}
	case CmdRequest:
		b = appendIntField(b, 'i', c.Segment)
		b = appendIntField(b, 'r', c.RequestID)
		if c.Byte != 0 {
			b = appendIntField(b, 'b', c.Byte)
		}
	case CmdData:
		b = appendIntField(b, 'i', c.Segment)
		b = appendIntField(b, 's', c.Size)
		b = appendIntField(b, 'r', c.RequestID)
	default: // done, absent, cancel
		b = appendIntField(b, 'i', c.Segment)
		b = appendIntField(b, 'r', c.RequestID)
	}
	return frame(b, maxMessage)
}

// frame is BinaryCommandCreator.complete.
func frame(b []byte, max int) [][]byte {
	const frames = 8
	if len(b)+frames <= max {
		return [][]byte{concat(frameCmdStart, b, frameCmdEnd)}
	}
	n := (len(b) + max - 1) / max
	if (len(b)+n-1)/n+frames > max {
		n++
	}
	size := (len(b) + n - 1) / n
	var out [][]byte
	for i := 0; i < n; i++ {
		part := b[min(i*size, len(b)):min((i+1)*size, len(b))]
		start, end := frameDivStart, frameDivEnd
		if i == 0 {
			start = frameCmdStart
		}
		if i == n-1 {
			end = frameCmdEnd
		}
		out = append(out, concat(start, part, end))
	}
	return out
}

func concat(parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func appendIntField(b []byte, name byte, v int64) []byte {
	return appendInt(append(b, name), v)
}

// appendInt is serializeInt: a header (type, byte count) and the magnitude
// big-endian with the sign in the top bit of the first byte.
func appendInt(b []byte, v int64) []byte {
	neg := v < 0
	mag := uint64(v)
	if neg {
		mag = -mag
	}
	nbits := max(bits.Len64(mag), 1) + 1
	n := (nbits + 7) / 8
	b = append(b, byte(itemInt<<4|n))
	start := len(b)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(mag>>(8*uint(i))))
	}
	if neg {
		b[start] |= 0x80
	}
	return b
}

// appendSimilarInts is serializeSimilarIntArray: numbers grouped by all but
// their low byte (in order of first appearance), each group an Int of
// common|count followed by the low bytes.
func appendSimilarInts(b []byte, nums []int64) []byte {
	type group struct {
		common int64
		low    []byte
	}
	var groups []*group
	index := map[int64]*group{}
	for _, v := range nums {
		common := v &^ 0xff
		g := index[common]
		if g == nil || len(g.low) == 255 {
			g = &group{common: common}
			index[common] = g
			groups = append(groups, g)
		}
		g.low = append(g.low, byte(v&0xff))
	}
	if len(groups) > 255 {
		groups = groups[:255] // the count is one byte; the rest is dropped
	}
	b = append(b, itemSimilarInt<<4, byte(len(groups)))
	for _, g := range groups {
		b = appendInt(b, g.common|int64(len(g.low)))
		b = append(b, g.low...)
	}
	return b
}

// ParseCommand decodes an unframed command (deserializeCommand).
func ParseCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return Command{}, fmt.Errorf("%w: empty command", ErrProtocol)
	}
	c := Command{Type: CommandType(b[0])}
	if c.Type > CmdCancel {
		return c, fmt.Errorf("%w: command type %d", ErrProtocol, b[0])
	}
	for off := 1; off < len(b); {
		name := b[off]
		off++
		if off >= len(b) {
			return c, fmt.Errorf("%w: field %q without value", ErrProtocol, name)
		}
		switch b[off] >> 4 {
		case itemInt:
			v, n, err := readInt(b[off:])
			if err != nil {
				return c, err
			}
			off += n
			switch name {
			case 'i':
				c.Segment = v
			case 'r':
				c.RequestID = v
			case 's':
				c.Size = v
			case 'b':
				c.Byte = v
			}
		case itemSimilarInt:
			vs, n, err := readSimilarInts(b[off:])
			if err != nil {
				return c, err
			}
			off += n
			switch name {
			case 'l':
				c.Loaded = vs
			case 'p':
				c.Loading = vs
			}
		case itemString:
			if off+2 > len(b) {
				return c, fmt.Errorf("%w: truncated string", ErrProtocol)
			}
			n := int(b[off]&0x0f)<<8 | int(b[off+1])
			if off+2+n > len(b) {
				return c, fmt.Errorf("%w: truncated string", ErrProtocol)
			}
			off += 2 + n
		default:
			return c, fmt.Errorf("%w: item type %d", ErrProtocol, b[off]>>4)
		}
	}
	return c, nil
}

func readInt(b []byte) (int64, int, error) {
	n := int(b[0] & 0x0f)
	if n == 0 || n > 8 || 1+n > len(b) {
		return 0, 0, fmt.Errorf("%w: bad integer", ErrProtocol)
	}
	var v uint64
	for i := 0; i < n; i++ {
		c := b[1+i]
		if i == 0 {
			c &= 0x7f
		}
		v = v<<8 | uint64(c)
	}
	if v > 1<<63-1 {
		return 0, 0, fmt.Errorf("%w: integer overflow", ErrProtocol)
	}
	x := int64(v)
	if b[1]&0x80 != 0 {
		x = -x
	}
	return x, 1 + n, nil
}

// maxAnnounced bounds the ids one announcement may carry.
const maxAnnounced = 1 << 14

func readSimilarInts(b []byte) ([]int64, int, error) {
	if len(b) < 2 {
		return nil, 0, fmt.Errorf("%w: truncated array", ErrProtocol)
	}
	groups := int(b[1])
	off := 2
	var out []int64
	for g := 0; g < groups; g++ {
		if off >= len(b) {
			return nil, 0, fmt.Errorf("%w: truncated array", ErrProtocol)
		}
		v, n, err := readInt(b[off:])
		if err != nil {
			return nil, 0, err
		}
		off += n
		count := int(v & 0xff)
		common := v &^ 0xff
		if off+count > len(b) || len(out)+count > maxAnnounced {
			return nil, 0, fmt.Errorf("%w: truncated array", ErrProtocol)
		}
		for j := 0; j < count; j++ {
			out = append(out, common|int64(b[off+j]))
		}
		off += count
	}
	return out, off, nil
}

// IsCommandChunk says whether a data-channel message is (part of) a command:
// it starts with cstr or dstr and ends with cend or dend.
func IsCommandChunk(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	start, end := b[:4], b[len(b)-4:]
	return (bytes.Equal(start, frameCmdStart) || bytes.Equal(start, frameDivStart)) &&
		(bytes.Equal(end, frameCmdEnd) || bytes.Equal(end, frameDivEnd))
}

// Joiner reassembles split commands (BinaryCommandChunksJoiner).
type Joiner struct {
	buf     []byte
	joining bool
	// Max bounds a reassembled command; zero means 1 MiB.
	Max int
}

// Add takes one command chunk; it returns the unframed command once the last
// part arrived. Out-of-order parts reset the joiner and return an error.
func (j *Joiner) Add(chunk []byte) (cmd []byte, done bool, err error) {
	first := bytes.HasPrefix(chunk, frameCmdStart)
	switch {
	case !j.joining && !first:
		return nil, false, fmt.Errorf("%w: command part without a first part", ErrProtocol)
	case j.joining && first:
		j.buf, j.joining = j.buf[:0], false
		return nil, false, fmt.Errorf("%w: new command before the last one ended", ErrProtocol)
	}
	limit := j.Max
	if limit <= 0 {
		limit = 1 << 20
	}
	if len(j.buf)+len(chunk)-8 > limit {
		j.buf, j.joining = j.buf[:0], false
		return nil, false, fmt.Errorf("%w: command too large", ErrProtocol)
	}
	j.joining = true
	j.buf = append(j.buf, chunk[4:len(chunk)-4]...)
	if !bytes.HasSuffix(chunk, frameCmdEnd) {
		return nil, false, nil
	}
	cmd = append([]byte(nil), j.buf...)
	j.buf, j.joining = j.buf[:0], false
	return cmd, true, nil
}

// safeChunks splits data into messages of at most max bytes that a receiver
// never mistakes for command chunks.
func safeChunks(data []byte, max int, yield func([]byte) bool) {
	for len(data) > 0 {
		n := min(len(data), max)
		chunk := data[:n]
		if IsCommandChunk(chunk) {
			// Shorten it: a head of n-1, n-2 or n-3 bytes cannot end in a frame
			// mark each time, and the tail is picked up by the next round.
			for k := n - 1; k >= n-3; k-- {
				if !IsCommandChunk(data[:k]) {
					chunk = data[:k]
					break
				}
			}
		}
		if !yield(chunk) {
			return
		}
		data = data[len(chunk):]
	}
}
