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
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_LEN = 56;

    public final MemorySegment data;
    final MemorySegment vector;
    final int count;
    public final int slotSize;

    public DatagramBatch(Arena arena, int count, int slotSize) throws ErrnoException {
        this.count = count;
        this.slotSize = slotSize;
        this.data = Libc.mapAnonymous((long) count * slotSize, arena);
        MemorySegment iovecs = arena.allocate((long) count * IOVEC, 8);
        this.vector = arena.allocate((long) count * MMSGHDR, 8);
        for (int i = 0; i < count; i++) {
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

    /** Puts a datagram into slot {@code i} as a receive would: for running the packet path without the kernel. */
    public void fill(int i, MemorySegment datagram) {
        MemorySegment.copy(datagram, 0, data, offset(i), datagram.byteSize());
        vector.set(JAVA_INT, (long) i * MMSGHDR + MSG_LEN, (int) datagram.byteSize());
    }

    /** How many bytes the last receive put into slot {@code i}. */
    public int length(int i) {
        return vector.get(JAVA_INT, (long) i * MMSGHDR + MSG_LEN);
    }
}
