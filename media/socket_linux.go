package media

import (
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// The RTP edge uses raw non-blocking UDP sockets, so that either relay can
// read them: the goroutine relay through the runtime's poller (a dup
// wrapped as a net.UDPConn), the epoll relay through its own epoll set
// without the runtime seeing them (relay-floor.md: that is what makes
// it fast). Sends are always one raw sendto, which does not block.

// openUDP returns a bound, non-blocking, close-on-exec UDP socket.
func openUDP(ap netip.AddrPort) (int, error) {
	family := syscall.AF_INET
	if !ap.Addr().Unmap().Is4() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var sa sockaddr
	sa.set(ap, family == syscall.AF_INET6)
	if _, _, e := syscall.RawSyscall(syscall.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa.raw)), uintptr(sa.len)); e != 0 {
		syscall.Close(fd)
		return -1, e
	}
	return fd, nil
}

// sockaddr is a socket address in the kernel's layout, built once per
// remote so that a send does not allocate.
type sockaddr struct {
	raw syscall.RawSockaddrInet6 // large enough for either family
	len uint32                   // 0 when unset: nothing is sent
}

// set stores ap for a socket of the given family (IPv4-mapped addresses
// on IPv6 sockets). It reports false, leaving sa unset, when ap cannot be
// reached from such a socket.
func (sa *sockaddr) set(ap netip.AddrPort, v6 bool) bool {
	*sa = sockaddr{}
	addr := ap.Addr()
	if !addr.IsValid() || ap.Port() == 0 {
		return false
	}
	if !v6 {
		addr = addr.Unmap()
		if !addr.Is4() {
			return false
		}
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&sa.raw))
		p.Family = syscall.AF_INET
		putPort(&p.Port, ap.Port())
		p.Addr = addr.As4()
		sa.len = syscall.SizeofSockaddrInet4
		return true
	}
	sa.raw.Family = syscall.AF_INET6
	putPort(&sa.raw.Port, ap.Port())
	sa.raw.Addr = addr.As16()
	sa.len = syscall.SizeofSockaddrInet6
	return true
}

// putPort stores port in network byte order.
func putPort(dst *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(src *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(src))
	return uint16(b[0])<<8 | uint16(b[1])
}

// parseSockaddr returns the address the kernel wrote, IPv4-mapped
// addresses unmapped.
func parseSockaddr(rsa *syscall.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), getPort(&p.Port))
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr).Unmap(), getPort(&p.Port))
	}
	return netip.AddrPort{}
}

// sendto sends b to sa with one raw syscall; the socket is non-blocking,
// so this never parks the thread. It does not allocate.
func sendto(fd int, b []byte, sa *sockaddr) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(&sa.raw)), uintptr(sa.len))
	return e
}

// send sends b on a connected socket with one raw syscall, without an
// address: the kernel uses the connected route. It does not allocate.
func send(fd int, b []byte) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	return e
}

// connect connects a UDP socket to sa: sends without an address go there,
// and the kernel drops datagrams from anywhere else.
func connect(fd int, sa *sockaddr) syscall.Errno {
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa.raw)), uintptr(sa.len))
	return e
}

// disconnect dissolves a UDP socket's association (connect to AF_UNSPEC).
func disconnect(fd int) syscall.Errno {
	var sa syscall.RawSockaddrInet6
	sa.Family = syscall.AF_UNSPEC
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), syscall.SizeofSockaddrInet6)
	return e
}

// recvfrom reads one datagram into b with one raw syscall; it returns
// EAGAIN when none is waiting. It does not allocate.
func recvfrom(fd int, b []byte, rsa *syscall.RawSockaddrAny) (int, netip.AddrPort, syscall.Errno) {
	l := uint32(syscall.SizeofSockaddrAny)
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return 0, netip.AddrPort{}, e
	}
	return int(n), parseSockaddr(rsa), 0
}

// epoch is the origin of nanotime; it is set once and never changes.
var epoch = time.Now()

// nanotime returns monotonic nanoseconds since the package started.
func nanotime() int64 { return int64(time.Since(epoch)) }

// wallTime converts a nanotime value to wall-clock time.
func wallTime(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }
