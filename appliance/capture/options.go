package capture

import (
	"fmt"
	"time"
)

// Bounds of a capture. Zero in Options means the default; anything above the hard
// maximum is refused with ErrBounds.
const (
	DefaultDuration = 10 * time.Second
	MaxDuration     = 5 * time.Minute

	DefaultMaxPackets = 10_000
	MaxPackets        = 1_000_000

	DefaultMaxBytes = 16 << 20  // bytes of pcap output
	MaxBytes        = 256 << 20 // bytes of pcap output

	DefaultSnaplen = 65535
	MinSnaplen     = 64
	MaxSnaplen     = 262144
)

// Options describe one bounded capture.
type Options struct {
	// Interface to capture on (required).
	Interface string
	// Filter in the package's filter language; "" captures everything.
	Filter string
	// Duration bounds the capture; 0 means DefaultDuration, at most MaxDuration.
	Duration time.Duration
	// MaxPackets stops the capture after this many packets; 0 means
	// DefaultMaxPackets, at most MaxPackets.
	MaxPackets int
	// MaxBytes bounds the pcap output (file header included): a packet that would
	// cross it is not written and ends the capture. 0 means DefaultMaxBytes, at most
	// MaxBytes.
	MaxBytes int64
	// Snaplen is the number of bytes kept of each packet; 0 means DefaultSnaplen,
	// between MinSnaplen and MaxSnaplen.
	Snaplen int
	// NetNS is the path of a network namespace file (/run/netns/NAME) the interface
	// lives in; "" means the process's own namespace.
	NetNS string
}

// withDefaults fills zero fields and checks every bound.
func (o Options) withDefaults() (Options, error) {
	if o.Interface == "" {
		return o, fmt.Errorf("%w: no interface named", ErrNoInterface)
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.MaxPackets == 0 {
		o.MaxPackets = DefaultMaxPackets
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Snaplen == 0 {
		o.Snaplen = DefaultSnaplen
	}
	switch {
	case o.Duration < 0 || o.Duration > MaxDuration:
		return o, fmt.Errorf("%w: duration %v (max %v)", ErrBounds, o.Duration, MaxDuration)
	case o.MaxPackets < 0 || o.MaxPackets > MaxPackets:
		return o, fmt.Errorf("%w: max packets %d (max %d)", ErrBounds, o.MaxPackets, MaxPackets)
	case o.MaxBytes < pcapHeaderLen || o.MaxBytes > MaxBytes:
		return o, fmt.Errorf("%w: max bytes %d (between %d and %d)", ErrBounds, o.MaxBytes, pcapHeaderLen, MaxBytes)
	case o.Snaplen < MinSnaplen || o.Snaplen > MaxSnaplen:
		return o, fmt.Errorf("%w: snaplen %d (between %d and %d)", ErrBounds, o.Snaplen, MinSnaplen, MaxSnaplen)
	}
	return o, nil
}

// StopReason says which bound ended a capture.
type StopReason string

// Reasons a capture ends.
const (
	StopDuration StopReason = "duration"
	StopPackets  StopReason = "packets"
	StopBytes    StopReason = "bytes"
	StopCanceled StopReason = "canceled"
)

// Result summarises a finished capture.
type Result struct {
	Packets     int           `json:"packets"`
	Bytes       int64         `json:"bytes"`      // pcap bytes written, header included
	WireBytes   int64         `json:"wire_bytes"` // original length of the packets written
	Duration    time.Duration `json:"duration_ns"`
	Stop        StopReason    `json:"stop"`
	KernelDrops uint64        `json:"kernel_drops"` // packets the socket buffer dropped
}

const (
	pcapHeaderLen       = 24
	pcapRecordHeaderLen = 16
)
