package net.tcpmssd.netlink;

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

    /** The netfilter hook it was queued at. */
    public int hook() {
        return hook;
    }

    /**
     * SPEC §2: queued before the routing decision for this host or on the way in (PREROUTING,
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

    /** The version nibble of the IP header (4 or 6 for packets worth looking at), 0 if empty. */
    public int ipVersion() {
        return length > 0 ? (buffer.get(java.lang.foreign.ValueLayout.JAVA_BYTE, offset) & 0xf0) >>> 4 : 0;
    }
}
