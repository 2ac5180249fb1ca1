package net.tcpmssd.netlink;

import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;

/**
 * What a {@link Requests} exchange needs of a netlink socket: send a datagram, receive one, and
 * say who sent it. {@link NetlinkSocket} is the real one; tests put a scripted one in its place.
 */
public interface NetlinkChannel {

    /** The port id the kernel sends from (netlink(7): nl_pid 0). */
    int KERNEL = 0;

    void send(MemorySegment buffer, long length) throws ErrnoException;

    /**
     * Receives one datagram into {@code buffer} at {@code offset}: its length, or 0 when nothing
     * came within the receive timeout (or a signal interrupted the wait, or with
     * {@code dontWait} nothing was waiting).
     */
    int receive(MemorySegment buffer, long offset, boolean dontWait) throws ErrnoException;

    /** The port id (nl_pid) that sent the datagram the last {@link #receive} returned. */
    int sender();
}
