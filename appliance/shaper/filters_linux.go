package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Filter priorities on the box's root qdisc.
const (
	prioMark    = 1 // fw or bpf: skb->mark == Config.Mark
	prioOrigin4 = 2 // u32 on IPv4 origin endpoints
	prioOrigin6 = 3 // u32 on IPv6 origin endpoints
)

func endpointPrio(e Endpoint) uint16 {
	if e.Prefix.Addr().Is4() {
		return prioOrigin4
	}
	return prioOrigin6
}

// u32Keys matches e against a packet's network header (offsets from the IP
// header, as u32 sees them under protocol ip/ipv6). Values are in host order; the
// netlink library converts them. With a port, IPv4 packets must have a 20-byte
// header and no fragment offset (the port is at a fixed offset); IPv6 packets are
// assumed to have no extension headers before TCP/UDP.
func u32Keys(e Endpoint, matchSrc bool) []netlink.TcU32Key {
	var keys []netlink.TcU32Key
	a := e.Prefix.Addr()
	bits := e.Prefix.Bits()
	if a.Is4() {
		off := int32(16) // destination address
		if matchSrc {
			off = 12
		}
		if bits > 0 {
			mask := ^uint32(0) << (32 - bits)
			b := a.As4()
			keys = append(keys, netlink.TcU32Key{Mask: mask, Val: binary.BigEndian.Uint32(b[:]) & mask, Off: off})
		}
		if e.Port != 0 {
			keys = append(keys,
				netlink.TcU32Key{Mask: 0x0f000000, Val: 0x05000000, Off: 0}, // IHL 5
				netlink.TcU32Key{Mask: 0x00001fff, Val: 0, Off: 4},          // fragment offset 0
				portKey(e.Port, matchSrc, 20))
		}
	} else {
		off := int32(24)
		if matchSrc {
			off = 8
		}
		b := a.As16()
		for w := 0; w < 4 && bits-32*w > 0; w++ {
			mask := ^uint32(0)
			if n := bits - 32*w; n < 32 {
				mask <<= 32 - n
			}
			keys = append(keys, netlink.TcU32Key{Mask: mask, Val: binary.BigEndian.Uint32(b[4*w:]) & mask, Off: off + int32(4*w)})
		}
		if e.Port != 0 {
			keys = append(keys, portKey(e.Port, matchSrc, 40))
		}
	}
	if len(keys) == 0 { // ::/0 or 0.0.0.0/0 without a port: the whole family
		keys = append(keys, netlink.TcU32Key{})
	}
	return keys
}

// portKey matches the source port (upper half of the word at off) or the
// destination port (lower half).
func portKey(port uint16, src bool, off int32) netlink.TcU32Key {
	if src {
		return netlink.TcU32Key{Mask: 0xffff0000, Val: uint32(port) << 16, Off: off}
	}
	return netlink.TcU32Key{Mask: 0x0000ffff, Val: uint32(port), Off: off}
}

func u32Filter(ifindex int, parent uint32, e Endpoint, matchSrc bool) *netlink.U32 {
	proto := uint16(unix.ETH_P_IP)
	if e.Prefix.Addr().Is6() {
		proto = unix.ETH_P_IPV6
	}
	return &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: parent, Priority: endpointPrio(e), Protocol: proto},
		ClassId:     classHandle(MinorVideo),
		Sel:         &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Keys: u32Keys(e, matchSrc)},
	}
}

// bpfProgName names the mark classifier in `tc filter show` and bpftool.
const bpfProgName = "outpost_mark"

// markProgram is a BPF_PROG_TYPE_SCHED_CLS program for cls_bpf (not direct
// action): it returns -1, "use the filter's classid", when skb->mark equals mark,
// and 0, "no match", otherwise.
func markProgram(mark uint32) ([]byte, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("mark classifier: big-endian hosts are not supported")
	}
	type insn struct {
		code     uint8
		dst, src uint8
		off      int16
		imm      int32
	}
	prog := []insn{
		{0x61, 0, 1, 8, 0},           // r0 = *(u32 *)(r1 + 8): __sk_buff.mark
		{0x56, 0, 0, 2, int32(mark)}, // if w0 != mark goto +2 (BPF_JMP32|BPF_JNE|BPF_K)
		{0xb7, 0, 0, 0, -1},          // r0 = -1
		{0x95, 0, 0, 0, 0},           // exit
		{0xb7, 0, 0, 0, 0},           // r0 = 0
		{0x95, 0, 0, 0, 0},           // exit
	}
	out := make([]byte, 0, 8*len(prog))
	for _, i := range prog {
		out = append(out, i.code, i.dst|i.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(i.off))
		out = binary.LittleEndian.AppendUint32(out, uint32(i.imm))
	}
	return out, nil
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr.
type bpfProgLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// loadMarkProgram loads markProgram(mark) and returns its file descriptor.
func loadMarkProgram(mark uint32) (int, error) {
	code, err := markProgram(mark)
	if err != nil {
		return -1, err
	}
	license := []byte("Dual MIT/GPL\x00")
	attr := bpfProgLoadAttr{
		progType: uint32(netlink.BPF_PROG_TYPE_SCHED_CLS),
		insnCnt:  uint32(len(code) / 8),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], bpfProgName)
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	if errno != 0 {
		return -1, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", errno)
	}
	return int(fd), nil
}
