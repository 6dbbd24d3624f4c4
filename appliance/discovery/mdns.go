package discovery

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/dns/dnsmessage"
)

// DNS-SD names.
const (
	// ServiceType is the sibling service.
	ServiceType = "_outpost._tcp.local."
	// HTTPServiceType is the standard type for the console's web page.
	HTTPServiceType = "_http._tcp.local."
	servicesMeta    = "_services._dns-sd._udp.local."
)

const (
	recordTTL  = 120 // seconds, for every record we publish
	legacyTTL  = 10  // RFC 6762 6.7: answers to legacy unicast queries
	cacheFlush = 1 << 15
)

// instanceLabel names a box in DNS-SD: "outpost-" and the box id with dots
// replaced, so it stays one label.
func instanceLabel(box string) string { return "outpost-" + strings.ReplaceAll(box, ".", "-") }

// published is one DNS-SD service instance the responder answers for.
type published struct {
	typ      string // e.g. ServiceType
	instance string // full name: label + "." + typ
	port     int
	txt      func() []string
}

// responder builds answers and announcements for a box's services; pure (no I/O),
// so tests feed it queries directly.
type responder struct {
	host     string // "outpost-<box>.local."
	services []published
}

func newResponder(box string, services ...published) *responder {
	r := &responder{host: instanceLabel(box) + ".local."}
	for _, s := range services {
		s.instance = instanceLabel(box) + "." + s.typ
		r.services = append(r.services, s)
	}
	return r
}

func hdr(name string, t uint16, ttl uint32, flush bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= cacheFlush
	}
	return dns.RR_Header{Name: name, Rrtype: t, Class: class, Ttl: ttl}
}

func (r *responder) ptr(s published, ttl uint32) dns.RR {
	return &dns.PTR{Hdr: hdr(s.typ, dns.TypePTR, ttl, false), Ptr: s.instance}
}

func (r *responder) srv(s published, ttl uint32, flush bool) dns.RR {
	return &dns.SRV{Hdr: hdr(s.instance, dns.TypeSRV, ttl, flush), Port: uint16(s.port), Target: r.host}
}

func (r *responder) txt(s published, ttl uint32, flush bool) dns.RR {
	return &dns.TXT{Hdr: hdr(s.instance, dns.TypeTXT, ttl, flush), Txt: s.txt()}
}

func (r *responder) addrs(ips []net.IP, ttl uint32, flush bool) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			out = append(out, &dns.A{Hdr: hdr(r.host, dns.TypeA, ttl, flush), A: v4})
		}
	}
	return out
}

// announcement is an unsolicited response with every record (ttl 0: goodbye).
func (r *responder) announcement(ips []net.IP, ttl uint32) *dns.Msg {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	for _, s := range r.services {
		m.Answer = append(m.Answer, r.ptr(s, ttl), r.srv(s, ttl, true), r.txt(s, ttl, true),
			&dns.PTR{Hdr: hdr(servicesMeta, dns.TypePTR, ttl, false), Ptr: s.typ})
	}
	if ttl > 0 {
		m.Answer = append(m.Answer, r.addrs(ips, ttl, true)...)
	}
	return m
}

