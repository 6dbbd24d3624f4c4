package capture

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// maxInstructions is the kernel's limit for a classic BPF program (BPF_MAXINSNS).
const maxInstructions = 4096

// Offsets in an Ethernet frame (the kernel strips VLAN tags into metadata before
// packet sockets see them).
const (
	offEtherType = 12
	offIPv4      = 14
	offIPv4Proto = offIPv4 + 9
	offIPv4Frag  = offIPv4 + 6
	offIPv4Src   = offIPv4 + 12
	offIPv4Dst   = offIPv4 + 16
	offIPv6      = 14
	offIPv6Next  = offIPv6 + 6
	offIPv6Src   = offIPv6 + 8
	offIPv6Dst   = offIPv6 + 24
	offIPv6L4    = offIPv6 + 40 // first byte after a header without extensions

	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	etherARP  = 0x0806

	packetOutgoing = 4 // PACKET_OUTGOING, the value of the "type" extension
)

// CompileOptions tune the generated program.
type CompileOptions struct {
	// Snaplen is the number of bytes of each accepted packet the kernel copies; the
	// program returns it for a match. 0 means DefaultSnaplen.
	Snaplen uint32
	// DropOutgoing rejects packets the host sends (PACKET_OUTGOING). Capture sets it
	// on loopback interfaces, where every packet is otherwise seen twice (once sent,
	// once received), as libpcap does. Programs using it only run in the kernel
	// (x/net/bpf's VM lacks the extension).
	DropOutgoing bool
}

// Compile returns the classic BPF program for f: it returns opts.Snaplen for a
// matching packet and 0 otherwise. The program is validated (it assembles and every
// jump stays inside it).
func (f *Filter) Compile(opts CompileOptions) ([]bpf.Instruction, error) {
	snap := opts.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	var t test = testTrue{}
	if !f.MatchesAll() {
		t = lower(f.root)
	}
	if opts.DropOutgoing {
		t = tAnd{tNot{tPktType{packetOutgoing}}, t}
	}
	g := &codegen{}
	accept, reject := g.newLabel(), g.newLabel()
	g.gen(t, accept, reject)
	g.place(accept)
	g.emit(bpf.RetConstant{Val: snap})
	g.place(reject)
	g.emit(bpf.RetConstant{Val: 0})
	prog, err := g.resolve()
	if err != nil {
		return nil, err
	}
	if _, err := bpf.Assemble(prog); err != nil {
		return nil, fmt.Errorf("assemble filter: %w", err)
	}
	return prog, nil
}

// Assemble compiles f and assembles it for SetBPF.
func (f *Filter) Assemble(opts CompileOptions) ([]bpf.RawInstruction, error) {
	prog, err := f.Compile(opts)
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(prog)
}

// Lowered tests: the AST rewritten into loads and compares on frame offsets.
type test interface{ isTest() }

type (
	testTrue struct{}
	// tLoad compares (frame[off:off+size] & mask) == val; mask 0 means no mask.
	tLoad struct {
		size int
		off  uint32
		mask uint32
		val  uint32
	}
	// tBits is true when any of bits is set in frame[off:off+size].
	tBits struct {
		size int
		off  uint32
		bits uint32
	}
	// tPort4 compares the 16-bit word at IPv4 header length + 14 + off with val (off
	// 0 = source port, 2 = destination port).
	tPort4 struct {
		off uint32
		val uint32
	}
	tPktType struct{ val uint32 }
	tAnd     struct{ l, r test }
	tOr      struct{ l, r test }
	tNot     struct{ x test }
)

func (testTrue) isTest() {}
func (tLoad) isTest()    {}
func (tBits) isTest()    {}
func (tPort4) isTest()   {}
func (tPktType) isTest() {}
func (tAnd) isTest()     {}
func (tOr) isTest()      {}
func (tNot) isTest()     {}

var (
	isIPv4 = tLoad{size: 2, off: offEtherType, val: etherIPv4}
	isIPv6 = tLoad{size: 2, off: offEtherType, val: etherIPv6}
	isARP  = tLoad{size: 2, off: offEtherType, val: etherARP}
	// notFragment4 is true for unfragmented packets and first fragments (offset 0).
	notFragment4 = tNot{tBits{size: 2, off: offIPv4Frag, bits: 0x1fff}}
)

