package net.tcpmssd.netlink;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The messages tcpmssd sends, laid out as linux/netlink.h says: a 16-byte nlmsghdr in host order
 * whose nlmsg_len counts the padded message, then attributes (nla_len, nla_type) whose length
 * counts header and value but not the padding to 4 bytes that follows them (NLA_ALIGN).
 */
class NetlinkWriterTest {

    /** A buffer of 0xee bytes: padding the writer leaves unwritten shows. */
    private static MemorySegment dirtyBuffer(int size) {
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) 0xee);
        return MemorySegment.ofArray(bytes);
    }

    private static byte[] written(Netlink.Writer w) {
        return w.buffer().asSlice(0, w.length()).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void writesHeaderValuesAndAttributesAsNetlinkLaysThemOut() {
        Netlink.Writer w = new Netlink.Writer(dirtyBuffer(256));
        w.begin(0x0302, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK, 42)
                .u8(2).u8(0).be16(100)                        // struct nfgenmsg: AF_INET, version 0, queue 100
                .attributeBe32(2, 0x01020304)
                .attributeString(3, "ppp0")
                .beginAttribute(0x8001).u32(7).u16(9).endAttribute()
                .bytes(MemorySegment.ofArray(new byte[] {9, 8, 7, 6}), 1, 3).u8(5).u8(4);
        w.end();

        ByteBuffer expected = ByteBuffer.allocate(60).order(ByteOrder.nativeOrder());
        expected.putInt(60).putShort((short) 0x0302).putShort((short) 0x05).putInt(42).putInt(0);
        expected.put((byte) 2).put((byte) 0).order(ByteOrder.BIG_ENDIAN).putShort((short) 100);
        expected.order(ByteOrder.nativeOrder()).putShort((short) 8).putShort((short) 2)
                .order(ByteOrder.BIG_ENDIAN).putInt(0x01020304);
        expected.order(ByteOrder.nativeOrder()).putShort((short) 9).putShort((short) 3)
                .put(new byte[] {'p', 'p', 'p', '0', 0}).put(new byte[3]);          // NUL-terminated, padded
        expected.putShort((short) 10).putShort((short) 0x8001).putInt(7).putShort((short) 9).put(new byte[2]);
        expected.put(new byte[] {8, 7, 6, 5, 4}).put(new byte[3]);                 // the message padded by end()

        assertThat(w.length()).isEqualTo(60);
        assertThat(written(w)).isEqualTo(expected.array());
        assertThat(Netlink.wholeMessageLength(w.buffer(), 0, w.length())).isEqualTo(60);
    }

    @Test
    void messagesOfOneSendFollowOneAnother() {
        Netlink.Writer w = new Netlink.Writer(dirtyBuffer(64));
        w.begin(1, 0, 1).u32(0xabcd);
        w.end();
        w.begin(2, 0, 2);
        w.end();
        assertThat(w.length()).isEqualTo(20 + 16);
        assertThat(w.free()).isEqualTo(64 - 36);
        assertThat(Netlink.wholeMessageLength(w.buffer(), 0, w.length())).isEqualTo(20);
        assertThat(Netlink.wholeMessageLength(w.buffer(), 20, w.length())).isEqualTo(16);
        assertThat(w.buffer().get(ValueLayout.JAVA_INT_UNALIGNED, 20 + 8)).as("second sequence").isEqualTo(2);

        w.clear();
        assertThat(w.length()).isZero();
        assertThat(w.free()).isEqualTo(64);
    }

    @Test
    void wholeMessageLengthBelievesNoLengthBeyondTheBytesReceived() {
        Netlink.Writer w = new Netlink.Writer(dirtyBuffer(64));
        w.begin(3, 0, 1).u32(0);
        w.end();                                                                   // a 20-byte message
        MemorySegment m = w.buffer();
        assertThat(Netlink.wholeMessageLength(m, 0, 19)).as("cut short").isZero();
        assertThat(Netlink.wholeMessageLength(m, 0, 15)).as("not even a header").isZero();
        assertThat(Netlink.wholeMessageLength(m, 0, 64)).as("more bytes after it").isEqualTo(20);
        m.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 15);
        assertThat(Netlink.wholeMessageLength(m, 0, 64)).as("nlmsg_len shorter than its header").isZero();
        m.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 16);
        assertThat(Netlink.wholeMessageLength(m, 0, 16)).as("a bare header").isEqualTo(16);
        // Fewer bytes than a header at the end of the buffer: nothing past them is read.
        assertThat(Netlink.wholeMessageLength(MemorySegment.ofArray(new byte[2]), 0, 2)).isZero();
        assertThat(Netlink.wholeMessageLength(m, 62, 64)).isZero();
    }

    @Test
    void alignRoundsUpToFourBytes() {
        assertThat(new int[] {Netlink.align(0), Netlink.align(1), Netlink.align(3), Netlink.align(4), Netlink.align(5)})
                .containsExactly(0, 4, 4, 4, 8);
    }
}
