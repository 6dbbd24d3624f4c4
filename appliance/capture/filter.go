package capture

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Limits of the filter language. They bound the parser's work and the program size
// for any input, including hostile ones from the HTTP API.
const (
	// MaxFilterLen is the longest filter expression accepted, in bytes.
	MaxFilterLen = 1024
	// maxDepth bounds nesting of parentheses and "not".
	maxDepth = 32
)

// Filter is a parsed filter expression. The zero Filter (and a Filter parsed from an
// empty string) matches every packet.
type Filter struct {
	root node
	src  string
}

// ParseFilter parses a filter expression such as
//
//	host 10.0.0.1 and (tcp port 443 or udp) and not port 22
//
// Grammar (keywords are case-insensitive; "!", "&&", "||" are accepted for
// not/and/or):
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | primary
//	primary = proto [ qualifier ] | qualifier
//	qualifier = [ "src" | "dst" ] ( "host" ADDR | "net" PREFIX | "port" NUMBER )
//	proto   = "tcp" | "udp" | "icmp" | "icmp6" | "ip" | "ip6" | "arp"
//
// "tcp port 443" is port 443 on TCP only; "ip6 host ::1" and "ip net 10.0.0.0/8" need
// an address of the named family. Host addresses are literals (no DNS). Errors are
// *SyntaxError values that match ErrFilterSyntax and name the byte offset.
func ParseFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterLen {
		return nil, &SyntaxError{Filter: truncate(s), Pos: MaxFilterLen, Msg: fmt.Sprintf("filter longer than %d bytes", MaxFilterLen)}
	}
	p := &filterParser{src: s}
	if err := p.lex(); err != nil {
		return nil, err
	}
	if p.peek().kind == tokEOF {
		return &Filter{src: s}, nil
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "unexpected %s: expected and, or, or the end of the filter", t)
	}
	return &Filter{root: n, src: s}, nil
}

// MatchesAll reports whether the filter accepts every packet (it is empty).
func (f *Filter) MatchesAll() bool { return f == nil || f.root == nil }

// String returns the filter in canonical form (lower-case keywords, words for
// operators, parentheses only where needed); parsing it again yields the same
// filter.
func (f *Filter) String() string {
	if f.MatchesAll() {
		return ""
	}
	var b strings.Builder
	f.root.format(&b)
	return b.String()
}

// Proto is a protocol keyword of the filter language.
type Proto uint8

// Protocols of the filter language.
const (
	ProtoAny Proto = iota // no protocol named
	ProtoTCP
	ProtoUDP
	ProtoICMP
	ProtoICMP6
	ProtoIP
	ProtoIP6
	ProtoARP
)

var protoNames = map[Proto]string{ProtoTCP: "tcp", ProtoUDP: "udp", ProtoICMP: "icmp",
	ProtoICMP6: "icmp6", ProtoIP: "ip", ProtoIP6: "ip6", ProtoARP: "arp"}

func (p Proto) String() string { return protoNames[p] }

// Dir says which address or port of a packet a primitive looks at.
type Dir uint8

// Directions of the filter language.
const (
	DirEither Dir = iota // source or destination
	DirSrc
	DirDst
)

func (d Dir) prefix() string {
	switch d {
	case DirSrc:
		return "src "
	case DirDst:
		return "dst "
	}
	return ""
}

// AST nodes.
type node interface{ format(*strings.Builder) }

type (
	andNode   struct{ l, r node }
	orNode    struct{ l, r node }
	notNode   struct{ x node }
	protoNode struct{ p Proto }
	// hostNode matches an address in a prefix (host = full-length prefix); proto
	// is ProtoAny, ProtoIP or ProtoIP6 (the latter two only as a spelled qualifier).
	hostNode struct {
		dir    Dir
		prefix netip.Prefix
		isNet  bool
		proto  Proto
	}
	// portNode matches a TCP or UDP port; proto is ProtoAny, ProtoTCP or ProtoUDP.
	portNode struct {
		dir   Dir
		proto Proto
		port  uint16
	}
)

// Operator precedence for printing: parentheses appear only where the tree
// needs them, so printing never nests deeper than the parsed input did.
const (
	precOr = iota + 1
	precAnd
	precUnary
)