func ipProto4(p uint32) test { return tAnd{isIPv4, tLoad{size: 1, off: offIPv4Proto, val: p}} }
func ipProto6(p uint32) test { return tAnd{isIPv6, tLoad{size: 1, off: offIPv6Next, val: p}} }

func lower(n node) test {
	switch n := n.(type) {
	case *andNode:
		return tAnd{lower(n.l), lower(n.r)}
	case *orNode:
		return tOr{lower(n.l), lower(n.r)}
	case *notNode:
		return tNot{lower(n.x)}
	case *protoNode:
		switch n.p {
		case ProtoIP:
			return isIPv4
		case ProtoIP6:
			return isIPv6
		case ProtoARP:
			return isARP
		case ProtoTCP:
			return tOr{ipProto4(6), ipProto6(6)}
		case ProtoUDP:
			return tOr{ipProto4(17), ipProto6(17)}
		case ProtoICMP:
			return ipProto4(1)
		case ProtoICMP6:
			return ipProto6(58)
		}
	case *hostNode:
		return lowerHost(n)
	case *portNode:
		return lowerPort(n)
	}
	panic(fmt.Sprintf("capture: unknown filter node %T", n))
}

func lowerHost(n *hostNode) test {
	pf := n.prefix
	if pf.Addr().Is4() {
		if pf.Bits() == 0 {
			return isIPv4
		}
		mask := ^uint32(0) << (32 - pf.Bits())
		a4 := pf.Addr().As4()
		val := binary.BigEndian.Uint32(a4[:]) & mask
		m := mask
		if m == ^uint32(0) {
			m = 0
		}
		src := tLoad{size: 4, off: offIPv4Src, mask: m, val: val}
		dst := tLoad{size: 4, off: offIPv4Dst, mask: m, val: val}
		return tAnd{isIPv4, pickDir(n.dir, src, dst)}
	}
	if pf.Bits() == 0 {
		return isIPv6
	}
	a16 := pf.Addr().As16()
	words := func(base uint32) test {
		var t test
		for w := 0; w < 4; w++ {
			bits := pf.Bits() - 32*w
			if bits <= 0 {
				break
			}
			mask := ^uint32(0)
			if bits < 32 {
				mask <<= 32 - bits
			}
			val := binary.BigEndian.Uint32(a16[4*w:]) & mask
			m := mask
			if m == ^uint32(0) {
				m = 0
			}
			l := tLoad{size: 4, off: base + uint32(4*w), mask: m, val: val}
			if t == nil {
				t = l
			} else {
				t = tAnd{t, l}
			}
		}
		return t
	}
	return tAnd{isIPv6, pickDir(n.dir, words(offIPv6Src), words(offIPv6Dst))}
}

func pickDir(d Dir, src, dst test) test {
	switch d {
	case DirSrc:
		return src
	case DirDst:
		return dst
	}
	return tOr{src, dst}
}

func lowerPort(n *portNode) test {
	protos := func(off uint32) test {
		switch n.proto {
		case ProtoTCP:
			return tLoad{size: 1, off: off, val: 6}
		case ProtoUDP:
			return tLoad{size: 1, off: off, val: 17}
		}
		return tOr{tLoad{size: 1, off: off, val: 6}, tLoad{size: 1, off: off, val: 17}}
	}
	p := uint32(n.port)
	v4 := tAnd{tAnd{tAnd{isIPv4, protos(offIPv4Proto)}, notFragment4},
		pickDir(n.dir, tPort4{off: 0, val: p}, tPort4{off: 2, val: p})}
	v6 := tAnd{tAnd{isIPv6, protos(offIPv6Next)},
		pickDir(n.dir, tLoad{size: 2, off: offIPv6L4, val: p}, tLoad{size: 2, off: offIPv6L4 + 2, val: p})}
	return tOr{v4, v6}
}

// Code generation with symbolic labels; resolve turns them into skips.

type label int

type pinsn struct {
	ins   bpf.Instruction // plain instruction, or nil for a jump/label
	cond  bpf.JumpTest    // for a conditional jump
	val   uint32
	t, f  label
	isJmp bool
	def   label // >0: a label definition (no instruction)
	long  bool  // conditional jump emitted as jcond 0,1; ja t; ja f
}

