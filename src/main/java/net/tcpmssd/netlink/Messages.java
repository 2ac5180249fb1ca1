package net.tcpmssd.netlink;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * A cursor over the netlink messages of one received datagram, {@code segment[start, end)} where
 * {@code end} is where the bytes actually received end: a message's nlmsg_len is believed only
 * as far as those bytes reach ({@link Netlink#wholeMessageLength}). A message that claims more,
 * or less than its own header, ends the walk and marks it {@link #broken()}: where it really
 * ends is unknown, so nothing after it can be placed. Reusable, like {@link Attributes}.
 */
public final class Messages {

    private MemorySegment segment;
    private long next;
    private long end;
    private long at;
    private int length;
    private boolean broken;

    /** Starts a walk over the datagram {@code segment[start, end)}. */
    public Messages over(MemorySegment segment, long start, long end) {
        this.segment = segment;
        this.next = start;
        this.end = end;
        this.length = 0;
        this.broken = false;
        return this;
    }

    /** Moves to the next whole message; false at the end of the datagram or at a broken one. */
    public boolean next() {
        if (next >= end) {
            return false;
        }
        int whole = Netlink.wholeMessageLength(segment, next, end);
        if (whole == 0) {
            broken = true;
            next = end;
            length = 0;
            return false;
        }
        at = next;
        length = whole;
        next = at + Netlink.align(whole);
        return true;
    }

    /** True if bytes were left that did not make a whole message: the walk did not read them. */
    public boolean broken() {
        return broken;
    }

    public MemorySegment segment() {
        return segment;
    }

    /** Where the current message starts in the segment. */
    public long at() {
        return at;
    }

    /** The current message's nlmsg_len (within the bytes received). */
    public int length() {
        return length;
    }

    /** Where the datagram's bytes end in the segment. */
    public long end() {
        return end;
    }

    /** True if nothing of the datagram follows the current message (it may grow into its slot). */
    public boolean last() {
        return next >= end;
    }

    public int type() {
        return segment.get(JAVA_SHORT_UNALIGNED, at + 4) & 0xffff;
    }

    public int flags() {
        return segment.get(JAVA_SHORT_UNALIGNED, at + 6) & 0xffff;
    }

    public int sequence() {
        return segment.get(JAVA_INT_UNALIGNED, at + 8);
    }

    /** The length of the message's payload after its header. */
    public int payloadLength() {
        return length - Netlink.HEADER;
    }

    /**
     * Points {@code attributes} at what follows the header and a family's fixed header of
     * {@code fixedHeader} bytes (struct ifinfomsg, rtmsg, nfgenmsg) and returns it; a message too
     * short for that fixed header has no attributes and leaves the cursor {@link Attributes#broken()}.
     */
    public Attributes attributes(Attributes attributes, int fixedHeader) {
        return attributes.over(segment, at + Netlink.HEADER + fixedHeader, at + length);
    }

    /** A host-order u32 of the payload (a fixed header's field), {@code offset} bytes in; 0 if the payload is shorter. */
    public int payloadU32(int offset) {
        return offset >= 0 && offset <= payloadLength() - 4 ? segment.get(JAVA_INT_UNALIGNED, at + Netlink.HEADER + offset) : 0;
    }

    /** What {@link #error()} says of a message too short to carry an errno, or carrying no errno. */
    public static final int MALFORMED = -1;

    /**
     * The errno an NLMSG_ERROR message carries (struct nlmsgerr starts with the negated errno;
     * NLMSG_DONE carries a dump's result the same way): 0 for an acknowledgement, else positive;
     * {@link #MALFORMED} if the payload is shorter than those 4 bytes or holds no negated errno
     * (the kernel's are below 4096, include/linux/err.h).
     */
    public int error() {
        if (payloadLength() < 4) {
            return MALFORMED;
        }
        int error = payloadU32(0);
        return error <= 0 && error > -4096 ? -error : MALFORMED;
    }
}
