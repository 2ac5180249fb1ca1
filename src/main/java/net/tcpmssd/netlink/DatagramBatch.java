package net.tcpmssd.netlink;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Many datagrams in one recvmmsg(2): {@code count} slots of {@code slotSize} bytes in one native
 * buffer, with the mmsghdr and iovec arrays that point at them built once.
 *
 * <p>Slots are as large as the largest message the kernel can send, so nothing is ever truncated:
 * 64 slots of 68 KiB, 4.4 MiB of address space per queue, mapped once. Only the pages that
 * datagrams are written to take memory: a SYN's datagram uses one page of its slot.
 */
public final class DatagramBatch {

    private static final int IOVEC = 16;     // struct iovec: base, length
    private static final int MMSGHDR = 64;   // struct mmsghdr: struct msghdr (56) + msg_len + padding
    private static final int MSG_NAME = 0;
    private static final int MSG_NAMELEN = 8;
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_LEN = 56;
    private static final int SOCKADDR_NL = 12; // family, pad, nl_pid, nl_groups
    private static final int NL_PID = 4;
    private static final int NOBODY = -1;

    public final MemorySegment data;
    final MemorySegment vector;
    private final MemorySegment senders;
    final int count;
    public final int slotSize;

    public DatagramBatch(Arena arena, int count, int slotSize) throws ErrnoException {
        this.count = count;
        this.slotSize = slotSize;
        this.data = Libc.mapAnonymous((long) count * slotSize, arena);
        MemorySegment iovecs = arena.allocate((long) count * IOVEC, 8);
        this.vector = arena.allocate((long) count * MMSGHDR, 8);
        this.senders = arena.allocate((long) count * SOCKADDR_NL, 4);
        for (int i = 0; i < count; i++) {
            MemorySegment sender = senders.asSlice((long) i * SOCKADDR_NL, SOCKADDR_NL);
            sender.set(JAVA_INT, NL_PID, NOBODY);
            // The kernel writes msg_namelen back as 12 for netlink, so it stays right for every call.
            vector.set(ADDRESS, (long) i * MMSGHDR + MSG_NAME, sender);
            vector.set(JAVA_INT, (long) i * MMSGHDR + MSG_NAMELEN, SOCKADDR_NL);
            MemorySegment iovec = iovecs.asSlice((long) i * IOVEC, IOVEC);
            iovec.set(ADDRESS, 0, data.asSlice((long) i * slotSize, slotSize));
            iovec.set(JAVA_LONG, 8, slotSize);
            vector.set(ADDRESS, (long) i * MMSGHDR + MSG_IOV, iovec);
            vector.set(JAVA_LONG, (long) i * MMSGHDR + MSG_IOVLEN, 1);
        }
    }

    /** Where slot {@code i} starts in {@link #data}. */
    public long offset(int i) {
        return (long) i * slotSize;
    }

    /**
     * Puts a datagram into slot {@code i} as a receive from the kernel would (its sender the
     * kernel's port 0): for running the packet path without the kernel (the warm-up).
     */
    public void fill(int i, MemorySegment datagram) {
        MemorySegment.copy(datagram, 0, data, offset(i), datagram.byteSize());
        vector.set(JAVA_INT, (long) i * MMSGHDR + MSG_LEN, (int) datagram.byteSize());
        senders.set(JAVA_INT, (long) i * SOCKADDR_NL + NL_PID, 0);
    }

    /** How many bytes the last receive put into slot {@code i}. */
    public int length(int i) {
        return vector.get(JAVA_INT, (long) i * MMSGHDR + MSG_LEN);
    }

    /** The port id (nl_pid) that sent the datagram in slot {@code i}; the kernel's is 0. */
    public int sender(int i) {
        return senders.get(JAVA_INT, (long) i * SOCKADDR_NL + NL_PID);
    }

    /**
     * Marks the first {@code n} slots' senders unknown again once read, so that a slot the next
     * receive does not fill can never pass for the kernel's.
     */
    public void forgetSenders(int n) {
        for (int i = 0; i < n; i++) {
            senders.set(JAVA_INT, (long) i * SOCKADDR_NL + NL_PID, NOBODY);
        }
    }
}
