package capture

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// socketBuffer is the packet socket's receive buffer.
const socketBuffer = 4 << 20

// maxDrain bounds how many queued packets are discarded between binding the socket
// and attaching the filter.
const maxDrain = 100_000

// packetSource is a pcapgo.EthernetHandle (AF_PACKET, no libpcap) with a poll-based
// read timeout.
type packetSource struct {
	h  *pcapgo.EthernetHandle
	fd int
}

func openPacketSource(o Options, f *Filter) (source, error) {
	var src *packetSource
	err := inNetNS(o.NetNS, func() error {
		// Probe first: pcapgo flattens errno into strings, so ask the kernel directly
		// whether this process may open a packet socket.
		probe, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return fmt.Errorf("open packet socket: %w", ErrPermission)
			}
			return fmt.Errorf("open packet socket: %w", err)
		}
		unix.Close(probe)

		ifi, err := net.InterfaceByName(o.Interface)
		if err != nil {
			return fmt.Errorf("%w: %q", ErrNoInterface, o.Interface)
		}
		prog, err := f.Assemble(CompileOptions{
			Snaplen:      uint32(o.Snaplen),
			DropOutgoing: ifi.Flags&net.FlagLoopback != 0,
		})
		if err != nil {
			return fmt.Errorf("compile filter: %w", err)
		}
		h, err := pcapgo.NewEthernetHandle(o.Interface)
		if err != nil {
			return fmt.Errorf("open %s: %v", o.Interface, err)
		}
		s := &packetSource{h: h}
		if s.fd, err = handleFD(h); err != nil {
			h.Close()
			return err
		}
		if err := unix.SetNonblock(s.fd, true); err != nil {
			h.Close()
			return fmt.Errorf("set %s socket non-blocking: %w", o.Interface, err)
		}
		// A bigger queue absorbs bursts while the reader is descheduled (libpcap
		// uses 2 MiB); the forced variant needs CAP_NET_ADMIN, else the sysctl cap
		// applies.
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer); err != nil {
			_ = unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
		}
		if err := s.attach(prog, o.Snaplen); err != nil {
			h.Close()
			return fmt.Errorf("attach filter on %s: %w", o.Interface, err)
		}
		src = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// attach installs prog the way libpcap does: a reject-all program first, then the
// queue is drained of what arrived unfiltered since bind, then the real program.
func (s *packetSource) attach(prog []bpf.RawInstruction, snaplen int) error {
	if err := s.h.SetCaptureLength(snaplen); err != nil {
		return err
	}
	rejectAll, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return err
	}
	if err := s.h.SetBPF(rejectAll); err != nil {
		return fmt.Errorf("set reject-all filter: %w", err)
	}
	for range maxDrain {
		if _, _, err := s.read(0); err != nil {
			break
		}
	}
	if _, err := s.h.Stats(); err != nil { // reset the kernel's counters
		return fmt.Errorf("read socket stats: %w", err)
	}
	if err := s.h.SetBPF(prog); err != nil {
		return fmt.Errorf("set filter: %w", err)
	}
	return nil
}

// handleFD reads the socket descriptor pcapgo keeps unexported; a read timeout
// (poll) needs it. The pinned gopacket version has the field; TestHandleFD notices
// when an upgrade removes it.
func handleFD(h *pcapgo.EthernetHandle) (int, error) {
	v := reflect.ValueOf(h).Elem().FieldByName("fd")
	if !v.IsValid() || v.Kind() != reflect.Int {
		return -1, errors.New("capture: pcapgo.EthernetHandle has no int field fd (gopacket changed)")
	}
	return int(v.Int()), nil
}

// read tries the non-blocking socket first, so a burst costs one recvmsg per
// packet, and polls only when the queue is empty.
func (s *packetSource) read(timeout time.Duration) ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err == nil || !isEAGAIN(err) {
		return data, ci, err
	}
	if timeout <= 0 {
		return nil, gopacket.CaptureInfo{}, errIdle
	}
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, max(1, int(timeout/time.Millisecond)))
	if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
		return nil, gopacket.CaptureInfo{}, errIdle
	}
	if err != nil {
		return nil, gopacket.CaptureInfo{}, fmt.Errorf("poll: %w", err)
	}
	data, ci, err = s.h.ZeroCopyReadPacketData()
	if err != nil && isEAGAIN(err) {
		return nil, gopacket.CaptureInfo{}, errIdle
	}
	return data, ci, err
}

// isEAGAIN recognises an empty non-blocking socket. pcapgo formats the errno
// into its message (no wrapping), so the text is all there is to match.
func isEAGAIN(err error) bool {
	return errors.Is(err, unix.EAGAIN) || strings.HasSuffix(err.Error(), unix.EAGAIN.Error())
}

func (s *packetSource) drops() (uint64, error) {
	st, err := s.h.Stats()
	if err != nil {
		return 0, err
	}
	return uint64(st.Drops), nil
}

func (s *packetSource) close() error {
	s.h.Close()
	return nil
}
