//go:build !linux

package capture

func openPacketSource(o Options, f *Filter) (source, error) { return nil, ErrUnsupported }
