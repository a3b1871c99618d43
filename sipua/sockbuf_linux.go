package sipua

import (
	"net"
	"syscall"
)

// growReadBuffer asks for size bytes of receive buffer on c: beyond
// net.core.rmem_max when the process may (SO_RCVBUFFORCE, CAP_NET_ADMIN, as
// root), else up to that cap, which the kernel applies without an error. It
// returns the size in force as the kernel reports it (twice what it grants
// to the data, for its bookkeeping), 0 when it cannot tell.
func growReadBuffer(c *net.UDPConn, size int) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	got := 0
	rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}
		got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return got
}
