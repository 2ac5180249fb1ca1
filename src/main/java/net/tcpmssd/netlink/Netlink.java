package net.tcpmssd.netlink;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The netlink wire format of linux/netlink.h: message headers and attributes, in host byte order,
 * each padded to 4 bytes. Netfilter attributes carry big-endian values inside; rtnetlink ones host
 * order: the accessors say which. {@link Messages} and {@link Attributes} read it, this writes it.
 */
public final class Netlink {

    public static final int HEADER = 16;          // struct nlmsghdr
    public static final int ATTRIBUTE_HEADER = 4; // struct nlattr

    public static final int NLMSG_NOOP = 1;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;

    public static final int NLM_F_REQUEST = 0x01;
    public static final int NLM_F_ACK = 0x04;

    /** Attribute type bits that are flags, not part of the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER). */
    public static final int ATTRIBUTE_TYPE_MASK = 0x3fff;

    private static final ValueLayout.OfShort BE16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Netlink() {}

    public static int align(int length) {
        return (length + 3) & ~3;
    }

    /**
     * The length of the message at {@code at} if a whole one lies in {@code [at, end)}, else 0: a
     * walk over a datagram's messages stops there (the kernel never sends a broken one, and
     * nothing after it could be trusted). {@code end} is where the bytes received end, so a
     * nlmsg_len is never believed beyond them.
     */
    public static int wholeMessageLength(MemorySegment m, long at, long end) {
        if (at + HEADER > end) {
            return 0;
        }
        int length = m.get(JAVA_INT_UNALIGNED, at);
        return length < HEADER || at + length > end ? 0 : length;
    }

    /** Writes messages one after another into a buffer, for a single send. */
    public static final class Writer {
        private final MemorySegment buffer;
        private int position;
        private int messageStart;
        private int attributeStart;

        public Writer(MemorySegment buffer) {
            this.buffer = buffer;
        }

        public MemorySegment buffer() {
            return buffer;
        }

        public int length() {
            return position;
        }

        public int free() {
            return (int) buffer.byteSize() - position;
        }

        public void clear() {
            position = 0;
        }

        public Writer begin(int type, int flags, int sequence) {
            messageStart = position;
            buffer.set(JAVA_INT_UNALIGNED, position, 0);
            buffer.set(JAVA_SHORT_UNALIGNED, position + 4, (short) type);
            buffer.set(JAVA_SHORT_UNALIGNED, position + 6, (short) flags);
            buffer.set(JAVA_INT_UNALIGNED, position + 8, sequence);
            buffer.set(JAVA_INT_UNALIGNED, position + 12, 0);
            position += HEADER;
            return this;
        }

        public Writer u8(int value) {
            buffer.set(JAVA_BYTE, position++, (byte) value);
            return this;
        }

        public Writer u16(int value) {
            buffer.set(JAVA_SHORT_UNALIGNED, position, (short) value);
            position += 2;
            return this;
        }

        public Writer u32(int value) {
            buffer.set(JAVA_INT_UNALIGNED, position, value);
            position += 4;
            return this;
        }

        public Writer be16(int value) {
            buffer.set(BE16, position, (short) value);
            position += 2;
            return this;
        }

        public Writer be32(int value) {
            buffer.set(BE32, position, value);
            position += 4;
            return this;
        }

        public Writer bytes(MemorySegment source, long offset, int length) {
            MemorySegment.copy(source, offset, buffer, position, length);
            position += length;
            return this;
        }

        public Writer beginAttribute(int type) {
            attributeStart = position;
            buffer.set(JAVA_SHORT_UNALIGNED, position + 2, (short) type);
            position += ATTRIBUTE_HEADER;
            return this;
        }

        public Writer endAttribute() {
            buffer.set(JAVA_SHORT_UNALIGNED, attributeStart, (short) (position - attributeStart));
            pad();
            return this;
        }

        public Writer attributeBe32(int type, int value) {
            return beginAttribute(type).be32(value).endAttribute();
        }

        public Writer attributeString(int type, String value) {
            beginAttribute(type);
            byte[] text = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            MemorySegment.copy(MemorySegment.ofArray(text), 0, buffer, position, text.length);
            position += text.length;
            return u8(0).endAttribute();
        }

        public void end() {
            pad();
            buffer.set(JAVA_INT_UNALIGNED, messageStart, position - messageStart);
        }

        private void pad() {
            while ((position & 3) != 0) {
                buffer.set(JAVA_BYTE, position++, (byte) 0);
            }
        }
    }
}
