package shaper

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	rootHandle    = netlink.MakeHandle(RootMajor, 0)
	ingressHandle = netlink.MakeHandle(0xffff, 0)
)

func classHandle(minor uint16) uint32 { return netlink.MakeHandle(RootMajor, minor) }

// nlHandle opens a netlink handle in the configured namespace.
func (c Config) nlHandle() (*netlink.Handle, error) {
	if c.NetNS == "" {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(c.NetNS)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", c.NetNS, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink in %s: %w", c.NetNS, err)
	}
	return h, nil
}

// kernelErr wraps a netlink error with the operation and, where the errno says
// so, a sentinel: EPERM -> ErrPermission; ENOENT/EOPNOTSUPP while creating an
// object of a kind -> ErrUnsupportedKind.
func kernelErr(op, kind string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: %w (%v)", op, ErrPermission, err)
	case kind != "" && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP)):
		return fmt.Errorf("%s: %w %q (%v)", op, ErrUnsupportedKind, kind, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func linkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%w: %q", ErrNoInterface, name)
		}
		return nil, kernelErr("look up "+name, "", err)
	}
	return l, nil
}

// treeSpec is one direction's tree.
type treeSpec struct {
	dir       string // "egress" or "ingress"
	linkBits  uint64
	videoBits uint64
	mark      uint32 // 0: no mark filter
	endpoints []Endpoint
	matchSrc  bool // match endpoints as the packets' source (ingress)
}

func (s *Shaper) specs() (egress, ingress treeSpec) {
	c := s.cfg
	egress = treeSpec{dir: "egress", linkBits: mbpsToBits(c.LinkMbps), videoBits: mbpsToBits(c.VideoMbps),
		mark: c.Mark, endpoints: c.Origins}
	ingress = treeSpec{dir: "ingress", linkBits: mbpsToBits(c.IngressLinkMbps), videoBits: mbpsToBits(c.VideoMbps),
		endpoints: c.Origins, matchSrc: true}
	return egress, ingress
}

// Apply makes the kernel match the configuration: it installs the tree, or updates
// an installed one in place (classes are changed, not recreated), so applying
// twice leaves one tree. It refuses to touch a foreign root or ingress qdisc
// unless ReplaceForeign is set. On failure, objects this call created are removed.
func (s *Shaper) Apply() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.apply()
	s.lastErr = err
	return err
}

func (s *Shaper) apply() error {
	h, err := s.cfg.nlHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	wan, err := linkByName(h, s.cfg.Interface)
	if err != nil {
		return err
	}
	egress, ingress := s.specs()
	createdRoot, err := s.applyTree(h, wan, egress)
	if err != nil {
		return err
	}
	s.installed = true
	if !s.cfg.Ingress {
		return s.removeIngress(h, wan)
	}
	ifb, createdIFB, err := s.ensureIFB(h)
	if err == nil {
		_, err = s.applyTree(h, ifb, ingress)
	}
	if err == nil {
		err = s.ensureRedirect(h, wan, ifb)
	}
	if err != nil {
		// Remove what this call created, the egress root included, so a refused
		// or broken ingress set-up leaves the interfaces as they were.
		if createdIFB {
			_ = h.LinkDel(ifb)
			delete(s.filterSig, ifb.Attrs().Name)
		}
		if createdRoot {
			_ = h.QdiscDel(ourRoot(wan.Attrs().Index))
			delete(s.filterSig, wan.Attrs().Name)
			s.installed = false
		}
		return err
	}
	return nil
}

func ourRoot(ifindex int) *netlink.Htb {
	return &netlink.Htb{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: rootHandle, Parent: netlink.HANDLE_ROOT}}
}

// Update switches to cfg: objects the new configuration no longer names (another
// interface or IFB) are removed first, then the tree is applied in place.
func (s *Shaper) Update(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg
	if old.Interface != cfg.Interface || old.IFB != cfg.IFB || old.NetNS != cfg.NetNS {
		if err := s.stop(); err != nil {
			s.lastErr = err
			return fmt.Errorf("remove the tree of the old configuration: %w", err)
		}
		s.filterSig = map[string]string{}
	}
	s.cfg = cfg
	s.last = Stats{}
	err := s.apply()
	s.lastErr = err
	return err
}

func isOurRoot(q netlink.Qdisc) bool {
	htb, ok := q.(*netlink.Htb)
	return ok && q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == rootHandle && htb.Defcls == MinorOther
}

