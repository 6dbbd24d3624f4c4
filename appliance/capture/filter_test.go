package capture

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
)

var parseCases = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"blank", "  \t ", ""},
	{"issue example", "host 10.0.0.1 and (tcp port 443 or udp) and not port 22",
		"host 10.0.0.1 and (tcp port 443 or udp) and not port 22"},
	{"src host", "src host 192.168.1.2", "src host 192.168.1.2"},
	{"dst host v6", "dst host 2001:db8::1", "dst host 2001:db8::1"},
	{"ip6 host", "ip6 host ::1", "ip6 host ::1"},
	{"ip net", "ip net 10.1.2.3/8", "ip net 10.0.0.0/8"},
	{"net v6", "src net 2001:db8::/32", "src net 2001:db8::/32"},
	{"udp dst port", "udp dst port 53", "udp dst port 53"},
	{"port zero", "port 0", "port 0"},
	{"protocols", "icmp or icmp6 or arp or ip or ip6", "icmp or icmp6 or arp or ip or ip6"},
	{"symbols", "!tcp && (udp || arp)", "not tcp and (udp or arp)"},
	{"upper case", "TCP PORT 80 AND NOT HOST 1.2.3.4", "tcp port 80 and not host 1.2.3.4"},
	{"and binds tighter", "tcp or udp and port 53", "tcp or udp and port 53"},
	{"nested parens", "((((port 1))))", "port 1"},
	{"not not", "not not arp", "not not arp"},
	{"mapped v4", "host ::ffff:10.0.0.1", "host 10.0.0.1"},
	{"right nested or", "tcp or (udp or arp)", "tcp or (udp or arp)"},
	{"right nested and", "tcp and (udp and arp)", "tcp and (udp and arp)"},
	{"or inside and", "(tcp or udp) and port 1", "(tcp or udp) and port 1"},
	{"not of group", "not (tcp or udp)", "not (tcp or udp)"},
}

var syntaxErrorCases = []struct {
	name, in string
	pos      int
	msg      string
}{
	{"dangling and", "tcp and", 7, "end of filter"},
	{"unknown keyword", "tcp and foo", 8, `unknown keyword "foo"`},
	{"missing port number", "port", 4, "expected a value"},
	{"bad port", "port 70000", 5, "bad port"},
	{"port not number", "port https", 5, "bad port"},
	{"bad host", "host 10.0.0.300", 5, "bad address"},
	{"host name", "host example.com", 5, "bad address"},
	{"bad net", "net 10.0.0.0/33", 4, "bad network"},
	{"unclosed paren", "(tcp or udp", 11, `expected ")"`},
	{"stray paren", "tcp)", 3, "unexpected"},
	{"juxtaposition", "tcp udp", 4, "expected and, or"},
	{"single ampersand", "tcp & udp", 4, "unexpected '&'"},
	{"bad character", "tcp; rm", 3, "unexpected character"},
	{"src without kind", "src 10.0.0.1", 4, "expected host, net or port"},
	{"icmp port", "icmp port 1", 0, "cannot qualify port"},
	{"tcp host", "tcp host 1.2.3.4", 0, "cannot qualify host"},
	{"family mismatch", "ip6 host 1.2.3.4", 0, "address family"},
	{"zone", "host fe80::1%eth0", 5, "bad address"},
	{"too deep", strings.Repeat("(", maxDepth+1) + "tcp" + strings.Repeat(")", maxDepth+1), maxDepth, "nested deeper"},
	{"too long", "tcp or " + strings.Repeat("tcp or ", MaxFilterLen/7) + "udp", MaxFilterLen, "longer than"},
}

func TestParseFilter(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFilter(tc.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tc.in, err)
			}
			if got := f.String(); got != tc.want {
				t.Errorf("ParseFilter(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := ParseFilter(f.String())
			if err != nil || again.String() != f.String() {
				t.Errorf("round trip of %q: %q, %v", f.String(), again, err)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range syntaxErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFilter(tc.in)
			if !errors.Is(err, ErrFilterSyntax) {
				t.Fatalf("ParseFilter(%q) = %v, want ErrFilterSyntax", tc.in, err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError", err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("ParseFilter(%q): pos %d msg %q, want pos %d and %q", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
			}
			if want := fmt.Sprintf("column %d", tc.pos+1); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		})
	}
}

// Test frames, built with gopacket's serializers.

