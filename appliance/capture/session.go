package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// source is an open packet socket with the filter attached.
type source interface {
	// read waits at most timeout for one packet and returns errIdle if none came.
	// The data is valid until the next call.
	read(timeout time.Duration) ([]byte, gopacket.CaptureInfo, error)
	// drops returns the packets the kernel dropped since the previous call.
	drops() (uint64, error)
	close() error
}

// errIdle is a source's "nothing arrived within the timeout".
var errIdle = errors.New("capture: idle")

// openSource opens a packet socket for o with f attached; tests replace it.
var openSource = openPacketSource

// pollInterval bounds how long a read waits, so cancellation and the deadline are
// noticed promptly and buffered output is flushed while the link is quiet.
const pollInterval = 200 * time.Millisecond

// Session is an open, filtered packet socket ready to capture. Open it first so
// that errors (permissions, interface, filter) surface before any output is written.
type Session struct {
	src    source
	opts   Options
	filter *Filter
}

// Open checks opts, parses and compiles the filter, opens a packet socket on the
// interface and attaches the program, so the kernel drops what the filter rejects.
func Open(opts Options) (*Session, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := ParseFilter(o.Filter)
	if err != nil {
		return nil, err
	}
	src, err := openSource(o, f)
	if err != nil {
		return nil, err
	}
	return &Session{src: src, opts: o, filter: f}, nil
}

// Options returns the session's options with defaults applied.
func (s *Session) Options() Options { return s.opts }

// Close releases the packet socket.
func (s *Session) Close() error { return s.src.close() }

// WriteTo captures until the first bound is reached (duration, packets, bytes) or
// ctx ends, writing a pcap file (Ethernet link type, microsecond timestamps) to w.
// It returns what was written and why it stopped; a canceled ctx is not an error.
func (s *Session) WriteTo(ctx context.Context, w io.Writer) (Result, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	pw := pcapgo.NewWriter(bw)
	res := Result{}
	if err := pw.WriteFileHeader(uint32(s.opts.Snaplen), layers.LinkTypeEthernet); err != nil {
		return res, fmt.Errorf("write pcap header: %w", err)
	}
	res.Bytes = pcapHeaderLen
	lastFlush := time.Now()
	stop, err := s.run(ctx, s.opts.Duration, func(data []byte, ci gopacket.CaptureInfo) (StopReason, error) {
		rec := int64(pcapRecordHeaderLen + len(data))
		if res.Bytes+rec > s.opts.MaxBytes {
			return StopBytes, nil
		}
		if err := pw.WritePacket(ci, data); err != nil {
			return "", fmt.Errorf("write packet: %w", err)
		}
		res.Packets++
		res.Bytes += rec
		res.WireBytes += int64(ci.Length)
		if time.Since(lastFlush) > time.Second {
			lastFlush = time.Now()
			if err := bw.Flush(); err != nil {
				return "", fmt.Errorf("write pcap: %w", err)
			}
		}
		if res.Packets >= s.opts.MaxPackets {
			return StopPackets, nil
		}
		return "", nil
	}, func() error { return bw.Flush() })
	res.Stop = stop.reason
	res.Duration = stop.elapsed
	if d, derr := s.src.drops(); derr == nil {
		res.KernelDrops = d
	}
	if err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("write pcap: %w", err)
	}
	return res, nil
}

type stopInfo struct {
	reason  StopReason
	elapsed time.Duration
}

// run reads packets for at most d, calling fn for each; fn returns a non-empty
// reason to stop. idle runs whenever a poll interval passes without a packet. The
// loop is bounded: every round either consumes a packet or waits until the
// deadline comes closer.
func (s *Session) run(ctx context.Context, d time.Duration, fn func([]byte, gopacket.CaptureInfo) (StopReason, error), idle func() error) (stopInfo, error) {
	start := time.Now()
	deadline := start.Add(d)
	for {
		if ctx.Err() != nil {
			return stopInfo{StopCanceled, time.Since(start)}, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return stopInfo{StopDuration, time.Since(start)}, nil
		}
		data, ci, err := s.src.read(min(left, pollInterval))
		if errors.Is(err, errIdle) {
			if idle != nil {
				if err := idle(); err != nil {
					return stopInfo{"", time.Since(start)}, fmt.Errorf("flush: %w", err)
				}
			}
			continue
		}
		if err != nil {
			return stopInfo{"", time.Since(start)}, fmt.Errorf("read packet on %s: %w", s.opts.Interface, err)
		}
		if ci.Length < ci.CaptureLength {
			ci.Length = ci.CaptureLength
		}
		reason, err := fn(data, ci)
		if err != nil {
			return stopInfo{"", time.Since(start)}, err
		}
		if reason != "" {
			return stopInfo{reason, time.Since(start)}, nil
		}
	}
}

// Capture opens a session, writes a bounded pcap to w and closes the session.
func Capture(ctx context.Context, w io.Writer, opts Options) (Result, error) {
	s, err := Open(opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	return s.WriteTo(ctx, w)
}
