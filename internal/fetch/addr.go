package fetch

import "net/netip"

// blockedIPv4 lists every IPv4 range a user-supplied URL must not reach: the
// entries of the IANA IPv4 Special-Purpose Address Registry that are not
// globally reachable, plus multicast and the reserved class E block.
var blockedIPv4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"; connecting to 0.0.0.0 reaches the local host on Linux
	netip.MustParsePrefix("10.0.0.0/8"),      // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598); also Alibaba Cloud metadata 100.100.100.200
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local; AWS/GCP/Azure metadata 169.254.169.254
	netip.MustParsePrefix("172.16.0.0/12"),   // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast (RFC 7526)
	netip.MustParsePrefix("192.168.0.0/16"),  // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, includes the broadcast address 255.255.255.255
}

// globalUnicastIPv6 is 2000::/3, the only part of the IPv6 space the IANA
// allocates for global unicast. IPv6 is checked with an allow-list because
// everything outside it is special: ::/128 (unspecified), ::1 (loopback),
// ::/96 (IPv4-compatible, deprecated), ::ffff:0:0/96 (IPv4-mapped, unmapped
// and checked as IPv4 before we get here), ::ffff:0:0:0/96 (SIIT),
// 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64: a NAT64 gateway would forward to
// the embedded IPv4, e.g. 64:ff9b::a9fe:a9fe to 169.254.169.254), 100::/64
// (discard), 5f00::/16 (SRv6), fc00::/7 (unique local, incl. AWS metadata
// fd00:ec2::254), fe80::/10 (link-local), fec0::/10 (deprecated site-local)
// and ff00::/8 (multicast). An allow-list also stays safe when the IANA adds
// new special ranges outside 2000::/3.
var globalUnicastIPv6 = netip.MustParsePrefix("2000::/3")

// blockedGlobalUnicastIPv6 lists the special ranges inside 2000::/3.
var blockedGlobalUnicastIPv6 = []netip.Prefix{
	// IETF protocol assignments, including Teredo 2001::/32 (which embeds an
	// obfuscated IPv4 address), benchmarking 2001:2::/48 and ORCHIDs.
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	// 6to4 (deprecated by RFC 7526) embeds an IPv4 address in bits 16-48;
	// 2002:7f00:1:: would be relayed to 127.0.0.1. The whole range is
	// blocked rather than only the blocked embedded addresses: no real media
	// host needs 6to4, and a blanket block cannot be fooled.
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("3fff::/20"), // documentation (RFC 9637)
}

// IsBlocked reports whether ip must not be reached from a user-supplied URL:
// loopback, private, link-local (including cloud metadata endpoints), CGNAT,
// unspecified, multicast, broadcast, documentation, benchmarking and reserved
// addresses, and IPv6 forms that tunnel or translate to IPv4 (6to4, Teredo,
// NAT64, IPv4-compatible). An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
// judged by the IPv4 address it maps. The zero Addr is blocked.
func IsBlocked(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	// A zone (fe80::1%eth0) would make Prefix.Contains report false.
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is4() {
		return inAnyPrefix(blockedIPv4, ip)
	}
	if !globalUnicastIPv6.Contains(ip) {
		return true
	}
	return inAnyPrefix(blockedGlobalUnicastIPv6, ip)
}

func inAnyPrefix(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