type frameSpec struct {
	name         string
	v6           bool
	proto        string // tcp, udp, icmp, arp
	src, dst     string
	sport, dport uint16
	ipOptions    bool // IPv4 header with options (IHL 6): ports move
}

func buildFrame(t testing.TB, s frameSpec) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ls []gopacket.SerializableLayer
	src, dst := net.ParseIP(s.src), net.ParseIP(s.dst)
	if s.proto == "arp" {
		eth.EthernetType = layers.EthernetTypeARP
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6,
			ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: eth.SrcMAC,
			SourceProtAddress: src.To4(), DstHwAddress: make([]byte, 6), DstProtAddress: dst.To4()}
		ls = []gopacket.SerializableLayer{eth, arp}
	} else {
		var netl gopacket.NetworkLayer
		var ipProto layers.IPProtocol
		switch s.proto {
		case "tcp":
			ipProto = layers.IPProtocolTCP
		case "udp":
			ipProto = layers.IPProtocolUDP
		case "icmp":
			ipProto = layers.IPProtocolICMPv4
			if s.v6 {
				ipProto = layers.IPProtocolICMPv6
			}
		}
		if s.v6 {
			eth.EthernetType = layers.EthernetTypeIPv6
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto, SrcIP: src, DstIP: dst}
			netl = ip
			ls = append(ls, eth, ip)
		} else {
			eth.EthernetType = layers.EthernetTypeIPv4
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto, SrcIP: src.To4(), DstIP: dst.To4()}
			if s.ipOptions {
				ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
			}
			netl = ip
			ls = append(ls, eth, ip)
		}
		switch s.proto {
		case "tcp":
			tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), SYN: true, Window: 1024}
			_ = tcp.SetNetworkLayerForChecksum(netl)
			ls = append(ls, tcp, gopacket.Payload([]byte("hello")))
		case "udp":
			udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
			_ = udp.SetNetworkLayerForChecksum(netl)
			ls = append(ls, udp, gopacket.Payload([]byte("hello")))
		case "icmp":
			if s.v6 {
				ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
				_ = ic.SetNetworkLayerForChecksum(netl)
				ls = append(ls, ic, gopacket.Payload(make([]byte, 8)))
			} else {
				ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)},
					gopacket.Payload(make([]byte, 8)))
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize %s: %v", s.name, err)
	}
	return buf.Bytes()
}

var frames = []frameSpec{
	{name: "v4 tcp 443", proto: "tcp", src: "10.0.0.1", dst: "203.0.113.5", sport: 40000, dport: 443},
	{name: "v4 tcp 22 reply", proto: "tcp", src: "203.0.113.9", dst: "10.0.0.1", sport: 22, dport: 40001},
	{name: "v4 udp 53", proto: "udp", src: "10.0.0.2", dst: "192.0.2.53", sport: 5353, dport: 53},
	{name: "v4 udp options", proto: "udp", src: "10.0.0.1", dst: "192.0.2.1", sport: 1000, dport: 9999, ipOptions: true},
	{name: "v4 icmp", proto: "icmp", src: "10.0.0.1", dst: "192.0.2.1"},
	{name: "v6 tcp 443", v6: true, proto: "tcp", src: "2001:db8::1", dst: "2001:db8:1::5", sport: 50000, dport: 443},
	{name: "v6 udp 22", v6: true, proto: "udp", src: "fd00::7", dst: "2001:db8::1", sport: 22, dport: 2222},
	{name: "v6 icmp", v6: true, proto: "icmp", src: "fe80::1", dst: "ff02::1"},
	{name: "arp", proto: "arp", src: "10.0.0.1", dst: "10.0.0.254"},
}