func rootQdisc(qs []netlink.Qdisc) netlink.Qdisc {
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT {
			return q
		}
	}
	return nil
}

func describe(q netlink.Qdisc) string {
	return fmt.Sprintf("%s %s", q.Type(), netlink.HandleStr(q.Attrs().Handle))
}

func quantum(rateBits uint64) uint32 {
	return uint32(min(max(rateBits/8/10, 1600), 200_000))
}

// Burst sizing. tc's default (rate/HZ + MTU) is about one packet on hrtimer
// kernels (HZ 1e9): any delay in running the qdisc's watchdog then loses tokens
// for good and the class falls short of its rate, which is what a busy box sees.
// A burst of burstTime at the rate (at least minBurst) lets the class catch up.
var (
	burstTime = 20 * time.Millisecond
	minBurst  = uint64(3028) // two full-size Ethernet frames
)

func burst(rateBits uint64) uint32 {
	b := uint64(float64(rateBits/8) * burstTime.Seconds())
	return uint32(min(max(b, minBurst), 1<<24))
}

// applyTree installs or updates the HTB tree on link and reports whether it
// created the root (a failure removes a root it created).
func (s *Shaper) applyTree(h *netlink.Handle, link netlink.Link, sp treeSpec) (created bool, err error) {
	dev := link.Attrs().Name
	idx := link.Attrs().Index
	qs, err := h.QdiscList(link)
	if err != nil {
		return false, kernelErr("list qdiscs of "+dev, "", err)
	}
	if root := rootQdisc(qs); root == nil || !isOurRoot(root) {
		// Handle 0 is the kernel's default qdisc; anything else was configured.
		if root != nil && root.Attrs().Handle != 0 && !s.cfg.ReplaceForeign {
			return false, fmt.Errorf("%s: root qdisc %s: %w (set ReplaceForeign to replace it)", dev, describe(root), ErrForeignQdisc)
		}
		htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: rootHandle, Parent: netlink.HANDLE_ROOT})
		htb.Defcls = MinorOther
		if err := h.QdiscReplace(htb); err != nil {
			return false, kernelErr("add htb root on "+dev, "htb", err)
		}
		created = true
		delete(s.filterSig, dev)
		s.cfg.Logger.Info("shaper: installed htb root", "device", dev, "direction", sp.dir)
	}
	if err := s.applyClasses(h, link, sp); err != nil {
		if created {
			_ = h.QdiscDel(ourRoot(idx))
		}
		return false, err
	}
	return created, nil
}

func (s *Shaper) applyClasses(h *netlink.Handle, link netlink.Link, sp treeSpec) error {
	dev := link.Attrs().Name
	idx := link.Attrs().Index
	type want struct {
		minor, parent uint16
		rate, ceil    uint64
		prio          uint32
	}
	wants := []want{
		{MinorLink, 0, sp.linkBits, sp.linkBits, 0},
		{MinorVideo, MinorLink, sp.videoBits, sp.videoBits, 0},
		{MinorOther, MinorLink, sp.linkBits - sp.videoBits, sp.linkBits, 1},
	}
	existing, err := h.ClassList(link, 0)
	if err != nil {
		return kernelErr("list classes of "+dev, "", err)
	}
	have := map[uint32]bool{}
	for _, c := range existing {
		have[c.Attrs().Handle] = true
	}
	for _, w := range wants {
		parent := classHandle(w.parent)
		if w.parent == 0 {
			parent = rootHandle
		}
		cl := netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Handle: classHandle(w.minor), Parent: parent},
			netlink.HtbClassAttrs{Rate: w.rate, Ceil: w.ceil, Quantum: quantum(w.rate), Prio: w.prio,
				Buffer: burst(w.rate), Cbuffer: burst(w.ceil)})
		op, do := "add", h.ClassAdd
		if have[cl.Handle] {
			op, do = "change", h.ClassChange
		}
		if err := do(cl); err != nil {
			return kernelErr(fmt.Sprintf("%s class %s on %s", op, netlink.HandleStr(cl.Handle), dev), "htb", err)
		}
	}
	if err := s.ensureLeaf(h, link, MinorVideo, leafVideo); err != nil {
		return err
	}
	if err := s.ensureLeaf(h, link, MinorOther, leafOther); err != nil {
		return err
	}
	return s.ensureFilters(h, link, sp)
}

