package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The incremental checksum update of RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), at the values where
 * it is easy to get wrong.
 *
 * <p>The sum of the three 16-bit words is at most 0x2fffd. Folding its carry back once gives
 * (sum & 0xffff) + (sum >>> 16), which carries again only for the sum 0x1ffff (0xffff + 1): then
 * a second fold is needed, and for a given change m -> m' exactly one checksum HC leads there. A
 * random packet hits it once in 65,536 updates, so no sample of packets catches an update that
 * folds only once; these tests build that checksum, and also try every checksum there is.
 */
class ChecksumUpdateTest {

    private static final MaxMss MTU_1280 = MaxMss.forMtu(1280);
    private static final byte[] NONE = new byte[0];
    private static final byte[] NOP = {1};

    /** The one checksum whose update from word {@code old} to {@code now} sums to 0x1ffff. */
    private static int checksumNeedingTheSecondFold(int old, int now) {
        int notChecksum = 0x1ffff - (~old & 0xffff) - now;
        assertThat(notChecksum).as("such a checksum exists for this change").isBetween(0, 0xffff);
        return ~notChecksum & 0xffff;
    }

    private static int swapped(int word) {
        return Integer.reverseBytes(word) >>> 16;
    }

    @Test
    void checksumUpdateFoldsTheSecondCarry() {
        // Lowering an aligned MSS subtracts from the sum, which then never reaches 0x1ffff. An MSS
        // after a single NOP sits at an odd offset and enters the sum byte-swapped: 1460 -> 1240 is
        // 0xb405 -> 0xd804 there, an increase, and the checksum 0x23fe makes it sum to 0x1ffff.
        int checksum = checksumNeedingTheSecondFold(swapped(1460), swapped(1240));
        assertThat(checksum).isEqualTo(0x23fe);
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, concat(NOP, mssOption(1460), NOP, NOP, NOP), NONE))
                .withTcpChecksum(checksum);

        assertThat(p.clamp(MTU_1280)).isEqualTo(Outcome.CLAMPED);

        assertThat(p.mssValues()).containsExactly(1240);
        assertThat(p.tcpChecksum()).isEqualTo(p.recomputedTcpChecksum());
    }

    @Test
    void addedMssFoldsTheSecondCarry() {
        // --add-mss first raises the data offset by one (0x1000 in the word of offset and flags):
        // ~m + m' = 0xffff + 0x1000, so the checksum 0x0fff sums to 0x1ffff.
        int checksum = checksumNeedingTheSecondFold(0x5002, 0x6002);
        assertThat(checksum).isEqualTo(0x0fff);
        TestPacket p = TestPacket.ipv4(tcpSegment(SYN, NONE, NONE)).withTcpChecksum(checksum);

        TestPacket out = p.addMss(MTU_1280);

        assertThat(out.mssValues()).containsExactly(536);
        assertThat(out.tcpChecksum()).isEqualTo(out.recomputedTcpChecksum());
    }

    @Test
    void clampedChecksumIsRightForEveryChecksumValue() {
        for (byte[] options : new byte[][] {mssOption(1460), concat(NOP, mssOption(1460), NOP, NOP, NOP)}) {
            TestPacket p = TestPacket.ipv4(tcpSegment(SYN, options, NONE));
            for (int low = 0; low <= 0xffff; low++) {
                TestPacket q = withSequenceLow(p, low);
                q.clamp(MTU_1280);
                assertThat(q.tcpChecksum()).as("sequence low word %04x", low).isEqualTo(q.recomputedTcpChecksum());
            }
        }
    }

    @Test
    void addedMssChecksumIsRightForEveryChecksumValue() {
        // Four updates (data offset, TCP length, option kind and length, MSS value): each has its
        // own checksum that needs the second fold, and all of them are among these.
        for (TestPacket p : new TestPacket[] {TestPacket.ipv4(tcpSegment(SYN, NONE, NONE)),
                TestPacket.ipv6(tcpSegment(SYN, new byte[] {4, 2}, NONE))}) {
            for (int low = 0; low <= 0xffff; low++) {
                TestPacket out = withSequenceLow(p, low).addMss(MTU_1280);
                assertThat(out.mssValues()).hasSize(1);
                assertThat(out.tcpChecksum()).as("sequence low word %04x", low).isEqualTo(out.recomputedTcpChecksum());
            }
        }
    }

    private static TestPacket withSequenceLow(TestPacket p, int low) {
        byte[] bytes = p.copy();
        bytes[p.tcp + 6] = (byte) (low >>> 8);
        bytes[p.tcp + 7] = (byte) low;
        TestPacket q = p.version == 4 ? TestPacket.reparsed4(bytes) : TestPacket.reparsed6(bytes, p.tcp);
        q.fixTcpChecksum();
        return q;
    }
}