// refMatch evaluates a filter AST on a decoded packet: an oracle written from the
// language's definition, independent of the BPF code generator.
func refMatch(n node, p gopacket.Packet) bool {
	ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ip6, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	switch n := n.(type) {
	case *andNode:
		return refMatch(n.l, p) && refMatch(n.r, p)
	case *orNode:
		return refMatch(n.l, p) || refMatch(n.r, p)
	case *notNode:
		return !refMatch(n.x, p)
	case *protoNode:
		isProto := func(v4, v6 layers.IPProtocol) bool {
			return ip4 != nil && ip4.Protocol == v4 || ip6 != nil && ip6.NextHeader == v6
		}
		switch n.p {
		case ProtoIP:
			return ip4 != nil
		case ProtoIP6:
			return ip6 != nil
		case ProtoARP:
			return p.Layer(layers.LayerTypeARP) != nil
		case ProtoTCP:
			return isProto(layers.IPProtocolTCP, layers.IPProtocolTCP)
		case ProtoUDP:
			return isProto(layers.IPProtocolUDP, layers.IPProtocolUDP)
		case ProtoICMP:
			return ip4 != nil && ip4.Protocol == layers.IPProtocolICMPv4
		case ProtoICMP6:
			return ip6 != nil && ip6.NextHeader == layers.IPProtocolICMPv6
		}
	case *hostNode:
		var src, dst net.IP
		switch {
		case ip4 != nil && n.prefix.Addr().Is4():
			src, dst = ip4.SrcIP, ip4.DstIP
		case ip6 != nil && n.prefix.Addr().Is6():
			src, dst = ip6.SrcIP, ip6.DstIP
		default:
			return false
		}
		in := func(ip net.IP) bool {
			a, _ := netip.AddrFromSlice(ip)
			return n.prefix.Contains(a.Unmap())
		}
		switch n.dir {
		case DirSrc:
			return in(src)
		case DirDst:
			return in(dst)
		}
		return in(src) || in(dst)
	case *portNode:
		var sp, dp uint16
		switch {
		case tcp != nil && n.proto != ProtoUDP:
			sp, dp = uint16(tcp.SrcPort), uint16(tcp.DstPort)
		case udp != nil && n.proto != ProtoTCP:
			sp, dp = uint16(udp.SrcPort), uint16(udp.DstPort)
		default:
			return false
		}
		switch n.dir {
		case DirSrc:
			return sp == n.port
		case DirDst:
			return dp == n.port
		}
		return sp == n.port || dp == n.port
	}
	panic(fmt.Sprintf("refMatch: %T", n))
}

func runVM(t testing.TB, prog []bpf.Instruction, frame []byte) bool {
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("vm.Run: %v", err)
	}
	return n > 0
}

func TestCompileMatches(t *testing.T) {
	cases := []struct {
		filter string
		want   []string // names of the frames that match
	}{
		{"", []string{"v4 tcp 443", "v4 tcp 22 reply", "v4 udp 53", "v4 udp options", "v4 icmp", "v6 tcp 443", "v6 udp 22", "v6 icmp", "arp"}},
		{"tcp", []string{"v4 tcp 443", "v4 tcp 22 reply", "v6 tcp 443"}},
		{"udp port 9999", []string{"v4 udp options"}},
		{"tcp port 443", []string{"v4 tcp 443", "v6 tcp 443"}},
		{"port 22", []string{"v4 tcp 22 reply", "v6 udp 22"}},
		{"tcp port 22", []string{"v4 tcp 22 reply"}},
		{"src port 22", []string{"v4 tcp 22 reply", "v6 udp 22"}},
		{"dst port 22", nil},
		{"host 10.0.0.1", []string{"v4 tcp 443", "v4 tcp 22 reply", "v4 udp options", "v4 icmp"}},
		{"src host 10.0.0.1", []string{"v4 tcp 443", "v4 udp options", "v4 icmp"}},
		{"net 10.0.0.0/24 and not udp", []string{"v4 tcp 443", "v4 tcp 22 reply", "v4 icmp"}},
		{"net 2001:db8::/32", []string{"v6 tcp 443", "v6 udp 22"}},
		{"dst net 2001:db8:1::/48", []string{"v6 tcp 443"}},
		{"icmp or icmp6", []string{"v4 icmp", "v6 icmp"}},
		{"arp", []string{"arp"}},
		{"ip6 and not icmp6", []string{"v6 tcp 443", "v6 udp 22"}},
		{"host 10.0.0.1 and (tcp port 443 or udp) and not port 22", []string{"v4 tcp 443", "v4 udp options"}},
	}
	built := map[string][]byte{}
	for _, f := range frames {
		built[f.name] = buildFrame(t, f)
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := f.Compile(CompileOptions{Snaplen: 96})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, n := range tc.want {
				want[n] = true
			}
			for _, fr := range frames {
				if got := runVM(t, prog, built[fr.name]); got != want[fr.name] {
					t.Errorf("%q on %s: match=%v, want %v", tc.filter, fr.name, got, want[fr.name])
				}
				if f.root != nil {
					p := gopacket.NewPacket(built[fr.name], layers.LayerTypeEthernet, gopacket.Default)
					if ref := refMatch(f.root, p); ref != want[fr.name] {
						t.Errorf("oracle disagrees with the table for %q on %s", tc.filter, fr.name)
					}
				}
			}
		})
	}
}

