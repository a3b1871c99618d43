package sipua

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The SIP socket's receive buffer is the size asked when the process may
// pass net.core.rmem_max, else that cap; either way the kernel's report is
// twice the size granted, which growReadBuffer passes on.
func TestGrowReadBuffer(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	got := growReadBuffer(c, size)
	if got != 2*size && got != 2*min(size, rmemMax) {
		t.Errorf("receive buffer %d bytes as the kernel reports it, want %d (forced) or %d (rmem_max %d)", got, 2*size, 2*min(size, rmemMax), rmemMax)
	}
	t.Logf("rmem_max %d, euid %d: receive buffer %d", rmemMax, os.Geteuid(), got/2)
}
