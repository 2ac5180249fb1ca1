package net.tcpmssd.packet;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Builds IPv4 and IPv6 TCP packets for tests, with a checksum computed from scratch (the reference
 * that the core's incremental update is checked against).
 */
public final class TestPacket {

    public static final byte[] SRC4 = {(byte) 198, 51, 100, 2};
    public static final byte[] DST4 = {(byte) 203, 0, 113, 2};
    public static final byte[] SRC6 = address6(0x2001, 0x0db8, 1, 0, 0, 0, 0, 2);
    public static final byte[] DST6 = address6(0x2001, 0x0db8, 3, 0, 0, 0, 0, 2);

    public static final int SYN = 0x02;
    public static final int ACK = 0x10;

    public final int version;
    public final byte[] bytes;
    /** Where the TCP header starts. */
    public final int tcp;

    private TestPacket(int version, byte[] bytes, int tcp) {
        this.version = version;
        this.bytes = bytes;
        this.tcp = tcp;
    }

    public static byte[] mssOption(int mss) {
        return new byte[] {2, 4, (byte) (mss >>> 8), (byte) mss};
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** A TCP header with these flags and options (padded with EOL to a multiple of 4), then payload. */
    public static byte[] tcpSegment(int flags, byte[] options, byte[] payload) {
        int headerLength = 20 + ((options.length + 3) & ~3);
        byte[] s = new byte[headerLength + payload.length];
        s[0] = (byte) 0xc3; s[1] = 0x50;             // source port 50000
        s[2] = 0x13; s[3] = (byte) 0x89;             // destination port 5001
        s[4] = 0x12; s[5] = 0x34; s[6] = 0x56; s[7] = 0x78; // sequence number
        if ((flags & ACK) != 0) {
            s[11] = 1;
        }
        s[12] = (byte) ((headerLength / 4) << 4);
        s[13] = (byte) flags;
        s[14] = (byte) 0xfa; s[15] = (byte) 0xf0;    // window 64240
        System.arraycopy(options, 0, s, 20, options.length);
        System.arraycopy(payload, 0, s, headerLength, payload.length);
        return s;
    }

    public static TestPacket ipv4(byte[] segment) {
        return ipv4(segment, 0);
    }

    /** An IPv4 packet around a TCP segment; {@code fragmentField} is the flags and offset word. */
    public static TestPacket ipv4(byte[] segment, int fragmentField) {
        byte[] p = new byte[20 + segment.length];
        p[0] = 0x45;
        p[2] = (byte) (p.length >>> 8); p[3] = (byte) p.length;
        p[6] = (byte) (fragmentField >>> 8); p[7] = (byte) fragmentField;
        p[8] = 64;
        p[9] = 6;
        System.arraycopy(SRC4, 0, p, 12, 4);
        System.arraycopy(DST4, 0, p, 16, 4);
        System.arraycopy(segment, 0, p, 20, segment.length);
        int ipSum = ~sum(p, 0, 20, 0) & 0xffff;
        p[10] = (byte) (ipSum >>> 8); p[11] = (byte) ipSum;
        TestPacket packet = new TestPacket(4, p, 20);
        packet.fixTcpChecksum();
        return packet;
    }

    /**
     * An IPv6 packet around a TCP segment, after extension headers given as {@code {type, bytes}}
     * pairs in order: each header's bytes start with its own next-header byte, which is filled in.
     */
    public static TestPacket ipv6(byte[] segment, Object... extensions) {
        ByteArrayOutputStream chain = new ByteArrayOutputStream();
        int first = 6;
        int[] types = new int[extensions.length / 2];
        for (int i = 0; i < types.length; i++) {
            types[i] = (Integer) extensions[2 * i];
        }
        if (types.length > 0) {
            first = types[0];
        }
        for (int i = 0; i < types.length; i++) {
            byte[] header = ((byte[]) extensions[2 * i + 1]).clone();
            header[0] = (byte) (i + 1 < types.length ? types[i + 1] : 6);
            chain.writeBytes(header);
        }
        byte[] ext = chain.toByteArray();
        byte[] p = new byte[40 + ext.length + segment.length];
        p[0] = 0x60;
        int payloadLength = ext.length + segment.length;
        p[4] = (byte) (payloadLength >>> 8); p[5] = (byte) payloadLength;
        p[6] = (byte) first;
        p[7] = 64;
        System.arraycopy(SRC6, 0, p, 8, 16);
        System.arraycopy(DST6, 0, p, 24, 16);
        System.arraycopy(ext, 0, p, 40, ext.length);
        System.arraycopy(segment, 0, p, 40 + ext.length, segment.length);
        TestPacket packet = new TestPacket(6, p, 40 + ext.length);
        packet.fixTcpChecksum();
        return packet;
    }

    /** Wraps bytes of an IPv4 packet (whose header length tells where TCP starts). */
    public static TestPacket reparsed4(byte[] bytes) {
        return new TestPacket(4, bytes, (bytes[0] & 0x0f) * 4);
    }

    /** Wraps bytes of an IPv6 packet whose TCP header starts at {@code tcp}. */
    public static TestPacket reparsed6(byte[] bytes, int tcp) {
        return new TestPacket(6, bytes, tcp);
    }

    public boolean ipv4HeaderValid() {
        return sum(bytes, 0, (bytes[0] & 0x0f) * 4, 0) == 0xffff && u16(bytes, 2) == bytes.length;
    }

    /** An 8-byte extension header (hop-by-hop, routing or destination options) of PadN. */
    public static byte[] paddedExtension(int units) {
        byte[] h = new byte[8 * (units + 1)];
        h[1] = (byte) units;
        h[2] = 1; // PadN
        h[3] = (byte) (h.length - 4);
        return h;
    }

    public static byte[] fragmentHeader(int offsetUnits, boolean more) {
        int field = (offsetUnits << 3) | (more ? 1 : 0);
        return new byte[] {0, 0, (byte) (field >>> 8), (byte) field, 0, 0, 0x12, 0x34};
    }

    public Outcome clamp(MaxMss max) {
        return MssClamp.clamp(MemorySegment.ofArray(bytes), 0, bytes.length, max, null);
    }

    /** --add-mss with room for 4 more bytes after the packet; the packet as it came out. */
    public TestPacket addMss(MaxMss max) {
        return addMss(max, 0);
    }

    /**
     * --add-mss with room for 4 more bytes after the packet, those bytes set to {@code spare}: a
     * receive buffer holds whatever an earlier, longer packet left there.
     */
    public TestPacket addMss(MaxMss max, int spare) {
        byte[] room = Arrays.copyOf(bytes, bytes.length + 4);
        Arrays.fill(room, bytes.length, room.length, (byte) spare);
        int length = MssClamp.addMss(MemorySegment.ofArray(room), 0, bytes.length, room.length, max);
        byte[] out = Arrays.copyOf(room, length);
        return version == 4 ? reparsed4(out) : reparsed6(out, tcp);
    }

    public byte[] copy() {
        return bytes.clone();
    }

    public int tcpChecksum() {
        return u16(bytes, tcp + 16);
    }

    /** The TCP checksum recomputed from scratch over pseudo-header and segment (RFC 9293 §3.1). */
    public int recomputedTcpChecksum() {
        byte[] zeroed = bytes.clone();
        zeroed[tcp + 16] = 0;
        zeroed[tcp + 17] = 0;
        return ~sum(zeroed, tcp, bytes.length - tcp, pseudoHeaderSum()) & 0xffff;
    }

    public boolean tcpChecksumValid() {
        return sum(bytes, tcp, bytes.length - tcp, pseudoHeaderSum()) == 0xffff;
    }

    public void fixTcpChecksum() {
        if (bytes.length < tcp + 18) {
            return; // a TCP header cut before its checksum field
        }
        int c = recomputedTcpChecksum();
        bytes[tcp + 16] = (byte) (c >>> 8);
        bytes[tcp + 17] = (byte) c;
    }

    /**
     * Gives the packet this TCP checksum by choosing the low 16 bits of its sequence number (each of
     * the 65,536 values gives another checksum), keeping the checksum valid. For the checksum values
     * where an incremental update takes a rare path.
     */
    public TestPacket withTcpChecksum(int wanted) {
        for (int low = 0; low <= 0xffff; low++) {
            bytes[tcp + 6] = (byte) (low >>> 8);
            bytes[tcp + 7] = (byte) low;
            fixTcpChecksum();
            if (tcpChecksum() == wanted) {
                return this;
            }
        }
        throw new IllegalArgumentException("no sequence number gives checksum " + Integer.toHexString(wanted));
    }

    /** Values of every well-formed MSS option, in order, found by a straightforward walk. */
    public int[] mssValues() {
        int end = tcp + ((bytes[tcp + 12] & 0xff) >>> 4) * 4;
        int[] found = new int[0];
        for (int i = tcp + 20; i < end; ) {
            int kind = bytes[i] & 0xff;
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            if (i + 1 >= end) break;
            int len = bytes[i + 1] & 0xff;
            if (len < 2 || i + len > end) break;
            if (kind == 2 && len == 4) {
                found = Arrays.copyOf(found, found.length + 1);
                found[found.length - 1] = u16(bytes, i + 2);
            }
            i += len;
        }
        return found;
    }

    private int pseudoHeaderSum() {
        int tcpLength = bytes.length - tcp;
        if (version == 4) {
            return sum(bytes, 12, 8, 6 + tcpLength);
        }
        return sum(bytes, 8, 32, 6 + tcpLength);
    }

    /** One's complement sum of 16-bit big-endian words, odd tail padded with zero, folded. */
    public static int sum(byte[] b, int from, int length, int initial) {
        long s = initial;
        for (int i = 0; i + 1 < length; i += 2) {
            s += u16(b, from + i);
        }
        if ((length & 1) != 0) {
            s += (b[from + length - 1] & 0xff) << 8;
        }
        while ((s >>> 16) != 0) {
            s = (s & 0xffff) + (s >>> 16);
        }
        return (int) s;
    }

    public static int u16(byte[] b, int at) {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    private static byte[] address6(int... groups) {
        byte[] a = new byte[16];
        for (int i = 0; i < 8; i++) {
            a[2 * i] = (byte) (groups[i] >>> 8);
            a[2 * i + 1] = (byte) groups[i];
        }
        return a;
    }
}
