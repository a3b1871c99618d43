// Package loadkit holds what the load generators (cmd/sbload, cmd/sbcall)
// share: CPU, memory and UDP counters from /proc, thread pinning, and raw
// non-blocking UDP sockets on loopback. Their figures are CPU time per
// unit of work (DESIGN.md §8), so both must read the kernel's clocks the
// same way.
package loadkit

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// ClockTick is USER_HZ, the unit of the times in /proc/*/stat.
const ClockTick = 10 * time.Millisecond

// StatCPU returns utime+stime from a /proc stat file of a process or a
// task ("/proc/self/stat", "/proc/PID/task/TID/stat").
func StatCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: fields count
	// from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * ClockTick
}

// ProcessCPU returns the CPU time of a whole process; pid 0 is this one.
func ProcessCPU(pid int) time.Duration { return StatCPU(procDir(pid) + "/stat") }

// ThreadCPU returns the CPU time of one thread of a process; pid 0 is
// this one.
func ThreadCPU(pid, tid int) time.Duration {
	return StatCPU(procDir(pid) + "/task/" + strconv.Itoa(tid) + "/stat")
}

// RSS returns the resident set size of a process in bytes (VmRSS); pid 0
// is this one.
func RSS(pid int) uint64 {
	b, err := os.ReadFile(procDir(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(pid)
}

// CPUBusy returns, per CPU, the time it spent busy (not idle or waiting
// for I/O), from /proc/stat.
func CPUBusy() []time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	var out []time.Duration
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "cpu ") {
			continue
		}
		f := strings.Fields(line)
		var busy int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // skip idle and iowait; guest time is already in user
				busy += n
			}
		}
		out = append(out, time.Duration(busy)*ClockTick)
	}
	return out
}

// MachineBusy returns the time all CPUs together spent busy.
func MachineBusy() time.Duration {
	var sum time.Duration
	for _, d := range CPUBusy() {
		sum += d
	}
	return sum
}

// UDPCounters returns the machine's UDP counters from /proc/net/snmp (this
// network namespace), by name: InDatagrams, NoPorts, InErrors,
// RcvbufErrors (datagrams dropped for a full receive buffer), ...
func UDPCounters() map[string]uint64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return nil
	}
	var names []string
	out := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			if i < len(names) {
				out[names[i]], _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	return out
}

// SetAffinity pins thread tid (0 for the calling thread) to cpu.
func SetAffinity(tid, cpu int) error {
	var mask [16]uint64
	mask[cpu/64] |= 1 << (cpu % 64)
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); e != 0 {
		return fmt.Errorf("pin thread %d to cpu %d: %w", tid, cpu, e)
	}
	return nil
}

// LockThread locks the calling goroutine to its OS thread, pins that
// thread to cpu when cpu ≥ 0, and returns its thread ID: a generator's
// raw system calls then run on a thread the Go scheduler never hands on.
func LockThread(cpu int) (tid int) {
	runtime.LockOSThread()
	if cpu >= 0 {
		SetAffinity(0, cpu)
	}
	return syscall.Gettid()
}

// SendTo sends b to to from the non-blocking socket fd with a raw
// sendto(2), which the Go scheduler does not see; it reports whether the
// kernel took the datagram.
func SendTo(fd int, b []byte, to *syscall.RawSockaddrInet4) bool {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(to)), syscall.SizeofSockaddrInet4)
	return e == 0
}

// PinProcess pins every thread of this process to cpu; threads made later
// inherit it from the thread that makes them. A generator thread that
// must run elsewhere pins itself afterwards.
func PinProcess(cpu int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := SetAffinity(tid, cpu); err != nil {
			return err
		}
	}
	return nil
}

// UDPSocket opens a non-blocking UDP socket on 127.0.0.1:port (0: the
// kernel picks) with large buffers: beyond rmem_max when allowed (root),
// because on a shared machine a generator thread can be kept off the CPU
// for a second or more, and what arrives meanwhile must wait, not drop.
func UDPSocket(port int) (int, netip.AddrPort, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("udp socket: %w", err)
	}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20) != nil {
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<20)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
		syscall.Close(fd)
		return -1, netip.AddrPort{}, fmt.Errorf("udp bind 127.0.0.1:%d: %w", port, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return -1, netip.AddrPort{}, err
	}
	in := sa.(*syscall.SockaddrInet4)
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port)), nil
}

// Sockaddr is ap as the raw address sendto(2) takes.
func Sockaddr(ap netip.AddrPort) syscall.RawSockaddrInet4 {
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ap.Addr().As4()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
	return sa
}
