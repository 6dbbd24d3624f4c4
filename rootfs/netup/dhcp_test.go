package netup

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/net/bpf"
)

var testMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// ack builds an ACK the way a server would send it.
func ack(t testing.TB, yiaddr string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(testMAC),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.ParseIP(yiaddr)),
		func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply },
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func opt(o dhcpv4.Option) dhcpv4.Modifier { return dhcpv4.WithOption(o) }

func ips(s ...string) []net.IP {
	var out []net.IP
	for _, a := range s {
		out = append(out, net.ParseIP(a))
	}
	return out
}

func addrList(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

var acquired = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func leaseCases(t testing.TB) []struct {
	name string
	ack  *dhcpv4.DHCPv4
	want lease
	err  string
} {
	mask := func(s string) dhcpv4.Modifier { return dhcpv4.WithNetmask(net.IPMask(net.ParseIP(s).To4())) }
	return []struct {
		name string
		ack  *dhcpv4.DHCPv4
		want lease
		err  string
	}{
		{"qemu user network (libslirp): no T1/T2, one day", ack(t, "10.0.2.15", mask("255.255.255.0"),
			opt(dhcpv4.OptServerIdentifier(net.ParseIP("10.0.2.2"))), opt(dhcpv4.OptRouter(ips("10.0.2.2")...)),
			opt(dhcpv4.OptDNS(ips("10.0.2.3")...)), opt(dhcpv4.OptIPAddressLeaseTime(24*time.Hour))),
			lease{Addr: netip.MustParsePrefix("10.0.2.15/24"), Router: netip.MustParseAddr("10.0.2.2"), DNS: addrList("10.0.2.3"),
				Server: netip.MustParseAddr("10.0.2.2"), Duration: 24 * time.Hour, T1: 12 * time.Hour, T2: 21 * time.Hour}, ""},
		{"office server: /23, two routers, NTP, domain, T1/T2", ack(t, "192.168.10.57", mask("255.255.254.0"),
			opt(dhcpv4.OptServerIdentifier(net.ParseIP("192.168.10.4"))), opt(dhcpv4.OptRouter(ips("192.168.10.1", "192.168.10.2")...)),
			opt(dhcpv4.OptDNS(ips("192.168.10.53", "192.168.11.53")...)), opt(dhcpv4.OptNTPServers(ips("192.168.10.5", "192.168.11.5")...)),
			opt(dhcpv4.OptDomainName("branch.corp.example")), opt(dhcpv4.OptIPAddressLeaseTime(time.Hour)),
			opt(dhcpv4.OptRenewTimeValue(20*time.Minute)), opt(dhcpv4.OptRebindingTimeValue(50*time.Minute))),
			lease{Addr: netip.MustParsePrefix("192.168.10.57/23"), Router: netip.MustParseAddr("192.168.10.1"),
				DNS: addrList("192.168.10.53", "192.168.11.53"), NTP: addrList("192.168.10.5", "192.168.11.5"), Domain: "branch.corp.example",
				Server: netip.MustParseAddr("192.168.10.4"), Duration: time.Hour, T1: 20 * time.Minute, T2: 50 * time.Minute}, ""},
		{"no mask, class A guess, no lease time, server from siaddr", ack(t, "10.9.8.7", dhcpv4.WithServerIP(net.ParseIP("10.0.0.1"))),
			lease{Addr: netip.MustParsePrefix("10.9.8.7/8"), Server: netip.MustParseAddr("10.0.0.1"), Duration: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second}, ""},
		{"no mask, class B guess", ack(t, "172.16.1.2"),
			lease{Addr: netip.MustParsePrefix("172.16.1.2/16"), Duration: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second}, ""},
		{"infinite lease", ack(t, "192.0.2.9", mask("255.255.255.0"), opt(dhcpv4.OptIPAddressLeaseTime(0xffffffff*time.Second))),
			lease{Addr: netip.MustParsePrefix("192.0.2.9/24"), Duration: infinite, T1: infinite / 2, T2: infinite - infinite/8}, ""},
		{"T1 past the lease and T2 before T1 fall back", ack(t, "192.0.2.9", mask("255.255.255.0"), opt(dhcpv4.OptIPAddressLeaseTime(100*time.Second)),
			opt(dhcpv4.OptRenewTimeValue(200*time.Second)), opt(dhcpv4.OptRebindingTimeValue(10*time.Second))),
			lease{Addr: netip.MustParsePrefix("192.0.2.9/24"), Duration: 100 * time.Second, T1: 50 * time.Second, T2: 87500 * time.Millisecond}, ""},
		{"non-contiguous mask", ack(t, "192.0.2.9", mask("255.0.255.0")), lease{}, "not contiguous"},
		{"no address", ack(t, "0.0.0.0"), lease{}, "no address"},
	}
}

func TestLeaseFrom(t *testing.T) {
	for _, tc := range leaseCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			// Through the wire format, as the client sees it.
			m, err := dhcpv4.FromBytes(tc.ack.ToBytes())
			if err != nil {
				t.Fatal(err)
			}
			got, err := leaseFrom(&nclient4.Lease{ACK: m, Offer: m, CreationTime: acquired})
			if tc.err != "" {
				if err == nil || !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("leaseFrom err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Acquired = acquired
			if d := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(lease{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); d != "" {
				t.Fatalf("lease (-want +got):\n%s", d)
			}
			if got.Expiry() != acquired.Add(tc.want.Duration) {
				t.Fatalf("Expiry %v", got.Expiry())
			}
		})
	}
}

// FuzzLeaseFrom: whatever a server sends, leaseFrom neither panics nor returns
// a lease with an invalid address or timers out of order.
func FuzzLeaseFrom(f *testing.F) {
	for _, tc := range leaseCases(f) {
		f.Add(tc.ack.ToBytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		l, err := leaseFrom(&nclient4.Lease{ACK: m, Offer: m, CreationTime: acquired})
		if err != nil {
			return
		}
		if !l.Addr.IsValid() || !l.Addr.Addr().Is4() || l.T1 <= 0 || l.T1 > l.T2 || l.T2 > l.Duration {
			t.Fatalf("lease %+v", l)
		}
	})
}

func TestDHCPModifiers(t *testing.T) {
	cases := []struct {
		name, host string
	}{{"with a hostname", "outpost-525400123456"}, {"without", ""}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := dhcpv4.NewDiscovery(testMAC, dhcpModifiers(tc.host, testMAC)...)
			if err != nil {
				t.Fatal(err)
			}
			m, err = dhcpv4.FromBytes(m.ToBytes())
			if err != nil {
				t.Fatal(err)
			}
			if m.HostName() != tc.host {
				t.Errorf("hostname option %q, want %q", m.HostName(), tc.host)
			}
			for _, o := range []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName,
				dhcpv4.OptionNTPServers, dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue} {
				if !m.IsOptionRequested(o) {
					t.Errorf("option %v not requested", o)
				}
			}
			if id := m.Options.Get(dhcpv4.OptionClientIdentifier); string(id) != string(append([]byte{1}, testMAC...)) {
				t.Errorf("client identifier %x", id)
			}
		})
	}
}

