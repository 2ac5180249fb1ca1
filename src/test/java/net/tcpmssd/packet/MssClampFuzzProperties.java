package net.tcpmssd.packet;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Mutation fuzzing of the core (issue 5): real SYNs, IPv4 and IPv6, broken by a chain of
 * mutations a hostile or buggy peer could produce (bytes overwritten, bits flipped, lengths
 * rewritten, truncation, trailing junk), then clamped.
 *
 * <p>Jazzer would be the coverage-guided choice, but its instrumentation cannot read Java 25 class
 * files yet, so it would fuzz blind; jqwik's mutations of real packets reach deeper here.
 *
 * <p>The number of tries is the jqwik default, set for CI in junit-platform.properties; for a
 * longer run: {@code bench/fuzz TRIES}.
 */
class MssClampFuzzProperties {

    @Property(shrinking = net.jqwik.api.ShrinkingMode.FULL)
    void anyMutationIsEitherLeftAloneOrClampedConsistently(@ForAll("mutatedSyns") byte[] packet) {
        byte[] before = packet.clone();

        Outcome outcome = MssClamp.clamp(MemorySegment.ofArray(packet), 0, packet.length, MaxMss.forMtu(1280), null);

        if (outcome != Outcome.CLAMPED) {
            assertThat(packet).isEqualTo(before);
            return;
        }
        // What the MSS values lost, the checksum gained: the one's complement sum over words
        // aligned like the TCP header (which starts at an even offset) is unchanged, so a valid
        // checksum stays valid and an invalid one stays exactly as invalid.
        assertThat(onesComplementSum(packet)).isEqualTo(onesComplementSum(before));
        int changed = 0;
        for (int i = 0; i < packet.length; i++) {
            changed += packet[i] != before[i] ? 1 : 0;
        }
        assertThat(changed).isBetween(1, 2 + 2 * 10); // the checksum and at most 10 MSS values
    }

    @Provide
    Arbitrary<byte[]> mutatedSyns() {
        return Combinators.combine(PacketArbitraries.syns(), mutation().list().ofMinSize(1).ofMaxSize(6))
                .as((packet, mutations) -> {
                    byte[] bytes = packet.copy();
                    for (Mutation m : mutations) {
                        bytes = m.apply(bytes, packet.tcp);
                    }
                    return bytes;
                });
    }

    /** One way of breaking a packet; {@code tcp} is where the TCP header started before any mutation. */
    private interface Mutation {
        byte[] apply(byte[] packet, int tcp);
    }

    private Arbitrary<Mutation> mutation() {
        Arbitrary<Integer> position = Arbitraries.integers().between(0, 199);
        Arbitrary<Integer> value = Arbitraries.integers().between(0, 255);
        Arbitrary<Mutation> overwrite = Combinators.combine(position, value)
                .as((at, v) -> (p, tcp) -> set(p, at % Math.max(1, p.length), v));
        Arbitrary<Mutation> flipBit = Combinators.combine(position, Arbitraries.integers().between(0, 7))
                .as((at, bit) -> (p, tcp) -> p.length == 0 ? p : set(p, at % p.length, p[at % p.length] ^ (1 << bit)));
        // The length fields: IPv4 header length and total length, IPv6 payload length, TCP data
        // offset, and the length byte of the first TCP option.
        Arbitrary<Mutation> lengthField = Combinators.combine(Arbitraries.of(0, 2, 3, 4, 5, 12, 21), value)
                .as((field, v) -> (p, tcp) -> switch (field) {
                    case 0 -> set(p, 0, (p.length > 0 ? p[0] & 0xf0 : 0x40) | (v & 0x0f));
                    case 12 -> set(p, tcp + 12, v & 0xf0);
                    case 21 -> set(p, tcp + 21, v);
                    default -> set(p, field, v);
                });
        Arbitrary<Mutation> truncate = Arbitraries.integers().between(0, 120)
                .map(length -> (p, tcp) -> Arrays.copyOf(p, Math.min(p.length, length)));
        Arbitrary<Mutation> append = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(40)
                .map(junk -> (p, tcp) -> TestPacket.concat(p, junk));
        return Arbitraries.oneOf(overwrite, flipBit, lengthField, lengthField, truncate, append);
    }

    private static byte[] set(byte[] p, int at, int value) {
        if (at >= 0 && at < p.length) {
            p[at] = (byte) value;
        }
        return p;
    }

    private static int onesComplementSum(byte[] b) {
        long sum = 0;
        for (int i = 0; i + 1 < b.length; i += 2) {
            sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
        }
        if ((b.length & 1) != 0) {
            sum += (b[b.length - 1] & 0xff) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return sum == 0 ? 0xffff : (int) sum; // +0 and -0 are the same number
    }

}
