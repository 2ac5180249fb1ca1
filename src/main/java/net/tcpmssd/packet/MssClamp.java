package net.tcpmssd.packet;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The packet core: lowers the MSS option of TCP SYN segments, in place, for IPv4 and IPv6.
 *
 * <p>Pure logic, no I/O and no allocation: a packet (IP header first) lies in a memory segment at
 * an offset with a length; the method reads it, rewrites MSS options that exceed the maximum, fixes
 * the TCP checksum incrementally and says what it did. Any packet it does not fully understand is
 * left byte-for-byte as it came (BEHAVIOUR §4): a router must never break what it cannot parse.
 *
 * <p>Like the kernel's xt_TCPMSS.c, one routine serves both IP versions: each version only finds
 * where the TCP header starts; the TCP work is shared.
 */
public final class MssClamp {

    /** Told of every MSS option that was lowered, for the -v log. May be null. */
    @FunctionalInterface
    public interface Observer {
        void lowered(int from, int to);
    }

    private static final ValueLayout.OfShort U16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static final int IPPROTO_TCP = 6;
    // IPv6 extension headers that tcpmssd walks through (RFC 8200 §4). Anything else, notably
    // ESP (50, the TCP header is encrypted) and AH (51, it authenticates the header we would
    // change), ends the walk and leaves the packet alone.
    private static final int IPV6_HOP_BY_HOP = 0;
    private static final int IPV6_ROUTING = 43;
    private static final int IPV6_FRAGMENT = 44;
    private static final int IPV6_DEST_OPTIONS = 60;

    /**
     * The most IPv6 extension headers walked on the way to TCP; a packet whose chain is longer
     * is NOT_TCP. RFC 8200 §4.1 recommends each header at most once (the destination options
     * twice), so a real chain has at most 6 of the kinds walked here; the bound is what lets the
     * in-kernel program (net.tcpmssd.bpf.ClampProgram) walk exactly the same chains, since the
     * verifier accepts only bounded walks, and it bounds this loop too.
     */
    public static final int IPV6_EXTENSION_HEADER_LIMIT = 8;

    private static final int TCP_MIN_HEADER = 20;
    private static final int TCP_FLAG_SYN = 0x02;
    private static final int TCP_OPT_EOL = 0;
    private static final int TCP_OPT_NOP = 1;
    private static final int TCP_OPT_MSS = 2;
    private static final int TCP_OPT_MSS_LEN = 4;

    private MssClamp() {}

    /**
     * Lowers every MSS option of a TCP SYN in {@code packet[offset, offset + length)} to at most
     * {@code max} for the packet's IP version.
     */
    public static Outcome clamp(MemorySegment packet, long offset, int length, MaxMss max, Observer observer) {
        int tcp = tcpStart(packet, offset, length);
        if (tcp < 0) {
            return tcp == NOT_TCP ? Outcome.NOT_TCP : Outcome.MALFORMED;
        }
        return tcp(packet, offset + tcp, length - tcp, max.forVersion(u8(packet, offset) >>> 4), observer);
    }

    // tcpStart's answers when there is no TCP header to work on.
    private static final int MALFORMED = -1;
    private static final int NOT_TCP = -2;

    /** Where the TCP header starts, from the packet's start; or MALFORMED, or NOT_TCP. */
    private static int tcpStart(MemorySegment p, long off, int length) {
        if (length < 1) {
            return MALFORMED;
        }
        return switch (u8(p, off) >>> 4) {
            case 4 -> ipv4TcpStart(p, off, length);
            case 6 -> ipv6TcpStart(p, off, length);
            default -> MALFORMED;
        };
    }

    private static int ipv4TcpStart(MemorySegment p, long off, int length) {
        if (length < 20) {
            return MALFORMED;
        }
        int headerLength = (u8(p, off) & 0x0f) * 4;
        if (headerLength < 20 || headerLength > length || u16(p, off + 2) != length) {
            return MALFORMED;
        }
        // A non-zero fragment offset means this piece carries no TCP header (RFC 791). The first
        // fragment (offset 0, MF set) is treated: the incremental checksum update stays right
        // for the whole reassembled segment because it only adds the difference.
        if ((u16(p, off + 6) & 0x1fff) != 0 || u8(p, off + 9) != IPPROTO_TCP) {
            return NOT_TCP;
        }
        return headerLength;
    }

