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

    /** Runs addMss with room to grow; returns the packet as it came out. */
    private static TestPacket add(TestPacket p, MaxMss max) {
        byte[] room = Arrays.copyOf(p.bytes, p.bytes.length + 4);
        int length = MssClamp.addMss(MemorySegment.ofArray(room), 0, p.bytes.length, room.length, max);
        byte[] out = Arrays.copyOf(room, length);
        return p.version == 4 ? TestPacket.reparsed4(out) : TestPacket.reparsed6(out, p.tcp);
    }

    @Test
    void ipv4SynWithoutMssGets536FirstAndEverythingStaysValid() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, new byte[] {1}, WSCALE), NONE));
        TestPacket out = add(p, MTU_1280);
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
        TestPacket out = add(p, MTU_1280);
        assertThat(out.mssValues()).containsExactly(1220);
        assertThat(out.tcpChecksumValid()).isTrue();
        assertThat(TestPacket.u16(out.bytes, 4)).isEqualTo(out.bytes.length - 40);
        assertThat(add(TestPacket.ipv6(tcpSegment(SYN, NONE, NONE)), MaxMss.forMtu(1100)).mssValues()).containsExactly(1040);
    }

    @Test
    void optionGoesBeforeAnEndOfList() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, new byte[] {4, 2, 0, 0}, NONE));
        assertThat(add(p, MTU_1280).mssValues()).containsExactly(536);
    }

    @Test
    void nothingIsAddedWhereItWouldNotBeSafe() {
        TestPacket withPayload = TestPacket.ipv4(tcpSegment(SYN, SACK_PERMITTED, new byte[] {1, 2, 3}));
        TestPacket notSyn = TestPacket.ipv4(tcpSegment(ACK, SACK_PERMITTED, NONE));
        TestPacket hasMss = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        TestPacket fullHeader = TestPacket.ipv4(tcpSegment(SYN, new byte[40], NONE)); // 40 bytes of EOL: data offset 15
        TestPacket brokenOptions = TestPacket.ipv4(tcpSegment(SYN, new byte[] {8, 0, 1, 1}, NONE));
        for (TestPacket p : new TestPacket[] {withPayload, notSyn, hasMss, fullHeader, brokenOptions}) {
            byte[] room = Arrays.copyOf(p.bytes, p.bytes.length + 4);
            assertThat(MssClamp.addMss(MemorySegment.ofArray(room), 0, p.bytes.length, room.length, MTU_1280)).isEqualTo(p.bytes.length);
            assertThat(Arrays.copyOf(room, p.bytes.length)).isEqualTo(p.bytes);
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

    @Property(tries = 3000)
    void addedOptionKeepsEveryChecksumValid(@ForAll("synsWithoutMss") TestPacket p, @ForAll @IntRange(min = 128, max = 9000) int mtu) {
        TestPacket out = add(p, MaxMss.forMtu(mtu));
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