func prec(n node) int {
	switch n.(type) {
	case *orNode:
		return precOr
	case *andNode:
		return precAnd
	}
	return precUnary
}

func formatChild(b *strings.Builder, n node, min int) {
	if prec(n) < min {
		b.WriteByte('(')
		n.format(b)
		b.WriteByte(')')
		return
	}
	n.format(b)
}

// Both operators are left-associative: a right operand of the same operator keeps
// its parentheses so the printed form parses back to the same tree.
func (n *andNode) format(b *strings.Builder) {
	formatChild(b, n.l, precAnd)
	b.WriteString(" and ")
	formatChild(b, n.r, precUnary)
}

func (n *orNode) format(b *strings.Builder) {
	formatChild(b, n.l, precOr)
	b.WriteString(" or ")
	formatChild(b, n.r, precAnd)
}

func (n *notNode) format(b *strings.Builder) {
	b.WriteString("not ")
	formatChild(b, n.x, precUnary)
}

func (n *protoNode) format(b *strings.Builder) { b.WriteString(n.p.String()) }

func (n *hostNode) format(b *strings.Builder) {
	if n.proto != ProtoAny {
		b.WriteString(n.proto.String() + " ")
	}
	b.WriteString(n.dir.prefix())
	if n.isNet {
		b.WriteString("net " + n.prefix.String())
		return
	}
	b.WriteString("host " + n.prefix.Addr().String())
}

func (n *portNode) format(b *strings.Builder) {
	if n.proto != ProtoAny {
		b.WriteString(n.proto.String() + " ")
	}
	b.WriteString(n.dir.prefix() + "port " + strconv.Itoa(int(n.port)))
}

// Lexer.

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokLParen
	tokRParen
	tokNot // "!"
	tokAnd // "&&"
	tokOr  // "||"
)

type lexToken struct {
	kind tokKind
	text string // the word, lower-cased for keywords
	raw  string
	pos  int
}

func (t lexToken) String() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokWord:
		return strconv.Quote(t.raw)
	default:
		return strconv.Quote(t.raw)
	}
}

// isWordByte: letters, digits and the characters of addresses and prefixes.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '_' || c == '-' || c == '%'
}

type filterParser struct {
	src  string
	toks []lexToken
	i    int
}

func (p *filterParser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.toks = append(p.toks, lexToken{kind: tokLParen, raw: "(", pos: i})
			i++
		case c == ')':
			p.toks = append(p.toks, lexToken{kind: tokRParen, raw: ")", pos: i})
			i++
		case c == '!':
			p.toks = append(p.toks, lexToken{kind: tokNot, text: "not", raw: "!", pos: i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(s) || s[i+1] != c {
				return &SyntaxError{Filter: s, Pos: i, Msg: fmt.Sprintf("unexpected %q: use %q or %q", c, "and", "or")}
			}
			if c == '&' {
				p.toks = append(p.toks, lexToken{kind: tokAnd, text: "and", raw: "&&", pos: i})
			} else {
				p.toks = append(p.toks, lexToken{kind: tokOr, text: "or", raw: "||", pos: i})
			}
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			p.toks = append(p.toks, lexToken{kind: tokWord, text: strings.ToLower(s[i:j]), raw: s[i:j], pos: i})
			i = j
		default:
			return &SyntaxError{Filter: s, Pos: i, Msg: fmt.Sprintf("unexpected character %q", rune(c))}
		}
	}
	p.toks = append(p.toks, lexToken{kind: tokEOF, pos: len(s)})
	return nil
}

func (p *filterParser) peek() lexToken { return p.toks[p.i] }

func (p *filterParser) next() lexToken {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) errorf(t lexToken, format string, args ...any) error {
	return &SyntaxError{Filter: p.src, Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) isWord(t lexToken, w string) bool { return t.kind == tokWord && t.text == w }

func (p *filterParser) expr(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tokOr || p.isWord(t, "or"); t = p.peek() {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &orNode{l, r}
	}
	return l, nil
}

func (p *filterParser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tokAnd || p.isWord(t, "and"); t = p.peek() {
		p.next()
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &andNode{l, r}
	}
	return l, nil
}

func (p *filterParser) unary(depth int) (node, error) {
	t := p.peek()
	if depth >= maxDepth && (t.kind == tokNot || t.kind == tokLParen || p.isWord(t, "not")) {
		return nil, p.errorf(t, "nested deeper than %d levels", maxDepth)
	}
	switch {
	case t.kind == tokNot || p.isWord(t, "not"):
		p.next()
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case t.kind == tokLParen:
		p.next()
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errorf(c, "unexpected %s: expected \")\" to close \"(\" at offset %d", c, t.pos)
		}
		return x, nil
	}
	return p.primary()
}