    private static int ipv6TcpStart(MemorySegment p, long off, int length) {
        if (length < 40 || u16(p, off + 4) + 40 != length) {
            return MALFORMED;
        }
        int next = u8(p, off + 6);
        int at = 40;
        for (int headers = 0; next != IPPROTO_TCP; headers++) {
            if (headers == IPV6_EXTENSION_HEADER_LIMIT) {
                return NOT_TCP;
            }
            if (at + 8 > length) {
                return MALFORMED;
            }
            switch (next) {
                case IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_DEST_OPTIONS -> {
                    // Hdr Ext Len counts 8-octet units, not including the first 8 (RFC 8200 §4.3).
                    next = u8(p, off + at);
                    at += (u8(p, off + at + 1) + 1) * 8;
                }
                case IPV6_FRAGMENT -> {
                    if ((u16(p, off + at + 2) & 0xfff8) != 0) {
                        return NOT_TCP; // a later fragment: no TCP header here
                    }
                    next = u8(p, off + at);
                    at += 8;
                }
                default -> {
                    return NOT_TCP;
                }
            }
        }
        return at > length ? MALFORMED : at;
    }

    /**
     * --add-mss: gives a SYN without an MSS option one, as the kernel's TCPMSS target does. A peer
     * that gets no MSS assumes 536 (IPv4) or 1220 (IPv6) (RFC 9293 §3.7.1, RFC 8200 §8.3), so
     * that is what is written, or the maximum if it is smaller.
     *
     * <p>Only when it is safe: a SYN with no payload (inserting would shift data and might make
     * the segment too large), a header with room for 4 more bytes (data offset below 15), an
     * option list walked to its end without finding an MSS, and {@code capacity} for 4 more bytes.
     * The option goes first, the others move back by 4 bytes, which keeps their 16-bit words
     * aligned: the TCP checksum then only has to add the new words and the changed lengths.
     *
     * @return the packet's new length, or {@code length} if nothing was added
     */
    public static int addMss(MemorySegment p, long off, int length, int capacity, MaxMss max) {
        int tcpAt = tcpStart(p, off, length);
        if (tcpAt < 0 || capacity < length + TCP_OPT_MSS_LEN || length - tcpAt < TCP_MIN_HEADER) {
            return length;
        }
        long tcp = off + tcpAt;
        int headerLength = (u8(p, tcp + 12) >>> 4) * 4;
        if (headerLength < TCP_MIN_HEADER || headerLength != length - tcpAt || headerLength + TCP_OPT_MSS_LEN > 60
                || (u8(p, tcp + 13) & TCP_FLAG_SYN) == 0 || !optionsEndWithoutMss(p, tcp, headerLength)) {
            return length;
        }
        boolean ipv6 = u8(p, off) >>> 4 == 6;
        int mss = addedMss(ipv6 ? 6 : 4, max);

        MemorySegment.copy(p, tcp + TCP_MIN_HEADER, p, tcp + TCP_MIN_HEADER + TCP_OPT_MSS_LEN, headerLength - TCP_MIN_HEADER);
        setU16(p, tcp + TCP_MIN_HEADER, (TCP_OPT_MSS << 8) | TCP_OPT_MSS_LEN);
        setU16(p, tcp + TCP_MIN_HEADER + 2, mss);
        int offsetWord = u16(p, tcp + 12);
        setU16(p, tcp + 12, offsetWord + 0x1000); // data offset + 1 (four bytes)

        int checksum = u16(p, tcp + 16);
        checksum = replaced(checksum, offsetWord, offsetWord + 0x1000);
        checksum = replaced(checksum, headerLength, headerLength + TCP_OPT_MSS_LEN); // pseudo-header TCP length
        checksum = replaced(checksum, 0, (TCP_OPT_MSS << 8) | TCP_OPT_MSS_LEN);
        checksum = replaced(checksum, 0, mss);
        setU16(p, tcp + 16, checksum);
        if (ipv6) {
            setU16(p, off + 4, length + TCP_OPT_MSS_LEN - 40);
        } else {
            setU16(p, off + 2, length + TCP_OPT_MSS_LEN);
            setU16(p, off + 10, replaced(u16(p, off + 10), length, length + TCP_OPT_MSS_LEN));
        }
        return length + TCP_OPT_MSS_LEN;
    }

    /** The MSS --add-mss writes for this IP version: what a peer assumes without one, or less. */
    public static int addedMss(int ipVersion, MaxMss max) {
        return ipVersion == 6 ? Math.min(max.ipv6(), 1220) : Math.min(max.ipv4(), 536);
    }

