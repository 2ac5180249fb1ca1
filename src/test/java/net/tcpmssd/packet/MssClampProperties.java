package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.concat;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Properties of the core over generated packets: BEHAVIOUR §4's guarantees, checked thousands of times. */
class MssClampProperties {

    @Property(tries = 3000)
    void clampedChecksumEqualsFullRecomputationAndMssIsOnlyLowered(
            @ForAll("synPackets") TestPacket packet, @ForAll @IntRange(min = 68, max = 65535) int mtu) {
        MaxMss max = MaxMss.forMtu(mtu);
        int limit = max.forVersion(packet.version);
        int[] before = packet.mssValues();
        byte[] original = packet.copy();

        Outcome outcome = packet.clamp(max);

        int[] after = packet.mssValues();
        assertThat(after).hasSameSizeAs(before);
        boolean anyAbove = false;
        for (int i = 0; i < before.length; i++) {
            assertThat(after[i]).isEqualTo(Math.min(before[i], limit));
            anyAbove |= before[i] > limit;
        }
        assertThat(packet.tcpChecksum()).isEqualTo(packet.recomputedTcpChecksum());
        assertThat(outcome).isEqualTo(anyAbove ? Outcome.CLAMPED
                : before.length > 0 ? Outcome.MSS_SMALL_ENOUGH : Outcome.NO_MSS_OPTION);
        if (!anyAbove) {
            assertThat(packet.bytes).isEqualTo(original);
        }
        assertOnlyMssAndChecksumDiffer(original, packet);
    }

    @Property(tries = 1000)
    void segmentsWithoutSynComeBackUnchanged(@ForAll("nonSynPackets") TestPacket packet,
                                             @ForAll @IntRange(min = 68, max = 1500) int mtu) {
        byte[] original = packet.copy();
        assertThat(packet.clamp(MaxMss.forMtu(mtu))).isEqualTo(Outcome.NOT_SYN);
        assertThat(packet.bytes).isEqualTo(original);
    }

    @Property(tries = 5000)
    void arbitraryBytesNeverThrowAndAreUnchangedUnlessClamped(@ForAll("ipLikeBytes") byte[] bytes,
                                                              @ForAll @IntRange(min = 68, max = 1500) int mtu) {
        byte[] original = bytes.clone();
        Outcome outcome = MssClamp.clamp(MemorySegment.ofArray(bytes), 0, bytes.length, MaxMss.forMtu(mtu), null);
        if (outcome != Outcome.CLAMPED) {
            assertThat(bytes).isEqualTo(original);
        }
    }

    @Property(tries = 5000)
    void mutatedSynsNeverThrowAndAreUnchangedUnlessClamped(
            @ForAll("synPackets") TestPacket packet,
            @ForAll @Size(min = 1, max = 4) List<@IntRange(min = 0, max = 199) Integer> positions,
            @ForAll @Size(min = 4, max = 4) List<@IntRange(min = 0, max = 255) Integer> values,
            @ForAll @IntRange(min = 0, max = 8) int truncate) {
        byte[] bytes = packet.copy();
        for (int i = 0; i < positions.size(); i++) {
            int at = positions.get(i) % bytes.length;
            bytes[at] = (byte) (int) values.get(i);
        }
        int length = Math.max(0, bytes.length - truncate);
        byte[] original = bytes.clone();
        Outcome outcome = MssClamp.clamp(MemorySegment.ofArray(bytes), 0, length, MaxMss.forMtu(1280), null);
        if (outcome != Outcome.CLAMPED) {
            assertThat(bytes).isEqualTo(original);
        }
    }

    private static void assertOnlyMssAndChecksumDiffer(byte[] original, TestPacket clamped) {
        for (int i = 0; i < original.length; i++) {
            if (original[i] != clamped.bytes[i]) {
                boolean checksum = i == clamped.tcp + 16 || i == clamped.tcp + 17;
                boolean mssValue = i >= clamped.tcp + 20 && clamped.bytes[i - 2] == 2 || i >= clamped.tcp + 21 && clamped.bytes[i - 3] == 2;
                assertThat(checksum || mssValue).as("byte %d changed", i).isTrue();
            }
        }
    }

    @Provide
    Arbitrary<TestPacket> synPackets() {
        return PacketArbitraries.syns();
    }

    @Provide
    Arbitrary<TestPacket> nonSynPackets() {
        return PacketArbitraries.nonSyns();
    }

    @Provide
    Arbitrary<byte[]> ipLikeBytes() {
        Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMinSize(0).ofMaxSize(120);
        return Combinators.combine(raw, Arbitraries.of(0x45, 0x46, 0x4f, 0x60, 0x00)).as((b, first) -> {
            if (b.length > 0) {
                b[0] = (byte) (int) first;
            }
            if (b.length >= 40 && (first & 0xf0) == 0x60) {
                int payload = b.length - 40;
                b[4] = (byte) (payload >>> 8);
                b[5] = (byte) payload;
            } else if (b.length >= 20 && (first & 0xf0) == 0x40) {
                b[2] = (byte) (b.length >>> 8);
                b[3] = (byte) b.length;
                b[6] &= 0x60;
                b[7] = 0;
                b[9] = 6;
            }
            return b;
        });
    }
}
