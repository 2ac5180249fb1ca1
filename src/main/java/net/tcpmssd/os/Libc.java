package net.tcpmssd.os;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one boundary to native code: the few libc calls tcpmssd makes, through the FFM API.
 *
 * <p>Each wrapper returns the call's result or throws {@link ErrnoException} with the errno the
 * call left, captured by the linker right after the call (nothing in the JVM can clobber it in
 * between). The two exceptions are the packet path's {@link #recvmmsg} and {@link #sendBare},
 * which return -1 without the errno so as to allocate nothing; their callers learn the cause
 * otherwise. Nothing here knows about netlink or packets.
 */
@SuppressWarnings("restricted") // this class is the one place allowed to link native code
public final class Libc {

    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int SOCK_NONBLOCK = 04000;
    public static final int SO_REUSEADDR = 2;
    public static final int IPPROTO_IPV6 = 41;
    public static final int IPV6_V6ONLY = 26;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    /** struct pollfd: int fd, short events, short revents. */
    public static final int POLLFD_SIZE = 8;
    public static final int AF_NETLINK = 16;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_WAITFORONE = 0x10000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int SO_MEMINFO = 55;

    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_NOCTTY = 0400;
    public static final int O_NONBLOCK = 04000;
    // asm-generic/fcntl.h, which x86_64 uses; arm64 has its own (arch/arm64/include/uapi/asm/fcntl.h)
    public static final int O_NOFOLLOW = "aarch64".equals(System.getProperty("os.arch")) ? 0100000 : 0400000;
    public static final int O_CLOEXEC = 02000000;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int S_IFMT = 0170000;
    public static final int S_IFREG = 0100000;
    private static final int O_RDONLY_CLOEXEC = O_CLOEXEC;
    public static final int CLONE_NEWNET = 0x40000000;

    private static final int PROT_READ = 0x1;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_SHARED = 0x01;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;

