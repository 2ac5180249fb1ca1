package net.tcpmssd.queue;

import java.lang.foreign.MemorySegment;

/**
 * One packet the kernel queued, as a view into the receive buffer: valid only during the handler
 * call, and reused for the next packet (no object per packet).
 */
public final class QueuedPacket {

    // Netfilter hooks (enum nf_inet_hooks, linux/netfilter.h).
    public static final int PRE_ROUTING = 0;
    public static final int LOCAL_IN = 1;
    public static final int FORWARD = 2;
    public static final int LOCAL_OUT = 3;
    public static final int POST_ROUTING = 4;

    int id;
    int hook;
    int inInterface;
    int outInterface;
    MemorySegment buffer;
    long offset;
    int length;
    int capacity;

    /** The netfilter hook it was queued at. */
    public int hook() {
        return hook;
    }

    /**
     * BEHAVIOUR §2: queued before the routing decision for this host or on the way in (PREROUTING,
     * INPUT) is incoming; FORWARD, OUTPUT and POSTROUTING are outgoing.
     */
    public boolean incoming() {
        return hook == PRE_ROUTING || hook == LOCAL_IN;
    }

    /** Interface index it came in on, 0 if none (locally generated). */
    public int inInterface() {
        return inInterface;
    }

    /** Interface index it goes out on, 0 if not known yet (PREROUTING, INPUT). */
    public int outInterface() {
        return outInterface;
    }

    /** The packet, IP header first: {@code buffer[offset, offset + length)}. May be changed in place. */
    public MemorySegment buffer() {
        return buffer;
    }

    public long offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    /**
     * How long the packet may grow in place: the room left in the receive slot after it (only
     * when nothing else follows it there), capped at the largest IP packet.
     */
    public int capacity() {
        return capacity;
    }

    /** The handler grew (or shrank) the packet in place; the verdict carries this many bytes. */
    public void resize(int newLength) {
        if (newLength < 0 || newLength > capacity) {
            throw new IllegalArgumentException("packet length " + newLength + " outside 0.." + capacity);
        }
        length = newLength;
    }

    /** The version nibble of the IP header (4 or 6 for packets worth looking at), 0 if empty. */
    public int ipVersion() {
        return length > 0 ? (buffer.get(java.lang.foreign.ValueLayout.JAVA_BYTE, offset) & 0xf0) >>> 4 : 0;
    }
}