func TestCompileSnaplenAndOutgoing(t *testing.T) {
	f, _ := ParseFilter("")
	prog, err := f.Compile(CompileOptions{Snaplen: 128, DropOutgoing: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := prog[len(prog)-2].(bpf.RetConstant); !ok || r.Val != 128 {
		t.Errorf("accept returns %v, want ret #128", prog[len(prog)-2])
	}
	if l, ok := prog[0].(bpf.LoadExtension); !ok || l.Num != bpf.ExtType {
		t.Errorf("loopback program starts with %v, want ld #type", prog[0])
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
}

// A long disjunction pushes jump targets beyond 255 instructions: the code
// generator must switch to long jumps and stay correct.
func TestCompileLongJumps(t *testing.T) {
	var parts []string
	for i := range 40 {
		parts = append(parts, fmt.Sprintf("host 2001:db8::%x", i+100))
	}
	expr := "(" + strings.Join(parts, " or ") + ") or tcp port 443"
	f, err := ParseFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := f.Compile(CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program has %d instructions; the test needs > 255", len(prog))
	}
	long := false
	for _, ins := range prog {
		_, long = ins.(bpf.Jump)
		if long {
			break
		}
	}
	if !long {
		t.Error("no long jump (ja) in the program")
	}
	for _, fr := range frames {
		want := fr.proto == "tcp" && (fr.sport == 443 || fr.dport == 443)
		if got := runVM(t, prog, buildFrame(t, fr)); got != want {
			t.Errorf("%s: match=%v, want %v", fr.name, got, want)
		}
	}
}

// The 1 KiB input limit keeps parsed filters just under the kernel's 4096
// instructions; an AST built directly (200 ports) must be refused, not truncated.
func TestCompileTooComplex(t *testing.T) {
	var root node = &portNode{port: 1}
	for i := range 200 {
		root = &orNode{root, &portNode{port: uint16(i + 2)}}
	}
	f := &Filter{root: root}
	if _, err := f.Compile(CompileOptions{}); !errors.Is(err, ErrFilterTooComplex) {
		t.Fatalf("Compile = %v, want ErrFilterTooComplex", err)
	}
	longest, err := ParseFilter(strings.TrimSuffix(strings.Repeat("port 1||", MaxFilterLen/8), "||"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := longest.Compile(CompileOptions{}); err != nil {
		t.Fatalf("the densest filter of MaxFilterLen bytes: %v", err)
	}
}

// FuzzParseFilter: parsing never panics; whatever parses prints back to itself,
// compiles to a program that assembles and passes the VM's validation (or is
// refused as too complex), and that program agrees with the oracle on every test
// frame.
func FuzzParseFilter(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, tc := range syntaxErrorCases {
		f.Add(tc.in)
	}
	f.Add("not (src net 10.0.0.0/8 or dst net fd00::/8) and udp src port 5353")
	var built []gopacket.Packet
	var raw [][]byte
	for _, fr := range frames {
		b := buildFrame(f, fr)
		raw = append(raw, b)
		built = append(built, gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default))
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("ParseFilter(%q): bad error %#v", s, err)
			}
			return
		}
		// The canonical form spells "&&" as " and ", so it may outgrow the limit.
		if canon := flt.String(); len(canon) <= MaxFilterLen {
			again, err := ParseFilter(canon)
			if err != nil || again.String() != canon {
				t.Fatalf("round trip %q -> %q: %v", s, canon, err)
			}
		}
		prog, err := flt.Compile(CompileOptions{})
		if errors.Is(err, ErrFilterTooComplex) {
			return
		}
		if err != nil {
			t.Fatalf("Compile(%q): %v", s, err)
		}
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatalf("Assemble(%q): %v", s, err)
		}
		for i, p := range built {
			want := flt.root == nil || refMatch(flt.root, p)
			if got := runVM(t, prog, raw[i]); got != want {
				t.Fatalf("%q on %s: BPF says %v, oracle %v", s, frames[i].name, got, want)
			}
		}
	})
}