    /** True if the option walk reaches the end of the header (or EOL) cleanly and meets no MSS. */
    private static boolean optionsEndWithoutMss(MemorySegment p, long tcp, int headerLength) {
        int at = TCP_MIN_HEADER;
        while (at < headerLength) {
            int kind = u8(p, tcp + at);
            if (kind == TCP_OPT_EOL) {
                return true;
            }
            if (kind == TCP_OPT_NOP) {
                at++;
                continue;
            }
            if (at + 1 >= headerLength) {
                return false;
            }
            int optionLength = u8(p, tcp + at + 1);
            if (optionLength < 2 || at + optionLength > headerLength || kind == TCP_OPT_MSS) {
                return false;
            }
            at += optionLength;
        }
        return true;
    }

    /** The shared TCP part: {@code tcp} is where the TCP header starts, {@code length} what follows. */
    private static Outcome tcp(MemorySegment p, long tcp, int length, int maxMss, Observer observer) {
        if (length < TCP_MIN_HEADER) {
            return Outcome.MALFORMED;
        }
        int headerLength = (u8(p, tcp + 12) >>> 4) * 4;
        if (headerLength < TCP_MIN_HEADER || headerLength > length) {
            return Outcome.MALFORMED;
        }
        if ((u8(p, tcp + 13) & TCP_FLAG_SYN) == 0) {
            return Outcome.NOT_SYN;
        }
        boolean sawMss = false;
        boolean lowered = false;
        // The option walk of RFC 9293 §3.1: EOL ends the list, NOP is a single byte, every other
        // kind carries a length that counts itself and its kind. A length that is too small or
        // runs past the header means the rest cannot be trusted: stop, keep what was done.
        int at = TCP_MIN_HEADER;
        while (at < headerLength) {
            int kind = u8(p, tcp + at);
            if (kind == TCP_OPT_EOL) {
                break;
            }
            if (kind == TCP_OPT_NOP) {
                at++;
                continue;
            }
            if (at + 1 >= headerLength) {
                break;
            }
            int optionLength = u8(p, tcp + at + 1);
            if (optionLength < 2 || at + optionLength > headerLength) {
                break;
            }
            if (kind == TCP_OPT_MSS && optionLength == TCP_OPT_MSS_LEN) {
                sawMss = true;
                int mss = u16(p, tcp + at + 2);
                if (mss > maxMss) {
                    setU16(p, tcp + at + 2, maxMss);
                    replaceInChecksum(p, tcp, at + 2, mss, maxMss);
                    lowered = true;
                    if (observer != null) {
                        observer.lowered(mss, maxMss);
                    }
                }
            }
            at += optionLength;
        }
        return lowered ? Outcome.CLAMPED : sawMss ? Outcome.MSS_SMALL_ENOUGH : Outcome.NO_MSS_OPTION;
    }

    /**
     * Updates the TCP checksum for a 16-bit field at {@code fieldOffset} (from the start of the TCP
     * header) that changed from {@code old} to {@code now}: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m').
     *
     * <p>The checksum sums 16-bit words aligned to the TCP header. An MSS option after a single NOP
     * sits at an odd offset: its bytes then fall into the low half of one word and the high half of
     * the next, which adds the byte-swapped value, so the swapped values go into the equation.
     */
    private static void replaceInChecksum(MemorySegment p, long tcp, int fieldOffset, int old, int now) {
        if ((fieldOffset & 1) != 0) {
            old = Integer.reverseBytes(old) >>> 16;
            now = Integer.reverseBytes(now) >>> 16;
        }
        setU16(p, tcp + 16, replaced(u16(p, tcp + 16), old, now));
    }

    /** RFC 1624 eqn. 3: the checksum after one aligned 16-bit word changed (0 for a word that is new). */
    private static int replaced(int checksum, int old, int now) {
        int sum = (~checksum & 0xffff) + (~old & 0xffff) + now;
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        return ~sum & 0xffff;
    }

    private static int u8(MemorySegment p, long at) {
        return p.get(JAVA_BYTE, at) & 0xff;
    }

    private static int u16(MemorySegment p, long at) {
        return p.get(U16, at) & 0xffff;
    }

    private static void setU16(MemorySegment p, long at, int value) {
        p.set(U16, at, (short) value);
    }
}
