package shaper

import "errors"

var (
	// ErrInvalidConfig means a Config field is missing or out of range.
	ErrInvalidConfig = errors.New("invalid shaper config")
	// ErrPermission means the kernel refused a change: the process needs root
	// (CAP_NET_ADMIN).
	ErrPermission = errors.New("shaping needs root (CAP_NET_ADMIN)")
	// ErrNoInterface means the WAN interface does not exist (in the namespace).
	ErrNoInterface = errors.New("no such interface")
	// ErrUnsupportedKind means the kernel lacks a qdisc, classifier or device kind
	// the tree needs (htb, fq_codel, ingress, u32, mirred, ifb); the error names it.
	ErrUnsupportedKind = errors.New("kernel lacks a traffic-control kind")
	// ErrForeignQdisc means the interface carries a root or ingress qdisc the box did
	// not install; Config.ReplaceForeign allows replacing it.
	ErrForeignQdisc = errors.New("interface has a qdisc outpost did not install")
	// ErrForeignDevice means a device with the IFB's name exists and is not the
	// box's (it is not an ifb, or lacks the box's alias).
	ErrForeignDevice = errors.New("device name taken by a device outpost did not create")
	// ErrNotInstalled means Stats found no tree of the box's on the interface.
	ErrNotInstalled = errors.New("shaper tree not installed")
	// ErrUnsupported means kernel shaping is not implemented on this OS (Linux only).
	ErrUnsupported = errors.New("kernel shaping is only supported on Linux")
)
