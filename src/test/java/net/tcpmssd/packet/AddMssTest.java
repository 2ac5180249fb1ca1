package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.ACK;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** --add-mss (issue 6): when an MSS option is inserted, and that every length and checksum follows. */
class AddMssTest {

    private static final MaxMss MTU_1280 = MaxMss.forMtu(1280);
    private static final byte[] NONE = new byte[0];
    private static final byte[] SACK_PERMITTED = {4, 2};
    private static final byte[] WSCALE = {3, 3, 7};

    @Test
    void ipv4SynWithoutMssGets536FirstAndEverythingStaysValid() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, new byte[] {1}, WSCALE), NONE));
        TestPacket out = p.addMss(MTU_1280);
        assertThat(out.bytes).hasSize(p.bytes.length + 4);
        assertThat(out.mssValues()).containsExactly(536);
        assertThat(Arrays.copyOfRange(out.bytes, out.tcp + 20, out.tcp + 24)).containsExactly(2, 4, 2, 0x18);
        assertThat(Arrays.copyOfRange(out.bytes, out.tcp + 24, out.bytes.length))
                .as("the old options follow unchanged").isEqualTo(Arrays.copyOfRange(p.bytes, p.tcp + 20, p.bytes.length));
        assertThat(out.tcpChecksumValid()).isTrue();
        assertThat(out.ipv4HeaderValid()).isTrue();
    }

    @Test
    void ipv6SynGets1220OrTheSmallerMaximum() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, SACK_PERMITTED, NONE), 60, TestPacket.paddedExtension(0));
        TestPacket out = p.addMss(MTU_1280);
        assertThat(out.mssValues()).containsExactly(1220);
        assertThat(out.tcpChecksumValid()).isTrue();
        assertThat(TestPacket.u16(out.bytes, 4)).isEqualTo(out.bytes.length - 40);
        assertThat(TestPacket.ipv6(tcpSegment(SYN, NONE, NONE)).addMss(MaxMss.forMtu(1100)).mssValues()).containsExactly(1040);
    }

    @Test
    void optionGoesBeforeAnEndOfList() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, new byte[] {4, 2, 0, 0}, NONE));
        assertThat(p.addMss(MTU_1280).mssValues()).containsExactly(536);
    }

    @Test
    void addMssWalksToAnOptionEndingExactlyAtTheHeaderEnd() {
        // NOP and window scale fill the 4 bytes of options: no EOL, the walk ends at the header's
        // end. The bytes after the packet are an older packet's (0xfd, an experimental option
        // kind): a walk that read on would find an option there with no room for its length.
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(new byte[] {1}, WSCALE), NONE));
        TestPacket out = p.addMss(MTU_1280, 0xfd);
        assertThat(out.mssValues()).containsExactly(536);
        assertThat(Arrays.copyOfRange(out.bytes, out.tcp + 24, out.bytes.length)).containsExactly(1, 3, 3, 7);
        assertThat(out.tcpChecksumValid()).isTrue();
    }

    @Test
    void addMssFillsTheHeaderToItsSixtyBytes() {
        // 36 bytes of options (SACK permitted, timestamps, NOP, window scale, a 20-byte option of
        // the experimental kind 253): the MSS makes the data offset 15, the most it can say.
        byte[] experimental = new byte[20];
        experimental[0] = (byte) 253;
        experimental[1] = 20;
        byte[] options = concat(SACK_PERMITTED, new byte[] {8, 10, 1, 2, 3, 4, 5, 6, 7, 8}, new byte[] {1}, WSCALE, experimental);
        assertThat(options).hasSize(36);
        TestPacket out = TestPacket.ipv4(tcpSegment(SYN, options, NONE)).addMss(MTU_1280);
        assertThat(out.bytes[out.tcp + 12] & 0xff).isEqualTo(15 << 4);
        assertThat(out.mssValues()).containsExactly(536);
        assertThat(out.tcpChecksumValid()).isTrue();
        assertThat(out.ipv4HeaderValid()).isTrue();
    }

    @Test
    void addMssRefusesAnMssAfterAnotherOption() {
        assertNothingAdded(TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, mssOption(1460)), NONE)));
        assertNothingAdded(TestPacket.ipv6(tcpSegment(SYN, concat(new byte[] {1}, WSCALE, mssOption(1220)), NONE)));
    }

    @Test
    void addMssRefusesAnOptionRunningPastTheHeaderEnd() {
        // The walk cannot tell where the options end, so it cannot tell that there is no MSS.
        assertNothingAdded(TestPacket.ipv4(tcpSegment(SYN, new byte[] {1, 1, 3, 3}, NONE)));        // one byte past
        assertNothingAdded(TestPacket.ipv4(tcpSegment(SYN, new byte[] {1, 8, 10, 0, 0, 0, 0, 0}, NONE)));
    }

    @Test
    void addMssRefusesAnOptionKindWithoutRoomForItsLength() {
        assertNothingAdded(TestPacket.ipv4(tcpSegment(SYN, new byte[] {1, 1, 1, 8}, NONE)));
    }

    @Test
    void addMssLeavesATcpHeaderCutAfterItsPortsAlone() {
        // 4 bytes of TCP: the data offset would lie past the packet and past the room after it.
        byte[] cut = Arrays.copyOf(TestPacket.ipv4(tcpSegment(SYN, NONE, NONE)).bytes, 24 + 4);
        cut[3] = 24; // IPv4 total length
        byte[] before = cut.clone();
        assertThat(MssClamp.addMss(MemorySegment.ofArray(cut), 0, 24, cut.length, MTU_1280)).isEqualTo(24);
        assertThat(cut).isEqualTo(before);
    }

    @Test
    void nothingIsAddedWhereItWouldNotBeSafe() {
        TestPacket withPayload = TestPacket.ipv4(tcpSegment(SYN, SACK_PERMITTED, new byte[] {1, 2, 3}));
        TestPacket notSyn = TestPacket.ipv4(tcpSegment(ACK, SACK_PERMITTED, NONE));
        TestPacket hasMss = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        TestPacket fullHeader = TestPacket.ipv4(tcpSegment(SYN, new byte[40], NONE)); // 40 bytes of EOL: data offset 15
        TestPacket brokenOptions = TestPacket.ipv4(tcpSegment(SYN, new byte[] {8, 0, 1, 1}, NONE));
        for (TestPacket p : new TestPacket[] {withPayload, notSyn, hasMss, fullHeader, brokenOptions}) {
            assertNothingAdded(p);
        }
    }

    @Test
    void nothingIsAddedToAPacketThatIsNotTcpWhateverItsHeaderSays() {
        // A UDP datagram from port 53, 38 bytes, its header checksum swept over every value: read
        // from two bytes before its start, a packet the core does not take for TCP could look like
        // a SYN whose options end cleanly.
        byte[] udp = new byte[38];
        udp[0] = 0x45;
        udp[3] = 38;
        udp[8] = 64;
        udp[9] = 17;
        System.arraycopy(TestPacket.SRC4, 0, udp, 12, 4);
        System.arraycopy(TestPacket.DST4, 0, udp, 16, 4);
        udp[21] = 53;
        udp[25] = 18;
        byte[] room = new byte[udp.length + 4];
        for (int checksum = 0; checksum <= 0xffff; checksum++) {
            udp[10] = (byte) (checksum >>> 8);
            udp[11] = (byte) checksum;
            System.arraycopy(udp, 0, room, 0, udp.length);
            assertThat(MssClamp.addMss(MemorySegment.ofArray(room), 0, udp.length, room.length, MTU_1280)).isEqualTo(udp.length);
            assertThat(Arrays.copyOf(room, udp.length)).isEqualTo(udp);
        }
    }

    @Test
    void nothingIsAddedWithoutRoomToGrow() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, SACK_PERMITTED, NONE));
        byte[] before = p.copy();
        assertThat(MssClamp.addMss(MemorySegment.ofArray(p.bytes), 0, p.bytes.length, p.bytes.length + 3, MTU_1280))
                .isEqualTo(before.length);
        assertThat(p.bytes).isEqualTo(before);
    }

    /** With room to grow, addMss returns the length it was given and leaves every byte as it was. */
    private static void assertNothingAdded(TestPacket p) {
        byte[] room = Arrays.copyOf(p.bytes, p.bytes.length + 4);
        assertThat(MssClamp.addMss(MemorySegment.ofArray(room), 0, p.bytes.length, room.length, MTU_1280)).isEqualTo(p.bytes.length);
        assertThat(Arrays.copyOf(room, p.bytes.length)).isEqualTo(p.bytes);
    }

    @Property(tries = 3000)
    void addedOptionKeepsEveryChecksumValid(@ForAll("synsWithoutMss") TestPacket p, @ForAll @IntRange(min = 128, max = 9000) int mtu) {
        TestPacket out = p.addMss(MaxMss.forMtu(mtu));
        int expected = p.version == 4 ? Math.min(mtu - 40, 536) : Math.min(mtu - 60, 1220);
        assertThat(out.mssValues()).containsExactly(expected);
        assertThat(out.tcpChecksum()).isEqualTo(out.recomputedTcpChecksum());
        if (p.version == 4) {
            assertThat(out.ipv4HeaderValid()).isTrue();
        }
    }

    @Provide
    Arbitrary<TestPacket> synsWithoutMss() {
        Arbitrary<byte[]> options = Arbitraries.of(NONE, SACK_PERMITTED, concat(SACK_PERMITTED, new byte[] {1}, WSCALE),
                new byte[] {1, 1, 1, 1, 1, 1, 1}, concat(new byte[] {8, 10, 1, 2, 3, 4, 5, 6, 7, 8}, WSCALE));
        Arbitrary<byte[]> segments = options.map(o -> tcpSegment(SYN, o, NONE));
        return Arbitraries.oneOf(segments.map(TestPacket::ipv4), segments.map(s -> TestPacket.ipv6(s)),
                segments.map(s -> TestPacket.ipv6(s, 0, TestPacket.paddedExtension(1))));
    }
}
