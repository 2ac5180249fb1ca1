package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.ACK;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
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
    void bareTwentyByteHeaderIsWalked() {
        assertUnchanged(TestPacket.ipv4(tcpSegment(SYN, NONE, NONE)), Outcome.NO_MSS_OPTION);
        assertUnchanged(TestPacket.ipv6(tcpSegment(ACK, NONE, NONE)), Outcome.NOT_SYN);
    }

    @Test
    void mssAfterATwoByteOptionIsClamped() {
        // SACK permitted (kind 4, length 2: the shortest length an option can have) before the MSS.
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, mssOption(1460)), NONE));
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void fourByteOptionOfAnotherKindIsNotAnMss() {
        // Kind 253 (RFC 4727's experimental kind) of length 4, its value bytes 0xffff.
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, new byte[] {(byte) 253, 4, (byte) 0xff, (byte) 0xff}, NONE));
        assertUnchanged(p, Outcome.NO_MSS_OPTION);
    }

    @Test
    void endOfOptionListHidesWhatFollows() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(NOP, EOL, NOP, NOP, mssOption(1460)), NONE));
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.NO_MSS_OPTION);
        assertThat(p.bytes).isEqualTo(before);
    }

    @Test
    void endOfOptionListStopsTheWalkWhateverFollows() {
        // After EOL the header holds padding, or anything (RFC 9293 §3.2): here bytes that read as
        // a length of 2 and an MSS of 1460, which must not be touched.
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(EOL, new byte[] {2}, mssOption(1460)), NONE));
        assertUnchanged(p, Outcome.NO_MSS_OPTION);
    }

    @Test
    void optionRunningOneBytePastTheHeaderEndStopsTheWalk() {
        // An MSS option at offset 21 of a 24-byte header: its last byte would be the first of the
        // payload. The walk stops; neither the option nor the payload is changed.
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, new byte[] {1, 2, 4, 0x05}, new byte[] {(byte) 0xb4, 1, 2, 3}));
        assertUnchanged(p, Outcome.NO_MSS_OPTION);
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

    /**
     * An IPv4 SYN of 48 bytes. Read as a TCP header from its first byte, it is a SYN with a header
     * of 48 bytes (its source address 198.51.100.2 puts 0xc6 and 0x33 at bytes 12 and 13), so a
     * core that went on looking for TCP in it after finding it malformed would say something else.
     */
    private static TestPacket ipv4SynOf48Bytes() {
        return TestPacket.ipv4(tcpSegment(SYN, concat(mssOption(1460), SACK_PERMITTED, NOP, NOP), NONE));
    }

    @Test
    void ipv4HeaderLengthBelowTwentyIsMalformed() {
        for (int units = 0; units < 5; units++) {
            TestPacket p = ipv4SynOf48Bytes();
            p.bytes[0] = (byte) (0x40 | units);
            assertUnchanged(p, Outcome.MALFORMED);
        }
    }

    @Test
    void ipv4HeaderLengthBeyondPacketIsMalformed() {
        // Whatever the protocol: the lengths are checked before what the packet carries.
        for (int protocol : new int[] {6, 17}) {
            TestPacket p = ipv4SynOf48Bytes();
            p.bytes[0] = 0x4f; // 60 bytes of header in a packet of 48
            p.bytes[9] = (byte) protocol;
            assertUnchanged(p, Outcome.MALFORMED);
        }
    }

    @Test
    void ipv4TotalLengthOtherThanThePacketIsMalformed() {
        for (int protocol : new int[] {6, 17}) {
            for (int difference : new int[] {-4, -1, 1, 256}) {
                TestPacket p = ipv4SynOf48Bytes();
                int total = p.bytes.length + difference;
                p.bytes[2] = (byte) (total >>> 8);
                p.bytes[3] = (byte) total;
                p.bytes[9] = (byte) protocol;
                assertUnchanged(p, Outcome.MALFORMED);
            }
        }
    }

    @Test
    void ipv4HeaderAloneIsNotTcpUnlessItSaysTcp() {
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, NONE, NONE));
        byte[] header = Arrays.copyOf(p.bytes, 20);
        header[3] = 20;
        header[9] = 17;
        assertThat(MssClamp.clamp(MemorySegment.ofArray(header), 0, 20, MTU_1280, null)).isEqualTo(Outcome.NOT_TCP);
        header[9] = 6; // TCP without a TCP header
        assertThat(MssClamp.clamp(MemorySegment.ofArray(header), 0, 20, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
    }

    @Test
    void ipv4OptionsAreSkippedByTheHeaderLength() {
        TestPacket plain = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE));
        byte[] bytes = concat(Arrays.copyOf(plain.bytes, 20), new byte[] {1, 1, 1, 0}, // NOP NOP NOP EOL
                Arrays.copyOfRange(plain.bytes, 20, plain.bytes.length));
        bytes[0] = 0x46;
        bytes[3] = (byte) bytes.length;
        TestPacket p = TestPacket.reparsed4(bytes);
        assertThat(p.tcp).isEqualTo(24);
        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);
        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
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
        byte[] cut = Arrays.copyOf(whole.bytes, 32); // IP header and 12 bytes of TCP
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

    /**
     * An IPv6 SYN from 2001:db8:5002::2, whose source address puts 0x50 0x02 at bytes 12 and 13:
     * read as a TCP header from its first byte, the IPv6 header is a SYN of 20 bytes. A core that
     * went on looking for TCP in a packet it had found malformed would say NO_MSS_OPTION.
     */
    private static TestPacket ipv6LookingLikeTcpFromItsStart(Object... extensions) {
        TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), extensions);
        p.bytes[12] = 0x50;
        p.bytes[13] = 0x02;
        p.fixTcpChecksum();
        return p;
    }

    private static void setIpv6PayloadLength(byte[] packet, int length) {
        packet[4] = (byte) (length >>> 8);
        packet[5] = (byte) length;
    }

    @Test
    void ipv6PayloadLengthNotMatchingThePacketIsMalformed() {
        for (int difference : new int[] {-1, 1, -24, 4096}) {
            TestPacket p = ipv6LookingLikeTcpFromItsStart();
            setIpv6PayloadLength(p.bytes, p.bytes.length - 40 + difference);
            assertUnchanged(p, Outcome.MALFORMED);
        }
    }

    @Test
    void ipv6PacketShorterThanItsHeaderIsMalformed() {
        byte[] cut = Arrays.copyOf(ipv6LookingLikeTcpFromItsStart().bytes, 39);
        setIpv6PayloadLength(cut, 0);
        byte[] before = cut.clone();
        assertThat(MssClamp.clamp(MemorySegment.ofArray(cut), 0, cut.length, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(cut).isEqualTo(before);
    }

    @Test
    void ipv6ExtensionHeaderCutShortIsMalformed() {
        // Hop-by-hop, then destination options that the packet ends before: the payload length
        // covers only the first header. The packet fills its buffer: nothing past it may be read.
        byte[] cut = Arrays.copyOf(ipv6LookingLikeTcpFromItsStart(
                0, TestPacket.paddedExtension(0), 60, TestPacket.paddedExtension(0)).bytes, 48);
        setIpv6PayloadLength(cut, 8);
        byte[] before = cut.clone();
        assertThat(MssClamp.clamp(MemorySegment.ofArray(cut), 0, cut.length, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(cut).isEqualTo(before);
        // A hop-by-hop header of which only 4 bytes are there.
        byte[] half = Arrays.copyOf(ipv6LookingLikeTcpFromItsStart(0, TestPacket.paddedExtension(0)).bytes, 44);
        setIpv6PayloadLength(half, 4);
        assertThat(MssClamp.clamp(MemorySegment.ofArray(half), 0, half.length, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
    }

    @Test
    void extensionHeaderEndingThePacketIsStillJudgedByItsType() {
        // The last 8 bytes of the packet: an ESP header (SPI and sequence number) or a later
        // fragment's header. Both say there is no TCP header to find here, not that it is broken.
        for (Object[] last : new Object[][] {{50, new byte[8]}, {44, TestPacket.fragmentHeader(3, false)}}) {
            TestPacket p = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), last);
            byte[] bytes = Arrays.copyOf(p.bytes, 48);
            setIpv6PayloadLength(bytes, 8);
            assertThat(MssClamp.clamp(MemorySegment.ofArray(bytes), 0, 48, MTU_1280, null))
                    .as("next header %d", last[0]).isEqualTo(Outcome.NOT_TCP);
        }
    }

    @Test
    void unknownIpVersionAndEmptyPacketAreMalformed() {
        byte[] junk = {0x55, 1, 2, 3};
        assertThat(MssClamp.clamp(MemorySegment.ofArray(junk), 0, junk.length, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(MssClamp.clamp(MemorySegment.ofArray(junk), 0, 0, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
        assertThat(junk).containsExactly(0x55, 1, 2, 3);
        // An empty packet in an empty buffer: not even its version byte may be read.
        assertThat(MssClamp.clamp(MemorySegment.ofArray(new byte[0]), 0, 0, MTU_1280, null)).isEqualTo(Outcome.MALFORMED);
    }

    @Test
    void ipHeadersCutShortAreMalformed() {
        // Each packet fills its buffer, with its length fields saying what is there: nothing past
        // the end may be read, and what is there is left alone.
        byte[] v4 = TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE)).bytes;
        for (int length = 1; length < 20; length++) {
            byte[] cut = Arrays.copyOf(v4, length);
            if (length >= 4) {
                cut[2] = 0;
                cut[3] = (byte) length;
            }
            assertCutIsMalformed(cut);
        }
        byte[] v6 = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE)).bytes;
        for (int length = 1; length < 40; length++) {
            byte[] cut = Arrays.copyOf(v6, length);
            if (length >= 6) {
                setIpv6PayloadLength(cut, 0);
            }
            assertCutIsMalformed(cut);
        }
    }

    private static void assertCutIsMalformed(byte[] cut) {
        byte[] before = cut.clone();
        assertThat(MssClamp.clamp(MemorySegment.ofArray(cut), 0, cut.length, MTU_1280, null))
                .as("%d bytes", cut.length).isEqualTo(Outcome.MALFORMED);
        assertThat(cut).isEqualTo(before);
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

    private static void assertUnchanged(TestPacket p, Outcome expected) {
        byte[] before = p.copy();
        assertThat(p.clamp(MTU_1280)).isEqualTo(expected);
        assertThat(p.bytes).isEqualTo(before);
    }
}
