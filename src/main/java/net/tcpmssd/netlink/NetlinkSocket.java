package net.tcpmssd.netlink;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/** An AF_NETLINK socket: the thin typed layer over the file descriptor. */
public final class NetlinkSocket implements NetlinkChannel, AutoCloseable {

    public static final int NETLINK_ROUTE = 0;
    public static final int NETLINK_NETFILTER = 12;
    private static final int SOL_NETLINK = 270;

    private static final int SOCKADDR_NL = 12; // struct sockaddr_nl: family, pad, nl_pid, nl_groups
    private static final int NL_PID = 4;

    private final int fd;
    /** sk_drops when the last failed batch receive looked (receiving thread only). */
    private long dropsSeen;
    /** The sender's struct sockaddr_nl and its socklen_t, for recvfrom (one receiving thread at a time). */
    private final MemorySegment from = Arena.ofAuto().allocate(SOCKADDR_NL, 4);
    private final MemorySegment fromLength = Arena.ofAuto().allocate(JAVA_INT);

    private NetlinkSocket(int fd) {
        this.fd = fd;
    }

    /**
     * Opens a netlink socket of this protocol for requests, with {@link Requests#REPLY_TIMEOUT}
     * as its receive timeout: no receive on it waits for ever. It is not bound: the kernel binds
     * it to a port id of its choosing at the first send (netlink(7)), which spares start-up the
     * linking of bind(2).
     */
    public static NetlinkSocket open(int protocol) throws ErrnoException {
        NetlinkSocket socket = new NetlinkSocket(Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol));
        try {
            socket.setReceiveTimeout(Requests.REPLY_TIMEOUT);
        } catch (ErrnoException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    /**
     * An rtnetlink socket that listens to these multicast groups (RTMGRP_* bits), with a short
     * receive timeout so that its listening thread notices when it should stop. It is bound
     * explicitly: the kernel sends its own notifications from port id 0 and skips the sockets
     * whose port id equals the sender's (do_one_broadcast()), so an unbound socket hears none.
     */
    static NetlinkSocket subscribe(int groups) throws ErrnoException {
        NetlinkSocket socket = open(NETLINK_ROUTE);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(12); // struct sockaddr_nl
            address.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
            address.set(JAVA_INT, 8, groups);
            Libc.bind(socket.fd, address);
            socket.setReceiveTimeout(Duration.ofMillis(200));
        } catch (ErrnoException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    public void setOption(int level, int name, int value) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            Libc.setsockopt(fd, level, name, arena.allocateFrom(JAVA_INT, value));
        }
    }

    public void setNetlinkOption(int name, int value) throws ErrnoException {
        setOption(SOL_NETLINK, name, value);
    }

    /**
     * Asks for a large receive buffer: SO_RCVBUFFORCE passes net.core.rmem_max (it needs
     * CAP_NET_ADMIN, which a queue owner has); SO_RCVBUF is the fallback within the limit.
     */
    public void setReceiveBuffer(int bytes) throws ErrnoException {
        try {
            setOption(Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, bytes);
        } catch (ErrnoException e) {
            setOption(Libc.SOL_SOCKET, Libc.SO_RCVBUF, bytes);
        }
    }

    /** Makes a blocking receive return empty after this long, so a loop can notice it should stop. */
    public void setReceiveTimeout(Duration timeout) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timeval = arena.allocate(16);
            timeval.set(JAVA_LONG, 0, timeout.toSeconds());
            timeval.set(JAVA_LONG, 8, timeout.toMillisPart() * 1000L);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, timeval);
        }
    }

    /**
     * Messages the kernel could not deliver because this socket's receive buffer was full
     * (sk_drops, from SO_MEMINFO's SK_MEMINFO_DROPS).
     */
    public long drops() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment meminfo = arena.allocate(9 * 4); // SK_MEMINFO_VARS
            Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_MEMINFO, meminfo);
            return Integer.toUnsignedLong(meminfo.get(JAVA_INT, 8 * 4));
        }
    }

    /** Sends one datagram (which may hold several netlink messages) to the kernel. */
    @Override
    public void send(MemorySegment buffer, long length) throws ErrnoException {
        Libc.send(fd, buffer, length, 0);
    }

    /**
     * {@link #send} for the packet path, which must allocate nothing: the call does not capture
     * errno (see Libc). A netlink send to the kernel is handled whole or not at all
     * (netlink_sendmsg fails only before netlink_rcv sees it), so a failed send is simply made once
     * more through the call that captures errno: it succeeds, or says why.
     */
    public void sendBatch(MemorySegment buffer, long length) throws ErrnoException {
        if (Libc.sendBare(fd, buffer, length, 0) < 0) {
            Libc.send(fd, buffer, length, 0);
        }
    }

    /**
     * Receives one datagram (which may hold several netlink messages) into {@code buffer} at
     * {@code offset}, and notes its sender for {@link #sender()}. Returns its length, or 0 when
     * nothing came: the timeout passed, a signal interrupted the wait, or (with {@code dontWait})
     * nothing was waiting.
     */
    @Override
    public int receive(MemorySegment buffer, long offset, boolean dontWait) throws ErrnoException {
        // Any local process may send to our port id (netlink(7) allows unicast between sockets),
        // so the sender is read, never assumed; a slot the call did not fill reads as a stranger.
        from.set(JAVA_INT, NL_PID, -1);
        fromLength.set(JAVA_INT, 0, SOCKADDR_NL);
        try {
            return (int) Libc.recvfrom(fd, buffer.asSlice(offset), buffer.byteSize() - offset, dontWait ? Libc.MSG_DONTWAIT : 0,
                    from, fromLength);
        } catch (ErrnoException e) {
            if (e.errno() == Libc.EAGAIN || e.errno() == Libc.EINTR) {
                return 0;
            }
            throw e;
        }
    }

    @Override
    public int sender() {
        return from.get(JAVA_INT, NL_PID);
    }

    /** What {@link #receive(DatagramBatch)} returns when the socket overflowed (ENOBUFS). */
    public static final int OVERRUN = -1;

    /**
     * Receives up to a batch of datagrams in one recvmmsg(2): waits (up to the receive timeout) for
     * the first, then takes only what is already there. Returns how many came (0 after the
     * timeout or a signal), or {@link #OVERRUN}: the kernel could not queue some packets to us.
     *
     * <p>The call does not capture errno (it must allocate nothing, see Libc). When it fails, the
     * socket's drop count tells an overrun: netlink_overrun() counts in sk_drops every message it
     * could not queue, and reports ENOBUFS only once. Otherwise the call is made once more without
     * waiting, capturing errno: a timeout or a signal answers EAGAIN or EINTR (or data that came
     * meanwhile), and any other error is thrown rather than retried in a tight loop.
     */
    public int receive(DatagramBatch batch) throws ErrnoException {
        int result = Libc.recvmmsg(fd, batch.vector, batch.count, Libc.MSG_WAITFORONE);
        if (result >= 0) {
            return result;
        }
        long drops = drops();
        if (drops != dropsSeen) {
            dropsSeen = drops;
            return OVERRUN;
        }
        int again = Libc.recvmmsgCapturing(fd, batch.vector, batch.count, Libc.MSG_DONTWAIT);
        if (again >= 0) {
            return again;
        }
        return switch (-again) {
            case Libc.EAGAIN, Libc.EINTR -> 0;
            case Libc.ENOBUFS -> OVERRUN;
            default -> throw new ErrnoException("recvmmsg", -again);
        };
    }

    @Override
    public void close() {
        Libc.close(fd);
    }
}