var protoWords = map[string]Proto{"tcp": ProtoTCP, "udp": ProtoUDP, "icmp": ProtoICMP,
	"icmp6": ProtoICMP6, "ip": ProtoIP, "ip6": ProtoIP6, "arp": ProtoARP}

func isQualifierStart(t lexToken) bool {
	if t.kind != tokWord {
		return false
	}
	switch t.text {
	case "src", "dst", "host", "net", "port":
		return true
	}
	return false
}

func (p *filterParser) primary() (node, error) {
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.errorf(t, "unexpected %s: expected host, net, port, src, dst, a protocol, not or \"(\"", t)
	}
	if proto, ok := protoWords[t.text]; ok {
		p.next()
		if !isQualifierStart(p.peek()) {
			return &protoNode{proto}, nil
		}
		return p.qualifier(proto, t)
	}
	if isQualifierStart(t) {
		return p.qualifier(ProtoAny, t)
	}
	return nil, p.errorf(t, "unknown keyword %s: expected host, net, port, src, dst, tcp, udp, icmp, icmp6, ip, ip6, arp, not", t)
}

func (p *filterParser) qualifier(proto Proto, protoTok lexToken) (node, error) {
	dir := DirEither
	if t := p.peek(); p.isWord(t, "src") || p.isWord(t, "dst") {
		p.next()
		dir = DirSrc
		if t.text == "dst" {
			dir = DirDst
		}
	}
	kw := p.next()
	if kw.kind != tokWord || (kw.text != "host" && kw.text != "net" && kw.text != "port") {
		return nil, p.errorf(kw, "unexpected %s: expected host, net or port", kw)
	}
	val := p.next()
	if val.kind != tokWord {
		return nil, p.errorf(val, "unexpected %s: expected a value after %q", val, kw.text)
	}
	switch kw.text {
	case "port":
		if proto != ProtoAny && proto != ProtoTCP && proto != ProtoUDP {
			return nil, p.errorf(protoTok, "%q cannot qualify port (use tcp, udp or nothing)", protoTok.raw)
		}
		n, err := strconv.ParseUint(val.raw, 10, 16)
		if err != nil {
			return nil, p.errorf(val, "bad port %s: want a number from 0 to 65535", val)
		}
		return &portNode{dir: dir, proto: proto, port: uint16(n)}, nil
	case "host":
		a, err := netip.ParseAddr(val.raw)
		if err != nil || a.Zone() != "" {
			return nil, p.errorf(val, "bad address %s: want an IPv4 or IPv6 literal", val)
		}
		a = a.Unmap()
		if err := p.checkFamily(proto, protoTok, a); err != nil {
			return nil, err
		}
		return &hostNode{dir: dir, prefix: netip.PrefixFrom(a, a.BitLen()), proto: proto}, nil
	default: // net
		pf, err := netip.ParsePrefix(val.raw)
		if err != nil {
			return nil, p.errorf(val, "bad network %s: want a prefix such as 10.0.0.0/8", val)
		}
		if pf.Addr().Is4In6() {
			return nil, p.errorf(val, "bad network %s: write IPv4 networks in dotted form", val)
		}
		if err := p.checkFamily(proto, protoTok, pf.Addr()); err != nil {
			return nil, err
		}
		return &hostNode{dir: dir, prefix: pf.Masked(), isNet: true, proto: proto}, nil
	}
}

func (p *filterParser) checkFamily(proto Proto, protoTok lexToken, a netip.Addr) error {
	switch {
	case proto == ProtoAny:
		return nil
	case proto == ProtoIP && a.Is4(), proto == ProtoIP6 && a.Is6():
		return nil
	case proto == ProtoIP || proto == ProtoIP6:
		return p.errorf(protoTok, "%q does not match the address family of %s", protoTok.raw, a)
	}
	return p.errorf(protoTok, "%q cannot qualify host or net (use ip, ip6 or nothing)", protoTok.raw)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
