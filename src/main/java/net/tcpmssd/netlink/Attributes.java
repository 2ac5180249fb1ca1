package net.tcpmssd.netlink;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A cursor over the netlink attributes (struct nlattr, linux/netlink.h) of one region: a message's
 * body after its fixed header, or a nested attribute's payload. Every read is checked against the
 * current attribute's payload, so a short attribute yields 0 and marks itself {@link #truncated()}
 * instead of reading into its neighbour; an attribute whose length is below its header or runs past
 * the region ends the walk and marks it {@link #broken()}. Nothing after a lying length can be
 * placed, so nothing after it is read (the kernel's nla_ok() stops the same way).
 *
 * <p>Reusable: {@link #over} starts a new walk, so the packet path keeps one and allocates nothing.
 * Values are host order ({@link #u16}, {@link #u32}: rtnetlink) or big-endian ({@link #be16},
 * {@link #be32}: netfilter), as each family defines its attributes.
 */
public final class Attributes {

    private static final int HEADER = Netlink.ATTRIBUTE_HEADER;
    /** NLA_F_NESTED: the kernel sets it on nests it builds with nla_nest_start(), not on old ones. */
    private static final int NESTED = 0x8000;
    private static final ValueLayout.OfShort BE16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private MemorySegment segment;
    private long next;
    private long end;
    private long payload;
    private int length;
    private int typeBits;
    private boolean broken;
    private boolean truncated;

    /**
     * Starts a walk over {@code segment[from, to)}. An inverted region (a fixed header longer than
     * its message) has no attributes and is {@link #broken()} from the start.
     */
    public Attributes over(MemorySegment segment, long from, long to) {
        this.segment = segment;
        this.next = from;
        this.end = Math.max(from, to);
        this.length = 0;
        this.broken = to < from;
        this.truncated = false;
        return this;
    }

    /**
     * Moves to the next attribute; false at the end of the region, or when the next attribute's
     * header is not whole or its length does not fit (then {@link #broken()} says so). The last
     * attribute may lack its padding: the kernel does not always send it (nla_ok()).
     */
    public boolean next() {
        truncated = false;
        if (next >= end) {
            return false;
        }
        long at = next;
        if (at + HEADER > end) {
            return stop();
        }
        int declared = segment.get(JAVA_SHORT_UNALIGNED, at) & 0xffff;
        if (declared < HEADER || at + declared > end) {
            return stop();
        }
        typeBits = segment.get(JAVA_SHORT_UNALIGNED, at + 2) & 0xffff;
        payload = at + HEADER;
        length = declared - HEADER;
        next = at + Netlink.align(declared);
        return true;
    }

    private boolean stop() {
        broken = true;
        next = end;
        length = 0;
        return false;
    }

    /** True if the walk ended at an attribute whose length was impossible: the rest was not read. */
    public boolean broken() {
        return broken;
    }

    /** True if a read of the current attribute asked for bytes beyond its payload (and got 0). */
    public boolean truncated() {
        return truncated;
    }

    /** The current attribute's type, without the NLA_F_NESTED and NLA_F_NET_BYTEORDER flags. */
    public int type() {
        return typeBits & Netlink.ATTRIBUTE_TYPE_MASK;
    }

    /** True if the sender marked the current attribute as a nest (older nests are not marked). */
    public boolean markedNested() {
        return (typeBits & NESTED) != 0;
    }

    /** The current attribute's payload length, without header and padding. */
    public int length() {
        return length;
    }

    /** Where the current attribute's payload starts in the segment. */
    public long offset() {
        return payload;
    }

    public int u8(int at) {
        return fits(at, 1) ? segment.get(JAVA_BYTE, payload + at) & 0xff : 0;
    }

    public int u16(int at) {
        return fits(at, 2) ? segment.get(JAVA_SHORT_UNALIGNED, payload + at) & 0xffff : 0;
    }

    public int u32(int at) {
        return fits(at, 4) ? segment.get(JAVA_INT_UNALIGNED, payload + at) : 0;
    }

    public int be16(int at) {
        return fits(at, 2) ? segment.get(BE16, payload + at) & 0xffff : 0;
    }

    public int be32(int at) {
        return fits(at, 4) ? segment.get(BE32, payload + at) : 0;
    }

    /** The payload as text, up to its first NUL (NLA_STRING and NLA_NUL_STRING alike). */
    public String string() {
        int text = 0;
        while (text < length && segment.get(JAVA_BYTE, payload + text) != 0) {
            text++;
        }
        return new String(bytes(), 0, text, StandardCharsets.UTF_8);
    }

    /** A copy of the payload. */
    public byte[] bytes() {
        return segment.asSlice(payload, length).toArray(JAVA_BYTE);
    }

    /**
     * Points {@code inner} at the current attribute's payload, to walk the attributes nested in
     * it, and returns it. The caller knows which types nest: old nests (RTA_METRICS among them,
     * nla_nest_start_noflag()) do not carry NLA_F_NESTED.
     */
    public Attributes nested(Attributes inner) {
        return inner.over(segment, payload, payload + length);
    }

    private boolean fits(int at, int size) {
        if (at < 0 || at > length - size) {
            truncated = true;
            return false;
        }
        return true;
    }
}
