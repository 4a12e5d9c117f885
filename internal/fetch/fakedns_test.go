package fetch

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// startFakeDNS runs a minimal DNS server on 127.0.0.1 UDP that answers A and
// AAAA queries from answers (keys are lower-case names without the trailing
// dot) and NXDOMAIN for any other name. It returns a resolver that sends
// every query there, so tests control what names resolve to without
// touching the host's DNS. Only the standard library is used, so the wire
// format is written by hand; it covers exactly what Go's resolver sends.
func startFakeDNS(t *testing.T, answers map[string]netip.Addr) *net.Resolver {
	t.Helper()
	return startFakeDNSFunc(t, func(name string, _ bool) (netip.Addr, bool) {
		ip, ok := answers[name]
		return ip, ok
	})
}

// startFakeDNSFunc is startFakeDNS with answers from a function, called
// once per query (v6 tells an AAAA query from an A query), so an answer can
// change from one query to the next, as in DNS rebinding.
func startFakeDNSFunc(t *testing.T, lookup func(name string, v6 bool) (netip.Addr, bool)) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake DNS: listen: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return // closed by cleanup
			}
			if reply := fakeDNSReply(buf[:n], lookup); reply != nil {
				conn.WriteTo(reply, from)
			}
		}
	}()
	serverAddr := conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true, // the cgo resolver would ignore Dial
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", serverAddr)
		},
	}
}

// fakeDNSReply builds the answer to one query, or nil to ignore it.
func fakeDNSReply(query []byte, lookup func(name string, v6 bool) (netip.Addr, bool)) []byte {
	const headerLen = 12
	if len(query) < headerLen || binary.BigEndian.Uint16(query[4:6]) != 1 {
		return nil // only single-question queries
	}
	// Question: a name as length-prefixed labels ending in 0, then type and class.
	var labels []string
	off := headerLen
	for {
		if off >= len(query) {
			return nil
		}
		l := int(query[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(query) {
			return nil
		}
		labels = append(labels, string(query[off:off+l]))
		off += l
	}
	if off+4 > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[off : off+2])
	questionEnd := off + 4
	name := strings.ToLower(strings.Join(labels, "."))

	ip, known := lookup(name, qtype == 28)
	var rdata []byte
	switch {
	case known && qtype == 1 && ip.Is4(): // A
		b := ip.As4()
		rdata = b[:]
	case known && qtype == 28 && ip.Is6(): // AAAA
		b := ip.As16()
		rdata = b[:]
	}

	reply := make([]byte, 0, questionEnd+16+len(rdata))
	reply = append(reply, query[0:2]...)               // same ID
	flags := uint16(0x8000 | 0x0400 | 0x0100 | 0x0080) // response, authoritative, RD, RA
	if !known {
		flags |= 3 // NXDOMAIN
	}
	answerCount := uint16(0)
	if rdata != nil {
		answerCount = 1
	}
	reply = binary.BigEndian.AppendUint16(reply, flags)
	reply = binary.BigEndian.AppendUint16(reply, 1)           // questions
	reply = binary.BigEndian.AppendUint16(reply, answerCount) // answers
	reply = binary.BigEndian.AppendUint16(reply, 0)           // authority
	reply = binary.BigEndian.AppendUint16(reply, 0)           // additional
	reply = append(reply, query[headerLen:questionEnd]...)
	if rdata != nil {
		reply = append(reply, 0xc0, headerLen) // name: pointer to the question
		reply = binary.BigEndian.AppendUint16(reply, qtype)
		reply = binary.BigEndian.AppendUint16(reply, 1)  // class IN
		reply = binary.BigEndian.AppendUint32(reply, 60) // TTL
		reply = binary.BigEndian.AppendUint16(reply, uint16(len(rdata)))
		reply = append(reply, rdata...)
	}
	return reply
}

func TestFakeDNSResolves(t *testing.T) {
	resolver := startFakeDNS(t, map[string]netip.Addr{"media.example.com": netip.MustParseAddr("93.184.215.14")})
	ips, err := resolver.LookupNetIP(context.Background(), "ip", "media.example.com")
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if len(ips) != 1 || ips[0].Unmap() != netip.MustParseAddr("93.184.215.14") {
		t.Fatalf("lookup = %v, want [93.184.215.14]", ips)
	}
	if _, err := resolver.LookupNetIP(context.Background(), "ip", "unknown.example.com"); err == nil {
		t.Fatal("lookup of an unknown name succeeded, want NXDOMAIN")
	}
}
