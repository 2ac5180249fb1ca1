package net.tcpmssd.netlink;

import static net.tcpmssd.netlink.Wire.attribute;
import static net.tcpmssd.netlink.Wire.concat;
import static net.tcpmssd.netlink.Wire.message;
import static net.tcpmssd.netlink.Wire.rawMessage;
import static net.tcpmssd.netlink.Wire.segment;
import static net.tcpmssd.netlink.Wire.u32;
import static net.tcpmssd.netlink.Wire.u8;
import static net.tcpmssd.netlink.Wire.zeros;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The message walk over a received datagram: nlmsg_len believed only within the bytes received. */
class MessagesTest {

    private static final int RTM_NEWLINK = 16;

    private static Messages over(byte[] datagram, int received) {
        MemorySegment buffer = MemorySegment.ofArray(new byte[65536]);
        MemorySegment.copy(segment(datagram), 0, buffer, 0, datagram.length);
        return new Messages().over(buffer, 0, received);
    }

    @Test
    void walksEveryWholeMessageOfADatagram() {
        byte[] datagram = concat(message(RTM_NEWLINK, 2, 5, zeros(16)), message(Netlink.NLMSG_DONE, 2, 5, u32(0)));
        Messages m = over(datagram, datagram.length);
        assertThat(m.next()).isTrue();
        assertThat(m.type()).isEqualTo(RTM_NEWLINK);
        assertThat(m.flags()).isEqualTo(2);
        assertThat(m.sequence()).isEqualTo(5);
        assertThat(m.length()).isEqualTo(32);
        assertThat(m.last()).isFalse();
        assertThat(m.next()).isTrue();
        assertThat(m.type()).isEqualTo(Netlink.NLMSG_DONE);
        assertThat(m.at()).isEqualTo(32);
        assertThat(m.last()).isTrue();
        assertThat(m.end()).isEqualTo(datagram.length);
        assertThat(m.next()).isFalse();
        assertThat(m.broken()).isFalse();
    }

    @Test
    void aLastMessageLongerThanTheBytesReceivedIsNotRead() {
        // The datagram was cut (the buffer was too small): its second message claims 200 bytes,
        // and the buffer behind the 40 received holds stale bytes from an earlier datagram.
        byte[] first = message(RTM_NEWLINK, 0, 1, zeros(16));
        byte[] second = rawMessage(200, RTM_NEWLINK, 0, 1, zeros(184));
        byte[] datagram = concat(first, second);
        Messages m = over(datagram, first.length + 40);
        assertThat(m.next()).isTrue();
        assertThat(m.length()).isEqualTo(32);
        assertThat(m.next()).isFalse();
        assertThat(m.broken()).isTrue();
    }

    @Test
    void aLengthBelowTheHeaderEndsTheWalk() {
        for (int length : new int[] {0, 4, 15}) {
            byte[] datagram = concat(rawMessage(length, RTM_NEWLINK, 0, 1), message(RTM_NEWLINK, 0, 1, zeros(16)));
            Messages m = over(datagram, datagram.length);
            assertThat(m.next()).as("nlmsg_len %d", length).isFalse();
            assertThat(m.broken()).isTrue();
        }
    }

    @Test
    void bytesTooFewForAHeaderAreBroken() {
        byte[] datagram = concat(message(RTM_NEWLINK, 0, 1, zeros(16)), zeros(8));
        Messages m = over(datagram, datagram.length);
        assertThat(m.next()).isTrue();
        assertThat(m.next()).isFalse();
        assertThat(m.broken()).isTrue();
    }

    @Test
    void aLastMessageMayLackItsPadding() {
        byte[] datagram = rawMessage(17, RTM_NEWLINK, 0, 1, u8(1));
        Messages m = over(datagram, 17);
        assertThat(m.next()).isTrue();
        assertThat(m.payloadLength()).isEqualTo(1);
        assertThat(m.next()).isFalse();
        assertThat(m.broken()).isFalse();
    }

    @Test
    void aFixedHeaderLongerThanTheMessageLeavesNoAttributes() {
        byte[] datagram = message(RTM_NEWLINK, 0, 1, u32(7), attribute(3, u32(1)));
        Messages m = over(datagram, datagram.length);
        m.next();
        Attributes fits = m.attributes(new Attributes(), 4);
        assertThat(fits.next()).isTrue();
        assertThat(fits.u32(0)).isEqualTo(1);
        Attributes tooLong = m.attributes(new Attributes(), 16);
        assertThat(tooLong.next()).isFalse();
        assertThat(tooLong.broken()).isTrue();
        assertThat(m.payloadU32(0)).isEqualTo(7);
        assertThat(m.payloadU32(9)).isZero(); // 9..13 runs past the 12-byte payload
    }

    @Test
    void anErrorMessageCarriesItsErrnoOnlyIfItHasOne() {
        assertThat(error(u32(0))).isZero();
        assertThat(error(u32(-19))).isEqualTo(19);
        assertThat(error(concat(u32(-19), rawMessage(16, 0, 0, 1)))).isEqualTo(19);
        assertThat(error(new byte[0])).isEqualTo(Messages.MALFORMED);
        assertThat(error(new byte[] {(byte) 0xed, (byte) 0xff, (byte) 0xff})).isEqualTo(Messages.MALFORMED);
        assertThat(error(u32(5))).isEqualTo(Messages.MALFORMED);
        assertThat(error(u32(-5000))).isEqualTo(Messages.MALFORMED);
        assertThat(error(u32(-4095))).as("MAX_ERRNO").isEqualTo(4095);
        assertThat(error(u32(-4096))).as("one past MAX_ERRNO").isEqualTo(Messages.MALFORMED);
    }

    private static int error(byte[] payload) {
        byte[] datagram = rawMessage(Netlink.HEADER + payload.length, Netlink.NLMSG_ERROR, 0, 1, payload);
        Messages m = over(datagram, datagram.length);
        assertThat(m.next()).isTrue();
        return m.error();
    }

    @Test
    void aFixedHeaderFieldIsReadOnlyFromThePayload() {
        // Before the payload lie the header's sequence number and port id: no field of the body.
        byte[] datagram = message(RTM_NEWLINK, 0, 0x5eed, u32(7));
        Messages m = over(datagram, datagram.length);
        m.next();
        assertThat(m.payloadU32(0)).isEqualTo(7);
        assertThat(m.payloadU32(-8)).isZero();
        assertThat(m.payloadU32(-1)).isZero();
    }
}