// answer returns the response to query q received on an interface with addresses
// ips, or nil when nothing is ours. legacy: the query came from a port other than
// 5353 (RFC 6762 6.7), so the reply echoes id and question with short TTLs.
func (r *responder) answer(q *dns.Msg, ips []net.IP, legacy bool) *dns.Msg {
	if q.Response || q.Opcode != dns.OpcodeQuery || len(q.Question) == 0 {
		return nil
	}
	ttl := uint32(recordTTL)
	if legacy {
		ttl = legacyTTL
	}
	flush := !legacy
	var answers, extra []dns.RR
	seen := map[string]bool{}
	add := func(list *[]dns.RR, rrs ...dns.RR) {
		for _, rr := range rrs {
			if k := rr.String(); !seen[k] {
				seen[k] = true
				*list = append(*list, rr)
			}
		}
	}
	for _, qq := range q.Question {
		name := strings.ToLower(qq.Name)
		any := qq.Qtype == dns.TypeANY
		for _, s := range r.services {
			switch {
			case name == servicesMeta && (any || qq.Qtype == dns.TypePTR):
				add(&answers, &dns.PTR{Hdr: hdr(servicesMeta, dns.TypePTR, ttl, false), Ptr: s.typ})
			case name == s.typ && (any || qq.Qtype == dns.TypePTR):
				add(&answers, r.ptr(s, ttl))
				add(&extra, r.srv(s, ttl, flush), r.txt(s, ttl, flush))
				add(&extra, r.addrs(ips, ttl, flush)...)
			case name == strings.ToLower(s.instance):
				if any || qq.Qtype == dns.TypeSRV {
					add(&answers, r.srv(s, ttl, flush))
					add(&extra, r.addrs(ips, ttl, flush)...)
				}
				if any || qq.Qtype == dns.TypeTXT {
					add(&answers, r.txt(s, ttl, flush))
				}
			}
		}
		if name == strings.ToLower(r.host) && (any || qq.Qtype == dns.TypeA) {
			add(&answers, r.addrs(ips, ttl, flush)...)
		}
	}
	if len(answers) == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	if legacy {
		m.Id = q.Id
		m.Question = q.Question
	}
	m.Answer = answers
	for _, rr := range extra {
		if k := rr.String(); !containsRR(answers, k) {
			m.Extra = append(m.Extra, rr)
		}
	}
	return m
}

func containsRR(list []dns.RR, k string) bool {
	for _, rr := range list {
		if rr.String() == k {
			return true
		}
	}
	return false
}

// query is the browse question for typ.
func query(typ string) *dns.Msg {
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: typ, Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	return m
}

// sighting is one TXT record of a service instance of the browsed type.
type sighting struct {
	instance string // full name, lower case
	txt      []string
	goodbye  bool // TTL 0
}

// sightings extracts the TXT records (and goodbyes) of instances of typ from a
// response packet; everything else in it is skipped. It parses with
// x/net/dns/dnsmessage, which skips record types it does not know (other stacks'
// NSEC records with empty bitmaps, which miekg/dns v1.1.27 refuses, among them).
func sightings(b []byte, typ string) ([]sighting, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil, fmt.Errorf("parse mdns header: %w", err)
	}
	if !h.Response {
		return nil, nil
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, fmt.Errorf("parse mdns questions: %w", err)
	}
	var out []sighting
	section := func(next func() (dnsmessage.ResourceHeader, error), skip func() error) error {
		for {
			rh, err := next()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				return nil
			}
			if err != nil {
				return err
			}
			name := strings.ToLower(rh.Name.String())
			switch {
			case rh.Type == dnsmessage.TypeTXT && strings.HasSuffix(name, "."+typ):
				r, err := p.TXTResource()
				if err != nil {
					return err
				}
				out = append(out, sighting{instance: name, txt: r.TXT, goodbye: rh.TTL == 0})
			case rh.Type == dnsmessage.TypePTR && rh.TTL == 0 && name == typ:
				r, err := p.PTRResource()
				if err != nil {
					return err
				}
				out = append(out, sighting{instance: strings.ToLower(r.PTR.String()), goodbye: true})
			default:
				if err := skip(); err != nil {
					return err
				}
			}
		}
	}
	if err := section(p.AnswerHeader, p.SkipAnswer); err != nil {
		return out, fmt.Errorf("parse mdns answers: %w", err)
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return out, fmt.Errorf("parse mdns authorities: %w", err)
	}
	if err := section(p.AdditionalHeader, p.SkipAdditional); err != nil {
		return out, fmt.Errorf("parse mdns additionals: %w", err)
	}
	return out, nil
}

// isResponse reports whether b is an mDNS response (QR bit).
func isResponse(b []byte) bool { return len(b) >= 3 && b[2]&0x80 != 0 }