func leafQdisc(kind string, attrs netlink.QdiscAttrs) netlink.Qdisc {
	if kind == LeafFQCodel {
		return netlink.NewFqCodel(attrs)
	}
	return &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: kind}
}

// ensureLeaf puts the configured leaf qdisc under class minor. LeafAuto tries
// fq_codel and falls back to pfifo when the kernel lacks it.
func (s *Shaper) ensureLeaf(h *netlink.Handle, link netlink.Link, minor, major uint16) error {
	dev := link.Attrs().Name
	parent := classHandle(minor)
	handle := netlink.MakeHandle(major, 0)
	kinds := []string{s.cfg.Leaf}
	switch {
	case s.cfg.Leaf != LeafAuto:
	case s.leaf == LeafPFIFO: // this kernel already refused fq_codel
		kinds = []string{LeafPFIFO}
	default:
		kinds = []string{LeafFQCodel, LeafPFIFO}
	}
	qs, err := h.QdiscList(link)
	if err != nil {
		return kernelErr("list qdiscs of "+dev, "", err)
	}
	for _, q := range qs {
		if q.Attrs().Parent != parent || q.Attrs().Handle != handle {
			continue
		}
		if slices.Contains(kinds, q.Type()) {
			s.leaf = q.Type()
			return nil
		}
		// The kernel refuses to replace a qdisc by one of another kind under the
		// same handle: remove ours first (HTB falls back to its default leaf).
		if err := h.QdiscDel(q); err != nil {
			return kernelErr(fmt.Sprintf("delete %s leaf under %s on %s", q.Type(), netlink.HandleStr(parent), dev), "", err)
		}
	}
	var lastErr error
	for _, kind := range kinds {
		q := leafQdisc(kind, netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: handle, Parent: parent})
		err := h.QdiscReplace(q)
		if err == nil {
			if kind != kinds[0] {
				s.cfg.Logger.Warn("shaper: kernel lacks fq_codel; using pfifo leaves", "device", dev, "err", lastErr)
			}
			s.leaf = kind
			return nil
		}
		lastErr = kernelErr(fmt.Sprintf("add %s leaf under %s on %s", kind, netlink.HandleStr(parent), dev), kind, err)
		if !errors.Is(lastErr, ErrUnsupportedKind) {
			return lastErr
		}
	}
	return lastErr
}

// filterSignature describes the filters a spec needs, to skip rewriting them.
func filterSignature(sp treeSpec, classifier string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s mark=%#x/%s src=%v", sp.dir, sp.mark, classifier, sp.matchSrc)
	for _, e := range sp.endpoints {
		b.WriteString(" " + e.String())
	}
	return b.String()
}

// ensureFilters classifies the video traffic: a mark filter (fw, or cls_bpf on
// kernels without cls_fw) and u32 matches on the origins. Filters are rewritten
// only when the spec changed or the kernel lost some.
func (s *Shaper) ensureFilters(h *netlink.Handle, link netlink.Link, sp treeSpec) error {
	dev := link.Attrs().Name
	existing, err := h.FilterList(link, rootHandle)
	if err != nil {
		return kernelErr("list filters of "+dev, "", err)
	}
	wantPrios := map[uint16]bool{}
	if sp.mark != 0 {
		wantPrios[prioMark] = true
	}
	for _, e := range sp.endpoints {
		wantPrios[endpointPrio(e)] = true
	}
	havePrios := map[uint16]string{}
	for _, f := range existing {
		havePrios[f.Attrs().Priority] = f.Type()
	}
	samePrios := len(havePrios) == len(wantPrios)
	for p := range wantPrios {
		samePrios = samePrios && havePrios[p] != ""
	}
	if sig, ok := s.filterSig[dev]; ok && samePrios && sig == filterSignature(sp, s.classifier) {
		return nil
	}
	for prio, kind := range havePrios {
		del := &netlink.GenericFilter{FilterAttrs: netlink.FilterAttrs{LinkIndex: link.Attrs().Index, Parent: rootHandle, Priority: prio}, FilterType: kind}
		if err := h.FilterDel(del); err != nil && !errors.Is(err, unix.ENOENT) {
			return kernelErr(fmt.Sprintf("delete %s filters (prio %d) on %s", kind, prio, dev), "", err)
		}
	}
	if sp.mark != 0 {
		if err := s.addMarkFilter(h, link, sp.mark); err != nil {
			return err
		}
	}
	for _, e := range sp.endpoints {
		f := u32Filter(link.Attrs().Index, rootHandle, e, sp.matchSrc)
		if err := h.FilterAdd(f); err != nil {
			return kernelErr(fmt.Sprintf("add u32 filter for %s on %s", e, dev), "u32", err)
		}
	}
	s.filterSig[dev] = filterSignature(sp, s.classifier)
	return nil
}

