//go:build !linux

package sipua

import "net"

// growReadBuffer asks for size bytes of receive buffer on c and returns
// size when the system took the request, 0 when it did not.
func growReadBuffer(c *net.UDPConn, size int) int {
	if c.SetReadBuffer(size) != nil {
		return 0
	}
	return size
}
