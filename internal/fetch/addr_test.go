package fetch

import (
	"net/netip"
	"testing"
)

func TestIsBlocked(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
		why     string
	}{
		// Public addresses stay reachable.
		{"8.8.8.8", false, "public IPv4"},
		{"1.1.1.1", false, "public IPv4"},
		{"93.184.215.14", false, "public IPv4"},
		{"2606:4700::1", false, "public IPv6"},
		{"2001:4860:4860::8888", false, "public IPv6 inside 2001::/16 but outside 2001::/23"},
		{"::ffff:8.8.8.8", false, "IPv4-mapped public address"},

		// 0.0.0.0/8 and unspecified
		{"0.0.0.0", true, "unspecified IPv4"},
		{"0.255.255.255", true, "0.0.0.0/8"},
		{"1.0.0.0", false, "just above 0.0.0.0/8"},
		{"::", true, "unspecified IPv6"},

		// loopback
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback /8"},
		{"126.255.255.255", false, "just below 127/8"},
		{"128.0.0.0", false, "just above 127/8"},
		{"::1", true, "IPv6 loopback"},

		// private
		{"10.0.0.1", true, "10/8"},
		{"10.255.255.255", true, "10/8"},
		{"11.0.0.0", false, "just above 10/8"},
		{"172.16.0.1", true, "172.16/12"},
		{"172.31.255.255", true, "172.16/12"},
		{"172.15.255.255", false, "just below 172.16/12"},
		{"172.32.0.0", false, "just above 172.16/12"},
		{"192.168.0.1", true, "192.168/16"},
		{"192.168.255.255", true, "192.168/16"},
		{"192.169.0.0", false, "just above 192.168/16"},

		// link-local and cloud metadata
		{"169.254.169.254", true, "AWS/GCP/Azure metadata"},
		{"169.254.0.1", true, "169.254/16"},
		{"169.255.0.0", false, "just above 169.254/16"},
		{"fe80::1", true, "IPv6 link-local"},
		{"fe80::1%eth0", true, "IPv6 link-local with zone"},
		{"febf:ffff::1", true, "end of fe80::/10"},
		{"fd00:ec2::254", true, "AWS IPv6 metadata (fc00::/7)"},

		// CGNAT
		{"100.64.0.1", true, "100.64/10"},
		{"100.100.100.200", true, "Alibaba metadata in 100.64/10"},
		{"100.127.255.255", true, "end of 100.64/10"},
		{"100.63.255.255", false, "just below 100.64/10"},
		{"100.128.0.0", false, "just above 100.64/10"},

		// multicast, broadcast, reserved
		{"224.0.0.1", true, "IPv4 multicast"},
		{"239.255.255.255", true, "IPv4 multicast"},
		{"ff02::1", true, "IPv6 multicast"},
		{"255.255.255.255", true, "broadcast"},
		{"240.0.0.1", true, "240/4 reserved"},
		{"223.255.255.255", false, "just below multicast"},

		// special-purpose and documentation
		{"192.0.0.8", true, "192.0.0/24"},
		{"192.0.2.1", true, "TEST-NET-1"},
		{"192.0.3.0", false, "just above 192.0.2/24"},
		{"198.18.0.1", true, "198.18/15"},
		{"198.19.255.255", true, "end of 198.18/15"},
		{"198.17.255.255", false, "just below 198.18/15"},
		{"198.20.0.0", false, "just above 198.18/15"},
		{"198.51.100.7", true, "TEST-NET-2"},
		{"203.0.113.9", true, "TEST-NET-3"},
		{"192.88.99.1", true, "6to4 relay anycast"},
		{"2001:db8::1", true, "IPv6 documentation"},
		{"3fff::1", true, "IPv6 documentation (RFC 9637)"},

		// IPv6 unique local
		{"fc00::1", true, "fc00::/7"},
		{"fdff:ffff::1", true, "fc00::/7"},

		// IPv6 forms that carry an IPv4 address
		{"::ffff:127.0.0.1", true, "IPv4-mapped loopback"},
		{"::ffff:169.254.169.254", true, "IPv4-mapped metadata"},
		{"::ffff:10.1.2.3", true, "IPv4-mapped private"},
		{"::127.0.0.1", true, "IPv4-compatible loopback"},
		{"::8.8.8.8", true, "IPv4-compatible (deprecated) even when public"},
		{"64:ff9b::127.0.0.1", true, "NAT64 of loopback"},
		{"64:ff9b::169.254.169.254", true, "NAT64 of metadata"},
		{"64:ff9b::8.8.8.8", true, "NAT64 is blocked whatever it embeds"},
		{"64:ff9b:1::a9fe:a9fe", true, "local-use NAT64 64:ff9b:1::/48"},
		{"2002:7f00:1::", true, "6to4 of 127.0.0.1"},
		{"2002:a9fe:a9fe::", true, "6to4 of 169.254.169.254"},
		{"2002:808:808::1", true, "6to4 is blocked whatever it embeds"},
		{"2001::1", true, "Teredo (2001::/32)"},
		{"::ffff:0:127.0.0.1", true, "SIIT ::ffff:0:0:0/96"},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := IsBlocked(ip); got != tt.blocked {
			t.Errorf("IsBlocked(%s) = %v, want %v (%s)", tt.ip, got, tt.blocked, tt.why)
		}
	}
	if !IsBlocked(netip.Addr{}) {
		t.Error("IsBlocked(zero Addr) = false, want true")
	}
}