// addMarkFilter sends packets with the mark to the video class: an fw filter, or a
// cls_bpf program reading skb->mark where the kernel has no cls_fw.
func (s *Shaper) addMarkFilter(h *netlink.Handle, link netlink.Link, mark uint32) error {
	dev := link.Attrs().Name
	attrs := netlink.FilterAttrs{LinkIndex: link.Attrs().Index, Parent: rootHandle, Priority: prioMark, Protocol: unix.ETH_P_ALL}
	if s.classifier != "bpf" {
		err := h.FilterAdd(&netlink.FwFilter{FilterAttrs: withHandle(attrs, mark), ClassId: classHandle(MinorVideo)})
		if err == nil {
			s.classifier = "fw"
			return nil
		}
		if err := kernelErr("add fw filter on "+dev, "fw", err); !errors.Is(err, ErrUnsupportedKind) {
			return err
		}
	}
	fd, err := loadMarkProgram(mark)
	if err != nil {
		return kernelErr("load the mark classifier (bpf)", "bpf", err)
	}
	defer unix.Close(fd) // the filter holds its own reference
	f := &netlink.BpfFilter{FilterAttrs: attrs, ClassId: classHandle(MinorVideo), Fd: fd, Name: bpfProgName}
	if err := h.FilterAdd(f); err != nil {
		return kernelErr("add bpf mark filter on "+dev+" (kernel has no cls_fw)", "bpf", err)
	}
	if s.classifier != "bpf" {
		s.cfg.Logger.Info("shaper: kernel lacks cls_fw; classifying marks with cls_bpf", "device", dev)
	}
	s.classifier = "bpf"
	return nil
}

func withHandle(a netlink.FilterAttrs, handle uint32) netlink.FilterAttrs {
	a.Handle = handle
	return a
}

// ensureIFB returns the box's IFB device, creating it (with the box's alias) if
// missing. A device of that name that is not an ifb with the alias is foreign.
func (s *Shaper) ensureIFB(h *netlink.Handle) (netlink.Link, bool, error) {
	name := s.cfg.IFB
	alias := ifbAlias + " " + s.cfg.Interface
	l, err := h.LinkByName(name)
	created := false
	if err == nil {
		if l.Type() != "ifb" || !strings.HasPrefix(l.Attrs().Alias, ifbAlias) {
			return nil, false, fmt.Errorf("%s (%s, alias %q): %w", name, l.Type(), l.Attrs().Alias, ErrForeignDevice)
		}
	} else {
		la := netlink.NewLinkAttrs()
		la.Name, la.TxQLen = name, 1000
		if err := h.LinkAdd(&netlink.Ifb{LinkAttrs: la}); err != nil {
			return nil, false, kernelErr("add ifb device "+name, "ifb", err)
		}
		created = true
		if l, err = h.LinkByName(name); err != nil {
			return nil, false, kernelErr("look up "+name, "", err)
		}
		// The kernel ignores IFLA_IFALIAS when creating a link: set it now.
		if err := h.LinkSetAlias(l, alias); err != nil {
			_ = h.LinkDel(l)
			return nil, false, kernelErr("set alias of "+name, "", err)
		}
		s.cfg.Logger.Info("shaper: created ifb device", "device", name)
	}
	if err := h.LinkSetUp(l); err != nil {
		if created {
			_ = h.LinkDel(l)
		}
		return nil, false, kernelErr("set "+name+" up", "", err)
	}
	return l, created, nil
}

func ingressQdisc(qs []netlink.Qdisc) netlink.Qdisc {
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_INGRESS {
			return q
		}
	}
	return nil
}

// redirectFilters splits the WAN ingress filters into the box's (u32 at
// ingressPrio) and the rest.
func redirectFilters(fs []netlink.Filter) (ours, foreign []netlink.Filter) {
	for _, f := range fs {
		if f.Attrs().Priority == ingressPrio && f.Type() == "u32" {
			ours = append(ours, f)
		} else {
			foreign = append(foreign, f)
		}
	}
	return ours, foreign
}

