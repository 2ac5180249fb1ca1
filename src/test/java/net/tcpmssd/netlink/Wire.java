package net.tcpmssd.netlink;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

/**
 * Netlink bytes built by hand for the codec's tests, in host order as the kernel writes them,
 * including the ones the kernel never writes: lengths that lie, padding left out.
 */
public final class Wire {

    private Wire() {}

    /** An attribute with its true length and padding. */
    public static byte[] attribute(int type, byte[]... payload) {
        byte[] value = concat(payload);
        return pad(rawAttribute(Netlink.ATTRIBUTE_HEADER + value.length, type, value));
    }

    /** An attribute header that declares {@code length}, whatever follows it; no padding. */
    public static byte[] rawAttribute(int length, int type, byte[]... payload) {
        byte[] value = concat(payload);
        return concat(u16(length), u16(type), value);
    }

    /** A message with its true nlmsg_len and padding; nl_pid 0, as the kernel sends. */
    public static byte[] message(int type, int flags, int sequence, byte[]... body) {
        byte[] value = concat(body);
        return pad(rawMessage(Netlink.HEADER + value.length, type, flags, sequence, value));
    }

    /** A message header that declares {@code length}, whatever follows it; no padding. */
    public static byte[] rawMessage(int length, int type, int flags, int sequence, byte[]... body) {
        return concat(u32(length), u16(type), u16(flags), u32(sequence), u32(0), concat(body));
    }

    /** An NLMSG_ERROR carrying this (negated) errno and the request's header, as netlink_ack() writes it. */
    public static byte[] error(int sequence, int errno) {
        return message(Netlink.NLMSG_ERROR, 0, sequence, u32(-errno), rawMessage(Netlink.HEADER, 0, 0, sequence));
    }

    public static byte[] u8(int value) {
        return new byte[] {(byte) value};
    }

    public static byte[] u16(int value) {
        return ByteBuffer.allocate(2).order(ByteOrder.nativeOrder()).putShort((short) value).array();
    }

    public static byte[] u32(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
    }

    public static byte[] be16(int value) {
        return ByteBuffer.allocate(2).order(ByteOrder.BIG_ENDIAN).putShort((short) value).array();
    }

    public static byte[] be32(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(value).array();
    }

    public static byte[] text(String value) {
        return concat(value.getBytes(java.nio.charset.StandardCharsets.UTF_8), u8(0));
    }

    public static byte[] zeros(int count) {
        return new byte[count];
    }

    public static byte[] hex(String digits) {
        return HexFormat.of().parseHex(digits.replaceAll("\\s", ""));
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    public static byte[] pad(byte[] bytes) {
        return concat(bytes, new byte[Netlink.align(bytes.length) - bytes.length]);
    }

    /** The bytes in a segment of their own, so that a read past them fails loudly. */
    public static MemorySegment segment(byte[] bytes) {
        return MemorySegment.ofArray(bytes.clone());
    }
}
