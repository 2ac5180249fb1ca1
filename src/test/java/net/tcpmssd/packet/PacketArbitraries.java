package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.concat;

import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/** Generators of realistic TCP packets, IPv4 and IPv6, for the property and fuzz tests. */
final class PacketArbitraries {

    private PacketArbitraries() {}

    /** SYNs and SYN-ACKs (with other flags mixed in), with real option lists and payloads. */
    static Arbitrary<TestPacket> syns() {
        return packets(Arbitraries.of(0x02, 0x12, 0x02 | 0x40 | 0x80, 0x03 | 0x10));
    }

    static Arbitrary<TestPacket> nonSyns() {
        return packets(Arbitraries.of(0x10, 0x18, 0x11, 0x04, 0x00, 0xfd));
    }

    private static Arbitrary<TestPacket> packets(Arbitrary<Integer> flags) {
        Arbitrary<byte[]> payload = Arbitraries.bytes().array(byte[].class).ofMaxSize(64);
        Arbitrary<byte[]> segment = Combinators.combine(flags, options(), payload).as(TestPacket::tcpSegment);
        return Arbitraries.oneOf(segment.map(TestPacket::ipv4),
                segment.flatMap(s -> ipv6Chains().map(chain -> TestPacket.ipv6(s, chain))));
    }

    /** Option lists of up to 40 bytes built from real kinds: MSS, NOP, window scale, SACK, timestamps, unknown. */
    private static Arbitrary<byte[]> options() {
        Arbitrary<byte[]> mss = Arbitraries.integers().between(0, 65535).map(TestPacket::mssOption);
        Arbitrary<byte[]> nop = Arbitraries.just(new byte[] {1});
        Arbitrary<byte[]> wscale = Arbitraries.integers().between(0, 14).map(s -> new byte[] {3, 3, (byte) (int) s});
        Arbitrary<byte[]> sackPermitted = Arbitraries.just(new byte[] {4, 2});
        Arbitrary<byte[]> timestamps = Arbitraries.bytes().array(byte[].class).ofSize(8).map(v -> concat(new byte[] {8, 10}, v));
        Arbitrary<byte[]> unknown = Arbitraries.bytes().array(byte[].class).ofMaxSize(6)
                .map(v -> concat(new byte[] {(byte) 253, (byte) (v.length + 2)}, v));
        Arbitrary<byte[]> option = Arbitraries.frequencyOf(
                Tuple.of(4, mss), Tuple.of(3, nop), Tuple.of(1, wscale),
                Tuple.of(1, sackPermitted), Tuple.of(1, timestamps), Tuple.of(1, unknown));
        return option.list().ofMaxSize(8).map(list -> {
            byte[] all = concat(list.toArray(byte[][]::new));
            return all.length <= 40 ? all : Arrays.copyOf(all, 40);
        });
    }

    /** Chains of hop-by-hop, routing, destination options and first-fragment headers, as ipv6() takes them. */
    private static Arbitrary<Object[]> ipv6Chains() {
        Arbitrary<Object[]> header = Arbitraries.oneOf(
                Arbitraries.of(0, 43, 60).flatMap(t -> Arbitraries.integers().between(0, 3)
                        .map(units -> new Object[] {t, TestPacket.paddedExtension(units)})),
                Arbitraries.of(true, false).map(more -> new Object[] {44, TestPacket.fragmentHeader(0, more)}));
        return header.list().ofMaxSize(3).map(list -> list.stream().flatMap(Arrays::stream).toArray());
    }
}
