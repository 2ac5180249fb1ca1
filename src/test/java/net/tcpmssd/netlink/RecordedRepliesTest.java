package net.tcpmssd.netlink;

import static net.tcpmssd.netlink.Wire.hex;
import static net.tcpmssd.netlink.Wire.segment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Optional;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import org.junit.jupiter.api.Test;

/**
 * The codec over replies the kernel really sent. Recorded once (Linux 6.x, x86_64, so host order
 * is little-endian) in a throwaway network namespace: veth v0 (index 3, MTU 1492) with
 * 192.0.2.1/24 and {@code ip route add 198.51.100.0/24 via 192.0.2.2 dev v0 mtu 1400}; a small
 * program sent each request over an unbound NETLINK_ROUTE socket with NetlinkSocket and printed
 * the one datagram that came back (sender port 0) as hex.
 */
class RecordedRepliesTest {

    /** RTM_GETLINK for "lo" (sequence 7): the RTM_NEWLINK answer, 1468 bytes with its stats and nests. */
    static final byte[] LINK_LO = hex("""
            bc05000010000000070000005001000000000403010000004900010000000000
            070003006c6f000008000d00e803000005001000000000000500110000000000
            0500430001000000080004000000010008003200000000000800330000000000
            08001b000000000008001e000000000008003d000000000008001f0001000000
            08002800ffff0000080029000000010008003a000000010008003f0000000100
            080040000000010008003b00f8ff070008003c00ffff00000800420000000000
            08002000010000000500210001000000080023000000000008002f0000000000
            0800300000000000060044000000000006004500000000000500270000000000
            0a00010000000000000000000a0002000000000000000000cc00170000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000064000700000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            00000000000000000c002b0005000200000000000c0006006e6f717565756500
            30031a008c000200880001000000000000000000000000000100000001000000
            0100000001000000000000000100000000000000000000000000000000000000
            0000000001000000010000000000000000000000000000000000000000000000
            000000000000000000000000000000000000000010270000e803000000000000
            00000000000000000000000001000000a0020a00080001000000008014000500
            ffff0000ce330100406d0000e8030000f4000200000000004000000000000100
            01000000010000000100000001000000ffffffffa00f0000e8030000ffffffff
            803a090080510100030000005802000010000000000000000100000001000000
            0100000060ea0000000000000000000000000000000000000000000000000000
            ffffffff000000000000000010270000e8030000010000000000000000000000
            0100000000000000000000000100000000000000000000000000000000000000
            80ee360000000000000000000100000000000000000000000000000000000000
            000000000004000000000000ffff0000ffffffff010000000000000000000000
            0000000034010300260000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000000000003c00060007000000
            0000000000000000000000000000000000000000000000000000000000000000
            0000000000000000000000000000000000000000140007000000000000000000
            0000000000000000050008000000000024000e00000000000000000000000000
            000000000000000000000000000000000000000004003e8004004180
            """);

    /** RTM_GETROUTE for 198.51.100.7 (sequence 8): RTA_OIF 3, RTA_METRICS holding RTAX_MTU 1400. */
    static final byte[] ROUTE_WITH_MTU = hex("""
            7c00000018000000080000005001000002200000fe0000010002000008000f00
            fe00000008000100c6336407080004000300000008000700c000020108000500
            c00002020c0008000800020078050000080019000000000024000c0002000000
            00000000000000000000000000000000000000000000000000000000
            """);

    /** RTM_GETLINK for "nosuch0" (sequence 9): NLMSG_ERROR -ENODEV with the request's header and body. */
    static final byte[] NO_SUCH_LINK = hex("""
            40000000020000000900000050010000edffffff2c0000001200010009000000
            00000000000000000000000000000000000000000c0003006e6f737563683000
            """);

    private static final int RTA_OIF = 4;
    private static final int RTA_METRICS = 8;
    private static final int RTAX_MTU = 2;

    private static Messages walk(byte[] datagram) {
        MemorySegment m = segment(datagram);
        return new Messages().over(m, 0, m.byteSize());
    }

    /** The recording with its sequence number replaced by {@code sequence}, as an answer to a new request. */
    private static byte[] withSequence(byte[] recorded, int sequence) {
        byte[] copy = recorded.clone();
        MemorySegment.ofArray(copy).set(ValueLayout.JAVA_INT_UNALIGNED, 8, sequence);
        return copy;
    }

    @Test
    void aLinkReplyGivesTheNameIndexAndMtu() {
        Messages m = walk(LINK_LO);
        assertThat(m.next()).isTrue();
        assertThat(m.type()).isEqualTo(Links.RTM_NEWLINK);
        assertThat(m.sequence()).isEqualTo(7);
        assertThat(m.length()).isEqualTo(LINK_LO.length);
        assertThat(Links.parse(m, new Attributes())).isEqualTo(new Link(1, "lo", 65536));
        assertThat(m.next()).isFalse();
        assertThat(m.broken()).isFalse();
    }

    @Test
    void everyAttributeOfTheRecordedLinkIsWhole() {
        Messages m = walk(LINK_LO);
        m.next();
        Attributes a = m.attributes(new Attributes(), Links.IFINFOMSG);
        int count = 0;
        while (a.next()) {
            count++;
        }
        assertThat(a.broken()).isFalse();
        assertThat(count).isGreaterThan(20);
    }