func redirectsTo(fs []netlink.Filter, ifindex int) bool {
	for _, f := range fs {
		if u, ok := f.(*netlink.U32); ok {
			for _, a := range u.Actions {
				if m, ok := a.(*netlink.MirredAction); ok && m.Ifindex == ifindex && m.MirredAction == netlink.TCA_EGRESS_REDIR {
					return true
				}
			}
		}
	}
	return false
}

// ensureRedirect keeps an ingress qdisc on the WAN interface with one u32 filter
// that redirects every received packet to the IFB. An ingress qdisc is the box's
// when it holds only the box's filter; one with other filters (or none) is
// foreign.
func (s *Shaper) ensureRedirect(h *netlink.Handle, wan, ifb netlink.Link) error {
	dev := wan.Attrs().Name
	qs, err := h.QdiscList(wan)
	if err != nil {
		return kernelErr("list qdiscs of "+dev, "", err)
	}
	created := false
	ing := ingressQdisc(qs)
	if ing != nil {
		fs, err := h.FilterList(wan, ingressHandle)
		if err != nil {
			return kernelErr("list ingress filters of "+dev, "", err)
		}
		ours, foreign := redirectFilters(fs)
		if ing.Type() != "ingress" || len(foreign) > 0 || len(ours) == 0 {
			if !s.cfg.ReplaceForeign {
				return fmt.Errorf("%s: ingress qdisc %s with %d filters: %w (set ReplaceForeign to replace it)",
					dev, describe(ing), len(foreign), ErrForeignQdisc)
			}
			if err := h.QdiscDel(ing); err != nil {
				return kernelErr("delete foreign ingress qdisc on "+dev, "", err)
			}
			ing = nil
		} else if redirectsTo(ours, ifb.Attrs().Index) {
			return nil
		} else {
			del := &netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: wan.Attrs().Index, Parent: ingressHandle, Priority: ingressPrio}}
			if err := h.FilterDel(del); err != nil {
				return kernelErr("delete stale redirect on "+dev, "", err)
			}
		}
	}
	if ing == nil {
		q := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: wan.Attrs().Index, Handle: ingressHandle, Parent: netlink.HANDLE_INGRESS}}
		if err := h.QdiscAdd(q); err != nil {
			return kernelErr("add ingress qdisc on "+dev, "ingress", err)
		}
		created = true
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: wan.Attrs().Index, Parent: ingressHandle, Priority: ingressPrio, Protocol: unix.ETH_P_ALL},
		Actions: []netlink.Action{&netlink.MirredAction{ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_STOLEN},
			MirredAction: netlink.TCA_EGRESS_REDIR, Ifindex: ifb.Attrs().Index}},
	}
	if err := h.FilterAdd(f); err != nil {
		if created {
			_ = h.QdiscDel(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: wan.Attrs().Index, Handle: ingressHandle, Parent: netlink.HANDLE_INGRESS}})
		}
		return kernelErr("add redirect to "+ifb.Attrs().Name+" on "+dev, "mirred", err)
	}
	return nil
}

// removeIngress deletes the box's redirect filter (and the ingress qdisc when
// nothing else is on it) and the box's IFB device; foreign objects stay.
func (s *Shaper) removeIngress(h *netlink.Handle, wan netlink.Link) error {
	if wan != nil {
		qs, err := h.QdiscList(wan)
		if err != nil {
			return kernelErr("list qdiscs of "+wan.Attrs().Name, "", err)
		}
		if ing := ingressQdisc(qs); ing != nil && ing.Type() == "ingress" {
			fs, err := h.FilterList(wan, ingressHandle)
			if err != nil {
				return kernelErr("list ingress filters of "+wan.Attrs().Name, "", err)
			}
			ours, foreign := redirectFilters(fs)
			if len(ours) > 0 {
				del := &netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: wan.Attrs().Index, Parent: ingressHandle, Priority: ingressPrio}}
				if err := h.FilterDel(del); err != nil {
					return kernelErr("delete redirect on "+wan.Attrs().Name, "", err)
				}
				if len(foreign) == 0 {
					if err := h.QdiscDel(ing); err != nil {
						return kernelErr("delete ingress qdisc on "+wan.Attrs().Name, "", err)
					}
				}
			}
		}
	}
	if l, err := h.LinkByName(s.cfg.IFB); err == nil && l.Type() == "ifb" && strings.HasPrefix(l.Attrs().Alias, ifbAlias) {
		if err := h.LinkDel(l); err != nil {
			return kernelErr("delete "+s.cfg.IFB, "", err)
		}
		delete(s.filterSig, s.cfg.IFB)
	}
	return nil
}

