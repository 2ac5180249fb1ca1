package net.tcpmssd.os;

import static java.lang.foreign.ValueLayout.ADDRESS;
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
    public static final int AF_NETLINK = 16;
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

    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;

    public static final int LOG_PID = 0x01;
    public static final int LOG_NDELAY = 0x08;
    public static final int LOG_DAEMON = 3 << 3;
    public static final int LOG_ERR = 3;
    public static final int LOG_WARNING = 4;
    public static final int LOG_INFO = 6;

    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int ENOBUFS = 105;
    public static final int EPERM = 1;
    public static final int EBUSY = 16;
    public static final int ENODEV = 19;
    public static final int EBADMSG = 74;
    public static final int ETIMEDOUT = 110;

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
        static final MethodHandle OPEN = withErrno("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle DUP2 = withErrno("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final MethodHandle OPENLOG = plain("openlog", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
        // syslog(3) is variadic: the message goes through "%s", never as the format itself.
        static final MethodHandle SYSLOG = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syslog"),
                FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), Linker.Option.firstVariadicArg(2));
    }

    private Libc() {}

    // A downcall throws nothing of its own: a Throwable out of invokeExact is a bug in this file.

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
        MemorySegment address;
        try {
            address = (MemorySegment) Mapping.MMAP.invokeExact(state(), MemorySegment.NULL, size, PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS, -1, 0L);
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
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = (int) check("open /dev/null", (int) Daemonizing.OPEN.invokeExact(state(), arena.allocateFrom("/dev/null"), O_RDWR));
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
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