type codegen struct {
	code   []pinsn
	labels int
}

func (g *codegen) newLabel() label { g.labels++; return label(g.labels) }

func (g *codegen) emit(ins bpf.Instruction) { g.code = append(g.code, pinsn{ins: ins}) }

func (g *codegen) place(l label) { g.code = append(g.code, pinsn{def: l}) }

func (g *codegen) jump(cond bpf.JumpTest, val uint32, t, f label) {
	g.code = append(g.code, pinsn{isJmp: true, cond: cond, val: val, t: t, f: f})
}

// gen emits code that continues at label t when x holds and at f otherwise.
func (g *codegen) gen(x test, t, f label) {
	switch x := x.(type) {
	case testTrue:
		g.jump(bpf.JumpEqual, 0, t, t) // A==0 or not, both go to t
	case tLoad:
		g.emit(bpf.LoadAbsolute{Off: x.off, Size: x.size})
		if x.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: x.mask})
		}
		g.jump(bpf.JumpEqual, x.val, t, f)
	case tBits:
		g.emit(bpf.LoadAbsolute{Off: x.off, Size: x.size})
		g.jump(bpf.JumpBitsSet, x.bits, t, f)
	case tPort4:
		g.emit(bpf.LoadMemShift{Off: offIPv4})
		g.emit(bpf.LoadIndirect{Off: offIPv4 + x.off, Size: 2})
		g.jump(bpf.JumpEqual, x.val, t, f)
	case tPktType:
		g.emit(bpf.LoadExtension{Num: bpf.ExtType})
		g.jump(bpf.JumpEqual, x.val, t, f)
	case tAnd:
		m := g.newLabel()
		g.gen(x.l, m, f)
		g.place(m)
		g.gen(x.r, t, f)
	case tOr:
		m := g.newLabel()
		g.gen(x.l, t, m)
		g.place(m)
		g.gen(x.r, t, f)
	case tNot:
		g.gen(x.x, f, t)
	default:
		panic(fmt.Sprintf("capture: unknown test %T", x))
	}
}

// resolve lays the code out. Conditional jumps whose targets are more than 255
// instructions away become "jcond 0,1; ja t; ja f" (relaxation: a jump only ever
// grows, so the loop ends after at most len(code) rounds).
func (g *codegen) resolve() ([]bpf.Instruction, error) {
	size := func(p pinsn) int {
		switch {
		case p.def != 0:
			return 0
		case p.isJmp && p.long:
			return 3
		}
		return 1
	}
	pos := make([]int, len(g.code))
	at := make(map[label]int, g.labels)
	layout := func() int {
		n := 0
		for i, p := range g.code {
			pos[i] = n
			if p.def != 0 {
				at[p.def] = n
			}
			n += size(p)
		}
		return n
	}
	var total int
	for round := 0; round <= len(g.code); round++ {
		total = layout()
		if total > maxInstructions {
			return nil, fmt.Errorf("%w: %d instructions (kernel limit %d)", ErrFilterTooComplex, total, maxInstructions)
		}
		changed := false
		for i := range g.code {
			p := &g.code[i]
			if !p.isJmp || p.long {
				continue
			}
			next := pos[i] + 1
			if at[p.t]-next > 255 || at[p.f]-next > 255 {
				p.long = true
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	out := make([]bpf.Instruction, 0, total)
	for i, p := range g.code {
		switch {
		case p.def != 0:
		case !p.isJmp:
			out = append(out, p.ins)
		case !p.long:
			next := pos[i] + 1
			out = append(out, bpf.JumpIf{Cond: p.cond, Val: p.val,
				SkipTrue: uint8(at[p.t] - next), SkipFalse: uint8(at[p.f] - next)})
		default:
			base := pos[i]
			out = append(out,
				bpf.JumpIf{Cond: p.cond, Val: p.val, SkipTrue: 0, SkipFalse: 1},
				bpf.Jump{Skip: uint32(at[p.t] - (base + 2))},
				bpf.Jump{Skip: uint32(at[p.f] - (base + 3))})
		}
	}
	if len(out) != total {
		return nil, fmt.Errorf("capture: internal error: laid out %d instructions, emitted %d", total, len(out))
	}
	return out, nil
}