// Stop removes exactly what the box installed: its root HTB (identified by handle
// 4f50: and default class 4f50:20), its redirect filter and the ingress qdisc
// holding only that filter, and its IFB (an ifb with the box's alias). The kernel
// then restores the interface's default root qdisc. Missing objects are not an
// error.
func (s *Shaper) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.stop()
	s.lastErr = err
	return err
}

func (s *Shaper) stop() error {
	h, err := s.cfg.nlHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	wan, err := linkByName(h, s.cfg.Interface)
	if errors.Is(err, ErrNoInterface) {
		wan = nil
	} else if err != nil {
		return err
	}
	if wan != nil {
		qs, err := h.QdiscList(wan)
		if err != nil {
			return kernelErr("list qdiscs of "+s.cfg.Interface, "", err)
		}
		if root := rootQdisc(qs); root != nil && isOurRoot(root) {
			if err := h.QdiscDel(root); err != nil {
				return kernelErr("delete htb root on "+s.cfg.Interface, "", err)
			}
			s.cfg.Logger.Info("shaper: removed htb root", "device", s.cfg.Interface)
		}
	}
	if err := s.removeIngress(h, wan); err != nil {
		return err
	}
	s.installed = false
	s.filterSig = map[string]string{}
	return nil
}

// Stats reads every class of the box's trees (egress, and ingress on the IFB).
func (s *Shaper) Stats() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, err := s.cfg.nlHandle()
	if err != nil {
		return Stats{}, err
	}
	defer h.Close()
	st := Stats{At: time.Now()}
	devs := []struct{ name, dir string }{{s.cfg.Interface, "egress"}}
	if s.cfg.Ingress {
		devs = append(devs, struct{ name, dir string }{s.cfg.IFB, "ingress"})
	}
	for _, d := range devs {
		l, err := linkByName(h, d.name)
		if err != nil {
			return Stats{}, err
		}
		cs, err := readClasses(h, l, d.dir)
		if err != nil {
			return Stats{}, err
		}
		st.Classes = append(st.Classes, cs...)
	}
	return s.rateFrom(st), nil
}

func readClasses(h *netlink.Handle, l netlink.Link, dir string) ([]ClassStats, error) {
	dev := l.Attrs().Name
	qs, err := h.QdiscList(l)
	if err != nil {
		return nil, kernelErr("list qdiscs of "+dev, "", err)
	}
	if root := rootQdisc(qs); root == nil || !isOurRoot(root) {
		return nil, fmt.Errorf("%s: %w", dev, ErrNotInstalled)
	}
	leafDrops := map[uint32]uint64{}
	for _, q := range qs {
		if st := q.Attrs().Statistics; st != nil && st.Queue != nil {
			leafDrops[q.Attrs().Parent] = uint64(st.Queue.Drops)
		}
	}
	classes, err := h.ClassList(l, 0)
	if err != nil {
		return nil, kernelErr("list classes of "+dev, "", err)
	}
	names := map[uint32]string{classHandle(MinorLink): ClassLink, classHandle(MinorVideo): ClassVideo, classHandle(MinorOther): ClassDefault}
	var out []ClassStats
	for _, c := range classes {
		name, ok := names[c.Attrs().Handle]
		htb, isHTB := c.(*netlink.HtbClass)
		if !ok || !isHTB {
			continue
		}
		cs := ClassStats{Direction: dir, Class: name, Device: dev, Handle: netlink.HandleStr(c.Attrs().Handle),
			RateBits: htb.Rate * 8, CeilBits: htb.Ceil * 8}
		if st := c.Attrs().Statistics; st != nil {
			if st.Basic != nil {
				cs.Bytes, cs.Packets = st.Basic.Bytes, uint64(st.Basic.Packets)
			}
			if st.Queue != nil {
				cs.Drops, cs.Overlimits, cs.Backlog = uint64(st.Queue.Drops), uint64(st.Queue.Overlimits), uint64(st.Queue.Backlog)
			}
		}
		cs.Drops += leafDrops[c.Attrs().Handle]
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b ClassStats) int { return strings.Compare(a.Handle, b.Handle) })
	return out, nil
}
