package net.tcpmssd.packet;

import static net.tcpmssd.packet.TestPacket.ACK;
import static net.tcpmssd.packet.TestPacket.SYN;
import static net.tcpmssd.packet.TestPacket.concat;
import static net.tcpmssd.packet.TestPacket.mssOption;
import static net.tcpmssd.packet.TestPacket.tcpSegment;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitrary;

/**
 * The core's test packets, opened to the tests of other packages (the BPF data plane's
 * differential test runs every one of them through both implementations): the example packets of
 * MssClampTest and AddMssTest, and the generators of PacketArbitraries and MssClampFuzzProperties.
 */
public final class PacketCorpus {

    private static final byte[] NONE = new byte[0];
    private static final byte[] NOP = {1};
    private static final byte[] EOL = {0};
    private static final byte[] SACK_PERMITTED = {4, 2};
    private static final byte[] WSCALE = {3, 3, 7};

    private PacketCorpus() {}

    /** One packet for each rule MssClampTest and AddMssTest check, IP header first. */
    public static List<byte[]> examples() {
        List<TestPacket> p = new ArrayList<>();
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(mssOption(1460), SACK_PERMITTED, NOP, WSCALE), NONE)));
        p.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN | ACK, mssOption(1460), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, mssOption(536), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, mssOption(1240), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(ACK, mssOption(1460), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(SACK_PERMITTED, NOP, WSCALE), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(NOP, EOL, NOP, NOP, mssOption(1460)), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(NOP, mssOption(1460), NOP, NOP, NOP), NONE)));
        p.add(TestPacket.ipv6(tcpSegment(SYN, concat(NOP, mssOption(1460), NOP, NOP, NOP), NONE)));
        p.add(TestPacket.ipv6(tcpSegment(SYN, concat(mssOption(9000), NOP, mssOption(1300), mssOption(500)), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(new byte[] {8, 0}, mssOption(1460)), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, concat(mssOption(1460), new byte[] {8, 40, 0, 0}), NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, new byte[] {2, 6, 0x05, (byte) 0xb4, 0, 0}, NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, new byte[] {1, 1, 1, 8}, NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE), 0x0010));
        p.add(TestPacket.ipv4(tcpSegment(SYN, mssOption(1460), NONE), 0x2000));
        p.add(TestPacket.ipv4(tcpSegment(SYN, new byte[40], NONE)));
        p.add(TestPacket.ipv4(tcpSegment(SYN, SACK_PERMITTED, new byte[] {1, 2, 3})));
        p.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE),
                0, TestPacket.paddedExtension(0), 60, TestPacket.paddedExtension(1), 43, TestPacket.paddedExtension(0),
                44, TestPacket.fragmentHeader(0, false), 60, TestPacket.paddedExtension(0)));
        p.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), 44, TestPacket.fragmentHeader(3, true)));
        p.add(TestPacket.ipv6(tcpSegment(SYN, SACK_PERMITTED, NONE), 60, TestPacket.paddedExtension(0)));
        for (int type : new int[] {50, 51, 59, 135}) {
            p.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), type, TestPacket.paddedExtension(0)));
        }
        for (int headers = MssClamp.IPV6_EXTENSION_HEADER_LIMIT - 1; headers <= MssClamp.IPV6_EXTENSION_HEADER_LIMIT + 1; headers++) {
            Object[] chain = new Object[2 * headers];
            for (int i = 0; i < chain.length; i += 2) {
                chain[i] = i % 4 == 0 ? 60 : 44;
                chain[i + 1] = i % 4 == 0 ? TestPacket.paddedExtension(0) : TestPacket.fragmentHeader(0, false);
            }
            p.add(TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), chain));
        }
        List<byte[]> packets = new ArrayList<>(p.stream().map(t -> t.bytes).toList());
        // The ones broken after building: a total length off by one, a header length below 20,
        // UDP, data offsets 4 and 15, a cut TCP header, a hop-by-hop running past the packet, a
        // payload length off by one, an unknown version, nothing at all.
        packets.add(edit(packets.get(0), 3, b -> b + 1));
        packets.add(edit(packets.get(0), 0, b -> 0x44));
        packets.add(edit(packets.get(0), 9, b -> 17));
        packets.add(edit(packets.get(0), 20 + 12, b -> 4 << 4));
        packets.add(edit(packets.get(0), 20 + 12, b -> 15 << 4));
        byte[] cut = Arrays.copyOf(packets.get(2), 32);
        cut[2] = 0;
        cut[3] = 32;
        packets.add(cut);
        TestPacket hop = TestPacket.ipv6(tcpSegment(SYN, mssOption(1440), NONE), 0, TestPacket.paddedExtension(0));
        packets.add(edit(hop.bytes, 41, b -> 20));
        packets.add(edit(packets.get(1), 5, b -> b - 1));
        packets.add(new byte[] {0x55, 1, 2, 3});
        packets.add(new byte[0]);
        return packets;
    }

    /** A SYN as Linux sends it: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
    public static byte[] linuxSyn(int version) {
        byte[] options = concat(mssOption(1460), SACK_PERMITTED, new byte[] {8, 10, 1, 2, 3, 4, 0, 0, 0, 0}, NOP, WSCALE);
        return packet(version, tcpSegment(SYN, options, NONE));
    }

    /** A segment of the established flow: ACK, timestamps, 100 bytes of data. */
    public static byte[] dataSegment(int version) {
        byte[] options = concat(NOP, NOP, new byte[] {8, 10, 1, 2, 3, 4, 5, 6, 7, 8});
        return packet(version, tcpSegment(ACK | 0x08, options, new byte[100]));
    }

    private static byte[] packet(int version, byte[] segment) {
        return (version == 6 ? TestPacket.ipv6(segment) : TestPacket.ipv4(segment)).bytes;
    }

    /** Whether an IPv4 packet's TCP checksum is right (over pseudo-header and segment). */
    public static boolean ipv4TcpChecksumValid(byte[] packet) {
        return TestPacket.reparsed4(packet).tcpChecksumValid();
    }

    /** The values of an IPv4 packet's well-formed MSS options, in order. */
    public static int[] ipv4MssValues(byte[] packet) {
        return TestPacket.reparsed4(packet).mssValues();
    }

    private interface ByteEdit {
        int apply(int before);
    }

    private static byte[] edit(byte[] packet, int at, ByteEdit edit) {
        byte[] copy = packet.clone();
        copy[at] = (byte) edit.apply(copy[at] & 0xff);
        return copy;
    }

    /** SYNs and SYN-ACKs with real option lists, IPv4 and IPv6 with extension chains. */
    public static Arbitrary<byte[]> syns() {
        return PacketArbitraries.syns().map(t -> t.bytes);
    }

    /** TCP segments without SYN. */
    public static Arbitrary<byte[]> nonSyns() {
        return PacketArbitraries.nonSyns().map(t -> t.bytes);
    }

    /** SYNs without an MSS option and without payload, as --add-mss wants them (AddMssTest's). */
    public static Arbitrary<byte[]> synsWithoutMss() {
        return new AddMssTest().synsWithoutMss().map(t -> t.bytes);
    }

    /** Real SYNs broken by the fuzz test's mutations. */
    public static Arbitrary<byte[]> mutatedSyns() {
        return new MssClampFuzzProperties().mutatedSyns();
    }
}
