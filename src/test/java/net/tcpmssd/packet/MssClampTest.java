package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.ACK;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The option walk and header checks of BEHAVIOUR §4, one rule a test. */
class MssClampTest {

    private static final MaxMss MTU_1280 = MaxMss.forMtu(1280);
    private static final byte[] NONE = new byte[0];
    private static final byte[] NOP = {1};
    private static final byte[] EOL = {0};
    private static final byte[] SACK_PERMITTED = {4, 2};
    private static final byte[] WSCALE = {3, 3, 7};

    @Test
    void maximumMssSubtractsFortyForIpv4AndSixtyForIpv6() {
        assertThat(MaxMss.forMtu(1280)).isEqualTo(new MaxMss(1240, 1220));
        assertThat(MaxMss.forMtu(1492)).isEqualTo(new MaxMss(1452, 1432));
    }

    @Test
    void ipv4SynIsClampedWithValidChecksum() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(mssOption(1460), SACK_PERMITTED, NOP, WSCALE), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksumValid()).isTrue();
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void ipv6SynIsClampedToMtuMinusSixty() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1220);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void synAckIsClampedToo() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN | ACK, mssOption(1460), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1240);
    }

    @Test
    void smallerMssIsNeverRaised() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(536), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MSS_SMALL_ENOUGH);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void mssEqualToMaximumIsLeftAlone() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1240), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MSS_SMALL_ENOUGH);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void segmentWithoutSynIsLeftAlone() {
        TestPacket p = TestPacket.ipv4(tcpSegment(ACK, mssOption(1460), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NOT_SYN);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void synWithoutMssOptionIsReported() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, NOP, WSCALE), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void endOfOptionListHidesWhatFollows() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(NOP, EOL, NOP, NOP, mssOption(1460)), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void mssAfterSingleNopSitsAtOddOffsetAndChecksumStaysRight() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(NOP, mssOption(1460), NOP, NOP, NOP), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void everyMssOptionIsLowered() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, concat(mssOption(9000), NOP, mssOption(1300), mssOption(500)), NONE));
        List<String> log = new ArrayList<>();
        Outcome outcome = MssClamp.clamp(MemorySegment.ofArray(p.bytes), 0, p.bytes.length, MTU_1280,
                (from, to) -> log.add(from + " -> " + to));
        assertThat(outcome).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1220, 1220, 500);
        assertThat(log).containsExactly("9000 -> 1220", "1300 -> 1220");
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void zeroLengthOptionStopsTheWalkBeforeLaterMss() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(new byte[] {8, 0}, mssOption(1460)), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void overlongOptionStopsTheWalkButKeepsEarlierWork() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(mssOption(1460), new byte[] {8, 40, 0, 0}), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.bytes[p.tcp + 22] & 0xff).isEqualTo(1240 >>> 8);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void mssKindWithWrongLengthIsNotAnMssOption() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, new byte[] {2, 6, 0x05, (byte) 0xb4, 0, 0}, NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void optionKindWithoutRoomForItsLengthStopsTheWalk() {
        // 3 bytes of options padded to 4 by EOL would end the walk; make the last byte a kind instead.
        byte[] segment = tcpSegment(SYN, new byte[] {1, 1, 1, 8}, NONE);
        TestPacket p = TestPacket.ipv4(segment);
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void laterIpv4FragmentIsLeftAlone() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE), 0x0010);
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NOT_TCP);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void firstIpv4FragmentIsClamped() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE), 0x2000);
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
    }

    @Test
    void ipv4TotalLengthMustMatchThePacket() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        p.bytes[3]++;
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MALFORMED);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void ipv4HeaderLengthBelowTwentyIsMalformed() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        p.bytes[0] = 0x44;
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MALFORMED);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void nonTcpIsLeftAlone() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        p.bytes[9] = 17;
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NOT_TCP);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void tcpDataOffsetBelowFiveOrPastThePacketIsMalformed() {
        for (int dataOffset : new int[] {4, 15}) {
            TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
            p.bytes[p.tcp + 12] = (byte) (dataOffset << 4);
            byte[] before = p.copy();
            assertThat(p.clamp(MTU_1280)).as("data offset %d", dataOffset).isEqualTo(Outcome.MALFORMED);
            assertThat(p.bytes).isEqualTo(before);
        }
    }

    @Test
    void truncatedTcpHeaderIsMalformed() {
        TestPacket whole = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        byte[] cut = java.util.Arrays.copyOf(whole.bytes, 32); // IP header and 12 bytes of TCP
        cut[2] = 0;
        cut[3] = 32;
        byte[] before = cut.clone();
        assertThat(MssClamp.clamp(MemorySegment.ofArray(cut), 0, cut.length, MTU_1280, null))
                .isEqualTo(Outcome.MALFORMED);
        assertThat(cut).isEqualTo(before);
    }

    @Test
    void ipv6ExtensionHeadersAreWalkedToTcp() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE),
                0, TestPacket.paddedExtension(0),
                60, TestPacket.paddedExtension(1),
                43, TestPacket.paddedExtension(0),
                44, TestPacket.fragmentHeader(0, false),
                60, TestPacket.paddedExtension(0));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1220);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void ipv6ChainsAreWalkedUpToTheLimitAndNoFurther() {
        Object[] chain = new Object[2 * (MssClamp.IPV6_EXTENSION_HEADER_LIMIT + 1)];
        for (int i = 0; i < chain.length; i += 2) {
            chain[i] = 60;
            chain[i + 1] = TestPacket.paddedExtension(0);
        }
        TestPacket atLimit = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE),
                java.util.Arrays.copyOf(chain, chain.length - 2));
        assertThat(atLimit.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        TestPacket overLimit = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), chain);
        byte[] before = overLimit.copy();
        assertThat(overLimit.clamp(MTU_1280)).isEqualTo(Outcome.NOT_TCP);
        assertThat(overLimit.bytes).isEqualTo(before);
    }

    @Test
    void laterIpv6FragmentIsLeftAlone() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), 44, TestPacket.fragmentHeader(3, true));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NOT_TCP);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void espAndAuthenticationHeaderAreNotWalked() {
        for (int type : new int[] {50, 51, 59, 135}) {
            TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), type, TestPacket.paddedExtension(0));
            byte[] before = p.copy();
            assertThat(p.clamp(MTU_1280)).as("next header %d", type).isEqualTo(Outcome.NOT_TCP);
            assertThat(p.bytes).isEqualTo(before);
        }
    }

    @Test
    void ipv6ExtensionRunningPastThePacketIsMalformed() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), 0, TestPacket.paddedExtension(0));
        p.bytes[41] = 20; // hop-by-hop claims 168 bytes
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MALFORMED);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void ipv6PayloadLengthMustMatchThePacket() {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE));
        p.bytes[5]--;
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.MALFORMED);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void unknownIpVersionAndEmptyPacketAreMalformed() {
        byte[] junk = {0x55, 1, 2, 3};
        assertThat(MssClamp.clamp(MemorySegment.ofArray(junk), 0, junk.length, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(MssClamp.clamp(MemorySegment.ofArray(junk), 0, 0, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(junk).containsExactly(0x55, 1, 2, 3);
    }

    @Test
    void packetAtAnOffsetInALargerBufferIsFound() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        byte[] buffer = new byte[p.bytes.length + 37];
        System.arraycopy(p.bytes, 0, buffer, 37, p.bytes.length);
        assertThat(MssClamp.clamp(MemorySegment.ofArray(buffer), 37, p.bytes.length, MTU_1280, null))
                .isEqualTo(Outcome.CLAMPED);
        System.arraycopy(buffer, 37, p.bytes, 0, p.bytes.length);
        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }
}