    @Test
    void aLinkReplyCutAnywhereIsNotTakenForAMessage() {
        // However much of the datagram arrived, its nlmsg_len (1468) is not believed beyond it.
        for (int received = 0; received < LINK_LO.length; received++) {
            MemorySegment m = segment(Arrays.copyOf(LINK_LO, received));
            Messages messages = new Messages().over(m, 0, received);
            assertThat(messages.next()).as("%d bytes", received).isFalse();
            assertThat(messages.broken()).isEqualTo(received > 0);
        }
    }

    @Test
    void aLinkMessageWithItsLengthCutShortStillParsesWithinIt() {
        // IFLA_IFNAME is the first attribute (at 32), IFLA_MTU the sixth (at 72): 80 bytes hold both.
        for (int length = Netlink.HEADER; length < LINK_LO.length; length += 4) {
            byte[] cut = Arrays.copyOf(LINK_LO, length);
            MemorySegment.ofArray(cut).set(ValueLayout.JAVA_INT_UNALIGNED, 0, length);
            Messages m = walk(cut);
            assertThat(m.next()).isTrue();
            Link link = Links.parse(m, new Attributes());
            assertThat(link).as("nlmsg_len %d", length).isEqualTo(length >= 80 ? new Link(1, "lo", 65536) : null);
        }
    }

    @Test
    void aLinkWhoseMtuIsShortHasNoMtu() {
        // Built, not recorded: the kernel always sends IFLA_MTU as 4 bytes.
        byte[] ifinfomsg = Wire.concat(Wire.u32(0), Wire.u32(3), Wire.u32(0), Wire.u32(0));
        byte[] shortMtu = Wire.message(Links.RTM_NEWLINK, 0, 1, ifinfomsg,
                Wire.attribute(Links.IFLA_IFNAME, Wire.text("v0")), Wire.attribute(Links.IFLA_MTU, Wire.u16(1492)));
        Messages m = walk(shortMtu);
        m.next();
        assertThat(Links.parse(m, new Attributes())).isNull();
        byte[] whole = Wire.message(Links.RTM_NEWLINK, 0, 1, ifinfomsg,
                Wire.attribute(Links.IFLA_IFNAME, Wire.text("v0")), Wire.attribute(Links.IFLA_MTU, Wire.u32(1492)));
        m = walk(whole);
        m.next();
        assertThat(Links.parse(m, new Attributes())).isEqualTo(new Link(3, "v0", 1492));
    }

    @Test
    void aLinkMessageTooShortForItsIfinfomsgIsNoLink() {
        Messages m = walk(Wire.message(Links.RTM_NEWLINK, 0, 1, Wire.u32(0), Wire.u32(3)));
        m.next();
        assertThat(Links.parse(m, new Attributes())).isNull();
    }

    @Test
    void aRouteReplyGivesItsInterfaceAndItsMtuMetric() {
        Messages m = walk(ROUTE_WITH_MTU);
        assertThat(m.next()).isTrue();
        assertThat(m.type()).isEqualTo(24); // RTM_NEWROUTE
        Attributes a = m.attributes(new Attributes(), 12); // struct rtmsg
        int outInterface = 0;
        int mtu = 0;
        while (a.next()) {
            if (a.type() == RTA_OIF) {
                outInterface = a.u32(0);
            } else if (a.type() == RTA_METRICS) {
                Attributes metric = a.nested(new Attributes());
                while (metric.next()) {
                    if (metric.type() == RTAX_MTU) {
                        mtu = metric.u32(0);
                    }
                }
            }
        }
        assertThat(a.broken()).isFalse();
        assertThat(outInterface).isEqualTo(3);
        assertThat(mtu).isEqualTo(1400);
    }

    @Test
    void anUnknownLinkIsEmptyNotAnError() throws ErrnoException {
        Messages m = walk(NO_SUCH_LINK);
        m.next();
        assertThat(m.error()).isEqualTo(Libc.ENODEV);
        FakeKernel kernel = new FakeKernel().answer(sequence -> withSequence(NO_SUCH_LINK, sequence));
        assertThat(Links.ask(kernel, "nosuch0", 0)).isEmpty();
    }

    @Test
    void askingForALinkReadsTheRecordedAnswer() throws ErrnoException {
        FakeKernel kernel = new FakeKernel()
                .answer(sequence -> withSequence(LINK_LO, sequence - 1)) // a stale answer to an older request
                .answer(sequence -> withSequence(LINK_LO, sequence));
        assertThat(Links.ask(kernel, "lo", 0)).isEqualTo(Optional.of(new Link(1, "lo", 65536)));
        assertThat(kernel.receives).isEqualTo(2);
        // The request: RTM_GETLINK with NLM_F_REQUEST, struct ifinfomsg, IFLA_IFNAME "lo".
        MemorySegment request = MemorySegment.ofArray(kernel.sent.getFirst());
        assertThat(request.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4)).isEqualTo((short) Links.RTM_GETLINK);
        assertThat(request.byteSize()).isEqualTo(16 + 16 + 8);
    }

    @Test
    void aLinkAnswerWithoutAnMtuIsReportedNotTakenForAbsence() {
        // The recorded answer cut after its name: the kernel never sends one, so it is an error.
        FakeKernel kernel = new FakeKernel().answer(sequence -> {
            byte[] cut = withSequence(Arrays.copyOf(LINK_LO, 16 + 16 + 12), sequence);
            MemorySegment.ofArray(cut).set(ValueLayout.JAVA_INT_UNALIGNED, 0, cut.length);
            return cut;
        });
        assertThatThrownBy(() -> Links.ask(kernel, "lo", 0))
                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Libc.EBADMSG))
                .hasMessageStartingWith("rtnetlink: lo: ");
    }
}