    public static final int LOG_PID = 0x01;
    public static final int LOG_CONS = 0x02;
    public static final int LOG_NDELAY = 0x08;
    public static final int LOG_DAEMON = 3 << 3;
    public static final int LOG_ERR = 3;
    public static final int LOG_WARNING = 4;
    public static final int LOG_INFO = 6;

    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EWOULDBLOCK = 11;
    public static final int ELOOP = 40;
    public static final int EPROTOTYPE = 91;
    public static final int EAGAIN = 11;
    public static final int ENOBUFS = 105;
    public static final int EPERM = 1;
    public static final int EBUSY = 16;
    public static final int ENODEV = 19;
    public static final int EBADMSG = 74;
    public static final int ETIMEDOUT = 110;
    public static final int EIO = 5;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CALL_STATE));

    private static final MethodHandle SOCKET = withErrno("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT =
            withErrno("setsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SEND = withErrno("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle RECVFROM =
            withErrno("recvfrom", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS));

    // Made on first use, not at start-up: each downcall handle of a new shape costs milliseconds
    // to link, and these are not on the way to a bound queue in the usual modes (--pmtu binds its
    // listener first) (holder-class idiom, JLS §12.4.1).
    private static final class Lazy {
        static final MethodHandle GETSOCKOPT = withErrno("getsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle SENDTO = withErrno("sendto", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle STRERROR = plain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        static final MethodHandle RECVMMSG = withErrno("recvmmsg", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle CLOSE = plain("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        static final MethodHandle BIND = withErrno("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle CONNECT = withErrno("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }

    /** A listening TCP socket (--metrics), linked when one is opened. */
    private static final class Listening {
        static final MethodHandle LISTEN = withErrno("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle ACCEPT4 = withErrno("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        static final MethodHandle GETSOCKNAME = withErrno("getsockname", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle POLL = withErrno("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        static final MethodHandle SHUTDOWN = withErrno("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    /**
     * The packet path's two calls, linked without errno capture when they are first made (after
     * the bind). A capturing call slices the capture segment each time, an allocation only C2's
     * escape analysis removes, and these calls run once per batch: they reach C2 last, long after
     * the per-packet code. Their callers learn the cause of a failure some other way.
     */
    private static final class PacketPath {
        static final MethodHandle RECVMMSG = plain("recvmmsg", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle SEND = plain("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }

    /** Memory mapping, for the receive batch, mapped when the first batch is read (after the bind). */
    private static final class Mapping {
        static final MethodHandle MMAP = withErrno("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
        static final MethodHandle MUNMAP = plain("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    /** What detaching and syslog need, linked together when tcpmssd detaches. */
    private static final class Daemonizing {
        static final MethodHandle SETSID = withErrno("setsid", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle DUP2 = withErrno("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle OPENLOG = plain("openlog", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
        // syslog(3) is variadic: the message goes through "%s", never as the format itself.
        static final MethodHandle SYSLOG = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syslog"),
                FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(2));
    }

    /** The bpf(2) system call, which glibc does not wrap: syscall(2) with its number on x86_64. */
    private static final class Bpf {
        static final long SYS_BPF = 321;
        // syscall(long number, ...): every argument after the number is variadic, and the kernel
        // reads each from a whole register, so all are passed as 64-bit values.
        static final MethodHandle SYSCALL = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syscall"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
                Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    }

    /** Files the daemon writes as root (the pidfile): opened by descriptor, never by a path twice. */
    private static final class FileCalls {
        // open(2) is variadic: the mode is its first variadic argument.
        static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("open"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(2));
        static final MethodHandle STATX = withErrno("statx", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle FLOCK = withErrno("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle FCHMOD = withErrno("fchmod", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle FTRUNCATE = withErrno("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
        static final MethodHandle PWRITE = withErrno("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        static final MethodHandle PREAD = withErrno("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        static final MethodHandle GETEUID = plain("geteuid", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle CHDIR = withErrno("chdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    /** What fstat tells of an open file, from statx(2), whose layout is the same on every architecture. */
    public record FileStatus(int mode, int links, int owner) {
        public boolean regular() {
            return (mode & S_IFMT) == S_IFREG;
        }
    }

    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int STATX_BASIC_STATS = 0x7ff;
    private static final int STATX_SIZE = 256;

    /** Namespaces: for tests that act inside a network namespace from a thread of their own. */
    private static final class Namespaces {
        static final MethodHandle SETNS = withErrno("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    /**
     * capget(2), to name the capability whose lack made the kernel answer EPERM (BEHAVIOUR §7);
     * capset(2) and prctl(2), to give up those a data path does not need. All three through one
     * syscall(2) handle, the arguments as 64-bit values (addresses too): the drop runs before
     * every start, and each handle linked costs about 10 ms there.
     */
    private static final class Capabilities {
        static final boolean ARM64 = "aarch64".equals(System.getProperty("os.arch"));
        // asm/unistd_64.h (x86_64), asm-generic/unistd.h (arm64)
        static final long SYS_CAPGET = ARM64 ? 90 : 125;
        static final long SYS_CAPSET = ARM64 ? 91 : 126;
        static final long SYS_PRCTL = ARM64 ? 167 : 157;
        static final MethodHandle SYSCALL = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syscall"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    }

    // linux/capability.h: the version whose data is two 32-bit words per set, and the numbers.
    private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;
    // linux/prctl.h
    private static final int PR_CAPBSET_READ = 23;
    private static final int PR_CAPBSET_DROP = 24;
    public static final int CAP_SETPCAP = 8;
    public static final int CAP_NET_BIND_SERVICE = 10;
    public static final int CAP_NET_ADMIN = 12;
    public static final int CAP_SYS_ADMIN = 21;
    public static final int CAP_PERFMON = 38;
    public static final int CAP_BPF = 39;

    /** Character devices (a tun device in the tests). ioctl(2) is variadic after the request. */
    private static final class Devices {
        static final MethodHandle IOCTL = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("ioctl"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
                Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
        static final MethodHandle READ = withErrno("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private Libc() {}

    /** A downcall that captures errno; its result is checked by {@link #call}. */
    @FunctionalInterface
    private interface Downcall {
        long invoke() throws Throwable;
    }

    /**
     * Makes a capturing downcall and throws its errno if it failed. For calls off the packet
     * path only: the lambda may allocate.
     */
    private static long call(String name, Downcall downcall) throws ErrnoException {
        long result;
        try {
            result = downcall.invoke();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check(name, result);
    }

    /** open(2) with a mode; returns the descriptor. */
    public static int open(String path, int flags, int mode) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(path);
            return (int) call("open " + path, () -> (int) FileCalls.OPEN.invokeExact(state(), name, flags, mode));
        }
    }

    /** The type, mode, link count and owner of an open file (statx(2) with AT_EMPTY_PATH, as fstat). */
    public static FileStatus fstat(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(STATX_SIZE, 8);
            MemorySegment empty = arena.allocateFrom("");
            call("statx", () -> (int) FileCalls.STATX.invokeExact(state(), fd, empty, AT_EMPTY_PATH, STATX_BASIC_STATS, buffer));
            // struct statx (linux/stat.h): stx_nlink at 16, stx_uid at 20, stx_mode (16 bits) at 28
            return new FileStatus(Short.toUnsignedInt(buffer.get(JAVA_SHORT, 28)), buffer.get(JAVA_INT, 16), buffer.get(JAVA_INT, 20));
        }
    }

    /** flock(2). */
    public static void flock(int fd, int operation) throws ErrnoException {
        call("flock", () -> (int) FileCalls.FLOCK.invokeExact(state(), fd, operation));
    }

    /** fchmod(2): the mode exactly, whatever the umask. */
    public static void fchmod(int fd, int mode) throws ErrnoException {
        call("fchmod", () -> (int) FileCalls.FCHMOD.invokeExact(state(), fd, mode));
    }

    /** ftruncate(2). */
    public static void ftruncate(int fd, long length) throws ErrnoException {
        call("ftruncate", () -> (int) FileCalls.FTRUNCATE.invokeExact(state(), fd, length));
    }

    /** pwrite(2) of all of {@code bytes} at {@code offset}; a short write is an error (EIO). */
    public static void pwrite(int fd, byte[] bytes, long offset) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, buffer, JAVA_BYTE, 0, bytes.length);
            long written = call("pwrite", () -> (long) FileCalls.PWRITE.invokeExact(state(), fd, buffer, (long) bytes.length, offset));
            if (written != bytes.length) {
                throw new ErrnoException("pwrite", EIO);
            }
        }
    }

    /** pread(2) of at most {@code length} bytes at {@code offset}. */
    public static byte[] pread(int fd, int length, long offset) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(1, length));
            long read = call("pread", () -> (long) FileCalls.PREAD.invokeExact(state(), fd, buffer, (long) length, offset));
            return buffer.asSlice(0, read).toArray(JAVA_BYTE);
        }
    }

    public static int geteuid() {
        try {
            return (int) FileCalls.GETEUID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** chdir(2): the detached daemon's working directory becomes "/", as with daemon(3). */
    public static void chdir(String path) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(path);
            call("chdir", () -> (int) FileCalls.CHDIR.invokeExact(state(), name));
        }
    }

    public static int socket(int domain, int type, int protocol) throws ErrnoException {
        int result;
        try {
            result = (int) SOCKET.invokeExact(state(), domain, type, protocol);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return (int) check("socket", result);
    }

    public static void bind(int fd, MemorySegment address) throws ErrnoException {
        int result;
        try {
            result = (int) Lazy.BIND.invokeExact(state(), fd, address, (int) address.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        check("bind", result);
    }

    public static void connect(int fd, MemorySegment address) throws ErrnoException {
        call("connect", () -> (int) Lazy.CONNECT.invokeExact(state(), fd, address, (int) address.byteSize()));
    }

    /**
     * A struct sockaddr_in (ip(7)) or sockaddr_in6 (ipv6(7)) in {@code arena}: the family in host
     * order, the port and the address in network order.
     */
    public static MemorySegment inetAddress(java.net.InetAddress address, int port, Arena arena) {
        byte[] bytes = address.getAddress();
        boolean ipv6 = bytes.length == 16;
        MemorySegment sockaddr = arena.allocate(ipv6 ? 28 : 16, 4);
        sockaddr.set(JAVA_SHORT, 0, (short) (ipv6 ? AF_INET6 : AF_INET));
        sockaddr.set(JAVA_BYTE, 2, (byte) (port >>> 8));
        sockaddr.set(JAVA_BYTE, 3, (byte) port);
        MemorySegment.copy(bytes, 0, sockaddr, JAVA_BYTE, ipv6 ? 8 : 4, bytes.length); // sin6_flowinfo, scope id: 0
        return sockaddr;
    }

    public static void listen(int fd, int backlog) throws ErrnoException {
        call("listen", () -> (int) Listening.LISTEN.invokeExact(state(), fd, backlog));
    }

    /** accept4(2) without the peer's address; returns the new descriptor. */
    public static int accept(int fd, int flags) throws ErrnoException {
        return (int) call("accept4", () -> (int) Listening.ACCEPT4.invokeExact(state(), fd, MemorySegment.NULL, MemorySegment.NULL, flags));
    }

    /** The port a TCP or UDP socket is bound to (getsockname(2)). */
    public static int boundPort(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sockaddr = arena.allocate(128, 4);
            MemorySegment length = arena.allocateFrom(JAVA_INT, 128);
            call("getsockname", () -> (int) Listening.GETSOCKNAME.invokeExact(state(), fd, sockaddr, length));
            return (Byte.toUnsignedInt(sockaddr.get(JAVA_BYTE, 2)) << 8) | Byte.toUnsignedInt(sockaddr.get(JAVA_BYTE, 3));
        }
    }

    /** shutdown(2) of the sending half: the peer reads the end of the stream. */
    public static void shutdownWrite(int fd) throws ErrnoException {
        call("shutdown", () -> (int) Listening.SHUTDOWN.invokeExact(state(), fd, 1)); // SHUT_WR
    }

    /** poll(2) over {@code count} struct pollfd; returns how many have events. */
    public static int poll(MemorySegment fds, int count, int timeoutMillis) throws ErrnoException {
        return (int) call("poll", () -> (int) Listening.POLL.invokeExact(state(), fds, (long) count, timeoutMillis));
    }

    /**
     * A struct sockaddr_un (unix(7)) in {@code arena}, as long as the name needs: a path gets its
     * terminating NUL, an abstract name (first byte 0) is exactly its bytes.
     */
    public static MemorySegment unixAddress(byte[] name, Arena arena) {
        MemorySegment address = arena.allocate(2 + name.length + (name.length > 0 && name[0] == 0 ? 0 : 1), 2);
        address.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(name, 0, address, JAVA_BYTE, 2, name.length); // the arena zeroes: the NUL is there
        return address;
    }

    public static void setsockopt(int fd, int level, int name, MemorySegment value) throws ErrnoException {
        int result;
        try {
            result = (int) SETSOCKOPT.invokeExact(state(), fd, level, name, value, (int) value.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        check("setsockopt", result);
    }

    public static long send(int fd, MemorySegment buffer, long length, int flags) throws ErrnoException {
        long result;
        try {
            result = (long) SEND.invokeExact(state(), fd, buffer, length, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check("send", result);
    }

    /**
     * recvfrom(2): receives one datagram into {@code buffer} and its sender's address into
     * {@code address}, whose length {@code addressLength} (a socklen_t) gives on the way in and
     * the kernel sets on the way out.
     */
    public static long recvfrom(int fd, MemorySegment buffer, long length, int flags, MemorySegment address,
            MemorySegment addressLength) throws ErrnoException {
        long result;
        try {
            result = (long) RECVFROM.invokeExact(state(), fd, buffer, length, flags, address, addressLength);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check("recvfrom", result);
    }

    /** getsockopt(2) into {@code value}; returns the length the kernel wrote. */
    public static int getsockopt(int fd, int level, int name, MemorySegment value) throws ErrnoException {
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment length = arena.allocateFrom(JAVA_INT, (int) value.byteSize());
            result = (int) Lazy.GETSOCKOPT.invokeExact(state(), fd, level, name, value, length);
            check("getsockopt", result);
            return length.get(JAVA_INT, 0);
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * recvmmsg(2) without its timeout argument (which only applies between datagrams). Returns
     * the number of datagrams, or -1 without the errno: the packet path calls it once per batch,
     * and must allocate nothing (see PacketPath).
     */
    public static int recvmmsg(int fd, MemorySegment vector, int count, int flags) {
        try {
            return (int) PacketPath.RECVMMSG.invokeExact(fd, vector, count, flags, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * send(2) as the packet path makes it: returns the bytes sent, or -1 without the errno, so
     * that nothing is allocated (see PacketPath); {@link #send} says why.
     */
    public static long sendBare(int fd, MemorySegment buffer, long length, int flags) {
        try {
            return (long) PacketPath.SEND.invokeExact(fd, buffer, length, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * recvmmsg(2) as {@link #recvmmsg}, but capturing errno, for when that failed: returns the
     * number of datagrams, or minus errno. It allocates (see PacketPath), so only failures use it.
     */
    public static int recvmmsgCapturing(int fd, MemorySegment vector, int count, int flags) {
        int result;
        try {
            result = (int) Lazy.RECVMMSG.invokeExact(state(), fd, vector, count, flags, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return result >= 0 ? result : -(int) ERRNO.get(state(), 0L);
    }

    public static long sendto(int fd, MemorySegment buffer, long length, MemorySegment address) throws ErrnoException {
        long result;
        try {
            result = (long) Lazy.SENDTO.invokeExact(state(), fd, buffer, length, 0, address, (int) address.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check("sendto", result);
    }

    /**
     * {@code size} bytes of private anonymous memory (mmap(2)), unmapped when {@code arena} closes.
     * Unlike {@link Arena#allocate}, which zeroes (and so touches) every page, a page takes
     * memory only once something is written to it: a receive buffer sized for the largest
     * datagram costs only what the datagrams that come really use.
     */
    public static MemorySegment mapAnonymous(long size, Arena arena) throws ErrnoException {
        return map(size, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L, arena);
    }

    /**
     * {@code size} bytes of the file (or BPF map) {@code fd} from {@code offset}, shared with it
     * (MAP_SHARED), read-only or writable; unmapped when {@code arena} closes.
     */
    public static MemorySegment mapShared(int fd, long size, boolean writable, long offset, Arena arena) throws ErrnoException {
        return map(size, writable ? PROT_READ_WRITE : PROT_READ, MAP_SHARED, fd, offset, arena);
    }

    private static MemorySegment map(long size, int prot, int flags, int fd, long offset, Arena arena) throws ErrnoException {
        MemorySegment address;
        try {
            address = (MemorySegment) Mapping.MMAP.invokeExact(state(), MemorySegment.NULL, size, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (address.address() == -1L) { // MAP_FAILED
            throw new ErrnoException("mmap", (int) ERRNO.get(state(), 0L));
        }
        return address.reinterpret(size, arena, mapped -> {
            try {
                int ignored = (int) Mapping.MUNMAP.invokeExact(mapped, size);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        });
    }

    /**
     * bpf(2): command {@code cmd} with its union bpf_attr in {@code attr} (the kernel reads
     * {@code attr}'s size and expects any bytes it does not know to be zero). Returns the result,
     * a new fd for the commands that make one; {@code what} names the command in an error.
     */
    public static long bpf(String what, int cmd, MemorySegment attr) throws ErrnoException {
        long result;
        try {
            result = (long) Bpf.SYSCALL.invokeExact(state(), Bpf.SYS_BPF, (long) cmd, attr, attr.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check(what, result);
    }

    /**
     * Moves the calling thread (only it: setns(2) acts on the thread) into the namespace that the
     * file at {@code path} names, e.g. /run/netns/NAME with CLONE_NEWNET. A thread that did this
     * belongs to that namespace until it ends, so it should be a thread of its own.
     */
    public static void setns(String path, int nstype) throws ErrnoException {
        int fd = open(path, O_RDONLY_CLOEXEC);
        try {
            int result;
            try {
                result = (int) Namespaces.SETNS.invokeExact(state(), fd, nstype);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            check("setns " + path, result);
        } finally {
            close(fd);
        }
    }

    /** open(2) of a path without O_CREAT (no mode); returns the new fd (O_CLOEXEC is the caller's to give). */
    public static int open(String path, int flags) throws ErrnoException {
        return open(path, flags, 0);
    }

    /** ioctl(2) with a pointer argument. */
    public static void ioctl(int fd, long request, MemorySegment argument) throws ErrnoException {
        int result;
        try {
            result = (int) Devices.IOCTL.invokeExact(state(), fd, request, argument);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        check("ioctl", result);
    }

    /** read(2) into {@code buffer}; returns the bytes read. */
    public static long read(int fd, MemorySegment buffer) throws ErrnoException {
        long result;
        try {
            result = (long) Devices.READ.invokeExact(state(), fd, buffer, buffer.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        return check("read", result);
    }

    /** The calling thread's effective capabilities (capget(2)), bit N for capability N. */
    public static long effectiveCapabilities() throws ErrnoException {
        return capabilities().effective();
    }

    /** A thread's three capability sets, bit N for capability N. */
    public record CapabilitySets(long effective, long permitted, long inheritable) {}

    /** The calling thread's capability sets (capget(2)). */
    public static CapabilitySets capabilities() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = capabilityHeader(arena);
            MemorySegment data = arena.allocate(24, 4);
            call("capget", () -> (long) Capabilities.SYSCALL.invokeExact(state(), Capabilities.SYS_CAPGET,
                    header.address(), data.address(), 0L));
            return new CapabilitySets(set(data, 0), set(data, 4), set(data, 8));
        }
    }

    /**
     * Sets the calling thread's capability sets (capset(2)). Only the calling thread's: Linux
     * keeps credentials per thread, and a thread started afterwards inherits its creator's.
     */
    public static void setCapabilities(CapabilitySets sets) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = capabilityHeader(arena);
            MemorySegment data = arena.allocate(24, 4);
            long[] words = {sets.effective(), sets.permitted(), sets.inheritable()};
            for (int i = 0; i < 3; i++) {
                data.set(JAVA_INT, 4L * i, (int) words[i]);
                data.set(JAVA_INT, 12 + 4L * i, (int) (words[i] >>> 32));
            }
            call("capset", () -> (long) Capabilities.SYSCALL.invokeExact(state(), Capabilities.SYS_CAPSET,
                    header.address(), data.address(), 0L));
        }
    }

    /**
     * The calling thread's bounding set (PR_CAPBSET_READ of each number until the kernel answers
     * EINVAL, past its last capability), bit N for capability N.
     */
    public static long boundingSet() {
        long set = 0;
        for (int cap = 0; cap < Long.SIZE; cap++) {
            long result;
            try {
                result = (long) Capabilities.SYSCALL.invokeExact(state(), Capabilities.SYS_PRCTL, (long) PR_CAPBSET_READ, (long) cap, 0L);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            if (result < 0) {
                break; // EINVAL: no capability of that number, nor above
            }
            set |= result == 1 ? 1L << cap : 0;
        }
        return set;
    }

    /** Takes {@code cap} out of the calling thread's bounding set (PR_CAPBSET_DROP; needs CAP_SETPCAP). */
    public static void dropFromBoundingSet(int cap) throws ErrnoException {
        prctl(PR_CAPBSET_DROP, cap);
    }

    private static long prctl(int option, long argument) throws ErrnoException {
        return call("prctl", () -> (long) Capabilities.SYSCALL.invokeExact(state(), Capabilities.SYS_PRCTL, (long) option, argument, 0L));
    }

    // struct __user_cap_header_struct { u32 version; int pid; }, pid 0: the calling thread.
    private static MemorySegment capabilityHeader(Arena arena) {
        MemorySegment header = arena.allocate(8, 4);
        header.set(JAVA_INT, 0, LINUX_CAPABILITY_VERSION_3);
        return header;
    }

    // struct __user_cap_data_struct { u32 effective, permitted, inheritable; }[2]: the low 32 bits, then the high.
    private static long set(MemorySegment data, int offset) {
        return (data.get(JAVA_INT, offset) & 0xffffffffL) | (data.get(JAVA_INT, 12 + offset) & 0xffffffffL) << 32;
    }

    /** Starts a new session: no controlling terminal from here on (setsid(2)). */
    public static void setsid() throws ErrnoException {
        int result;
        try {
            result = (int) Daemonizing.SETSID.invokeExact(state());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        check("setsid", result);
    }

    /** Points file descriptors 0, 1 and 2 at /dev/null, as daemon(3) does. */
    public static void stdioToDevNull() throws ErrnoException {
        int fd = open("/dev/null", O_RDWR);
        for (int target = 0; target <= 2; target++) {
            int result;
            try {
                result = (int) Daemonizing.DUP2.invokeExact(state(), fd, target);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            check("dup2", result);
        }
        if (fd > 2) {
            close(fd);
        }
    }

    /** openlog(3); the ident must outlive every later syslog call, so it lives in the global arena. */
    public static void openlog(String ident, int option, int facility) {
        try {
            Daemonizing.OPENLOG.invokeExact(Arena.global().allocateFrom(ident), option, facility);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void syslog(int priority, String message) {
        try (Arena arena = Arena.ofConfined()) {
            Daemonizing.SYSLOG.invokeExact(priority, arena.allocateFrom("%s"), arena.allocateFrom(message));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void close(int fd) {
        try {
            int ignored = (int) Lazy.CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) Lazy.STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static MemorySegment state() {
        return STATE.get();
    }

    private static long check(String call, long result) throws ErrnoException {
        if (result < 0) {
            throw new ErrnoException(call, (int) ERRNO.get(state(), 0L));
        }
        return result;
    }

    private static MethodHandle withErrno(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor,
                Linker.Option.captureCallState("errno"));
    }

    private static MethodHandle plain(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor);
    }
}