func TestDHCPProblem(t *testing.T) {
	nak, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeNak), dhcpv4.WithOption(dhcpv4.OptMessage("address in use")))
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"silence", errors.New("unable to receive an offer: got an error while the discovery request: " + nclient4.ErrNoResponse.Error()), "DHCP: unable to receive"},
		{"silence, wrapped", &wrapErr{nclient4.ErrNoResponse}, "DHCP: no answer from any server"},
		{"nak", &wrapErr{&nclient4.ErrNak{Nak: nak}}, "DHCP: the server refused (NAK): address in use"},
	}
	for _, tc := range cases {
		if got := dhcpProblem(tc.err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: dhcpProblem = %q, want %q", tc.name, got, tc.want)
		}
	}
}

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "exchange: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

// ipv4UDP is an IPv4 header (no options unless ihl > 5) and a UDP header.
func ipv4UDP(proto byte, ihl int, fragment uint16, dport uint16) []byte {
	b := make([]byte, ihl*4+8+4)
	b[0] = 0x40 | byte(ihl)
	b[9] = proto
	binary.BigEndian.PutUint16(b[6:], fragment)
	binary.BigEndian.PutUint16(b[ihl*4+2:], dport)
	return b
}

func TestClientPortFilter(t *testing.T) {
	vm, err := bpf.NewVM(mustDisassemble(t, clientPortFilter))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pkt  []byte
		keep bool
	}{
		{"DHCP reply", ipv4UDP(17, 5, 0, 68), true},
		{"DHCP reply, IP options", ipv4UDP(17, 7, 0, 68), true},
		{"DHCP reply, don't-fragment bit", ipv4UDP(17, 5, 0x4000, 68), true},
		{"DNS", ipv4UDP(17, 5, 0, 53), false},
		{"our own request to the server port", ipv4UDP(17, 5, 0, 67), false},
		{"TCP to port 68", ipv4UDP(6, 5, 0, 68), false},
		{"later fragment", ipv4UDP(17, 5, 0x0010, 68), false},
	}
	for _, tc := range cases {
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tc.name, n, tc.keep)
		}
	}
}

func mustDisassemble(t *testing.T, raw []bpf.RawInstruction) []bpf.Instruction {
	t.Helper()
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	return prog
}
