package net.tcpmssd.mss;

import static net.tcpmssd.mss.PathMssTest.high;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.tcpmssd.bpf.BpfProgram;
import net.tcpmssd.bpf.ClampMaps;
import net.tcpmssd.bpf.ClampProgram;
import net.tcpmssd.bpf.KernelBpf;
import net.tcpmssd.bpf.LinkType;
import net.tcpmssd.bpf.PathMtuMaps;
import net.tcpmssd.bpf.TestRun;
import net.tcpmssd.bpf.VerifierException;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.netlink.RouteTable.Kind;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.TestPacket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The differential test of --pmtu in the kernel: route tables built here (three tables, throw,
 * blackhole, local routes, a shorter local route over a longer main one, metrics on routes that
 * leave by the packet's interface and by others, multipath, a route by an unknown interface, an
 * IP version over the bound) are flattened into the program's maps (FlatRoutes, PathMtuMaps),
 * and SYNs between documentation addresses go through the real program with
 * BPF_PROG_TEST_RUN. Each must leave with the MSS that PathMss.pathMtu gives for the same table,
 * the same addresses and the same interfaces.
 *
 * <p>A test run's skb leaves by the loopback device, ifindex 1: the outgoing interface is
 * always 1 here, and the tables vary which routes leave by it and what its MTU is. The
 * incoming interface (skb_iif) is set per run. Each SYN goes through the egress program and
 * through the ingress one (-b), which is compared with PathMss without an outgoing interface.
 */
class PathMssProgramTest {

    static final int LOCAL = 255;
    static final int MAIN = 254;
    static final int DEFAULT = 253;
    static final int OUT = 1;
    static final int A = 2;
    static final int B = 3;
    static final int C = 4;
    static final int UNKNOWN = 99;
    static final int[] INCOMING = {0, OUT, A, B, C, UNKNOWN};
    static final int ORIGINAL_MSS = 65000;

    private static ClampMaps maps;
    private static PathMtuMaps paths;
    private static BpfProgram program;
    /** --pmtu with -b: the program at ingress, where no outgoing interface is known (PathMss with out 0). */
    private static BpfProgram ingress;
    private static int checked;

    @BeforeAll
    static void load() throws Exception {
        KernelBpf.assumeUsable();
        maps = ClampMaps.create();
        paths = PathMtuMaps.create();
        try {
            program = ClampProgram.load(LinkType.ETHERNET, maps, false, paths, false);
            ingress = ClampProgram.load(LinkType.ETHERNET, maps, false, paths, true);
        } catch (VerifierException e) {
            java.nio.file.Path log = java.nio.file.Path.of("target", "verifier-pmtu.log");
            java.nio.file.Files.writeString(log, e.log());
            throw new AssertionError(e.getMessage() + " (whole log in " + log + ")", e);
        }
    }

    @AfterAll
    static void close() {
        if (program != null) {
            program.close();
        }
        if (ingress != null) {
            ingress.close();
        }
        if (paths != null) {
            paths.close();
            maps.close();
        }
        System.out.println("PathMssProgramTest: " + checked + " SYNs compared");
    }

    static RouteTable.Builder routes(int outMtu) {
        RouteTable.Builder b = new RouteTable.Builder().link(OUT, outMtu).link(A, 1500).link(B, 9000).link(C, 1280);
        route(b, LOCAL, "192.0.2.1", 32, Kind.LOCAL, 0, A);
        route(b, LOCAL, "203.0.113.0", 24, Kind.LOCAL, 0, OUT);           // a local subnet ("ip route add local ... dev lo")
        route(b, MAIN, "203.0.113.64", 26, Kind.FORWARD, 1300, OUT);     // beaten by the shorter local route
        route(b, MAIN, "0.0.0.0", 0, Kind.FORWARD, 0, OUT);
        route(b, MAIN, "198.51.100.0", 24, Kind.FORWARD, 1400, A);       // a metric by another interface
        route(b, MAIN, "198.51.100.0", 25, Kind.FORWARD, 1300, OUT, A);  // multipath, by ours among others
        route(b, MAIN, "198.51.100.64", 26, Kind.REFUSE, 0);             // blackhole
        route(b, MAIN, "198.51.100.128", 25, Kind.THROW, 0);             // on to the default table
        route(b, MAIN, "198.51.100.192", 27, Kind.FORWARD, 0, UNKNOWN);  // by an interface the table does not know
        route(b, DEFAULT, "198.51.100.0", 24, Kind.FORWARD, 1200, OUT);
        route(b, DEFAULT, "198.51.100.224", 27, Kind.FORWARD, 0, B, C);  // multipath, smallest MTU back
        route(b, MAIN, "192.0.2.0", 24, Kind.FORWARD, 0, A, B);
        route(b, MAIN, "192.0.2.128", 25, Kind.THROW, 0);                // and nothing in the default table
        route(b, LOCAL, "2001:db8::1", 128, Kind.LOCAL, 0, A);
        route(b, MAIN, "::", 0, Kind.FORWARD, 0, OUT);
        route(b, MAIN, "2001:db8:1::", 48, Kind.FORWARD, 1400, OUT, B);
        route(b, MAIN, "2001:db8:1:1::", 64, Kind.FORWARD, 0, B, C);
        route(b, MAIN, "2001:db8:1:2::", 64, Kind.REFUSE, 0);
        route(b, MAIN, "2001:db8:2::", 48, Kind.THROW, 0);
        route(b, DEFAULT, "2001:db8:2::", 47, Kind.FORWARD, 1300, A);
        route(b, DEFAULT, "2001:db8:2:8000::", 49, Kind.FORWARD, 0, UNKNOWN);
        route(b, LOCAL, "2001:db8:3::", 64, Kind.LOCAL, 0, OUT);
        route(b, MAIN, "2001:db8:3::", 80, Kind.FORWARD, 1280, OUT);
        return b;
    }

    private static void route(RouteTable.Builder b, int table, String prefix, int length, Kind kind, int mtu, int... devices) {
        int version = prefix.contains(":") ? 6 : 4;
        b.route(version, table, high(prefix), low(prefix), length, 0, kind, mtu, devices);
    }

    static long low(String address) {
        try {
            byte[] b = InetAddress.getByName(address).getAddress();
            return b.length == 4 ? 0 : java.nio.ByteBuffer.wrap(b, 8, 8).getLong();
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** Addresses at the edges of every prefix above and some inside, documentation space only. */
    static List<byte[]> addresses(int version, Random random) {
        List<byte[]> all = new ArrayList<>();
        String[] near = version == 4
                ? new String[] {"192.0.2.0", "192.0.2.1", "192.0.2.127", "192.0.2.128", "192.0.2.255", "198.51.100.0",
                        "198.51.100.63", "198.51.100.64", "198.51.100.127", "198.51.100.128", "198.51.100.191",
                        "198.51.100.192", "198.51.100.223", "198.51.100.224", "198.51.100.255", "203.0.113.0",
                        "203.0.113.63", "203.0.113.64", "203.0.113.127", "203.0.113.128"}
                : new String[] {"2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8:1::", "2001:db8:1:1::5",
                        "2001:db8:1:2::9", "2001:db8:1:ffff::1", "2001:db8:2::", "2001:db8:2:7fff::1", "2001:db8:2:8000::",
                        "2001:db8:3:ffff::1", "2001:db8:3::1", "2001:db8:3:0:1::", "2001:db8:3::ffff:ffff:ffff",
                        "2001:db8:4::1"};
        for (String a : near) {
            try {
                all.add(InetAddress.getByName(a).getAddress());
            } catch (java.net.UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
        for (int i = 0; i < 20; i++) {
            byte[] a = all.get(random.nextInt(all.size())).clone();
            a[a.length - 1 - random.nextInt(version == 4 ? 1 : 10)] ^= (byte) (1 << random.nextInt(8));
            all.add(a);
        }
        return all;
    }

    @Test
    void theProgramClampsToWhatPathMssGivesForEveryPairOfAddresses() throws Exception {
        Random random = new Random(7);
        List<RouteTable> tables = List.of(routes(1500).build(), routes(1492).build(), routes(9000).link(A, 1280).build(),
                routes(1500).incomplete(4).build(), routes(1400).incomplete(6).build(),
                new RouteTable.Builder().link(OUT, 1500).build());
        for (RouteTable table : tables) {
            PathMtuMaps.Table next = paths.begin();
            FlatRoutes.fill(table, next);
            paths.publish(next);
            for (int version : new int[] {4, 6}) {
                List<byte[]> addresses = addresses(version, random);
                for (byte[] source : addresses) {
                    for (byte[] destination : addresses) {
                        check(table, version, source, destination, INCOMING[random.nextInt(INCOMING.length)]);
                    }
                }
            }
        }
        assertThat(checked).isGreaterThan(10_000);
    }

    @Test
    void aTableReplacedIsReplacedWhole() throws Exception {
        byte[] source = InetAddress.getByName("198.51.100.10").getAddress();
        byte[] destination = InetAddress.getByName("203.0.113.200").getAddress();
        for (int mtu : new int[] {1500, 1280, 9000, 1400}) {
            RouteTable table = new RouteTable.Builder().link(OUT, mtu).link(A, 1500)
                    .route(4, MAIN, high("0.0.0.0"), 0, 0, 0, Kind.FORWARD, 0, new int[] {OUT}).build();
            PathMtuMaps.Table next = paths.begin();
            FlatRoutes.fill(table, next);
            paths.publish(next);
            assertThat(run(4, source, destination, A)).isEqualTo(Math.min(ORIGINAL_MSS, mtu - 40));
        }
    }

    /**
     * At RouteTable's bound (16,384 IPv6 routes, /56s under 2001:db8::/32 with mtu metrics by
     * our interface): the table fits the map, the program still agrees with PathMss, and the
     * time to write a table and the program's time per SYN are printed for BENCHMARKS.md.
     */
    @Test
    void aTableAtTheBound() throws Exception {
        RouteTable.Builder b = new RouteTable.Builder().link(OUT, 1500).link(A, 1500);
        route(b, MAIN, "::", 0, Kind.FORWARD, 0, OUT);
        for (int i = 0; i < RouteTable.ROUTE_LIMIT - 1; i++) {
            b.route(6, MAIN, high("2001:db8::") | (long) i << 8, 0, 56, 0, Kind.FORWARD, 1280 + i % 200, new int[] {OUT});
        }
        RouteTable table = b.build();
        assertThat(table.complete(6)).isTrue();
        assertThat(table.routes(6)).isEqualTo(RouteTable.ROUTE_LIMIT);
        long started = System.nanoTime();
        PathMtuMaps.Table next = paths.begin();
        FlatRoutes.fill(table, next);
        paths.publish(next);
        long writeMillis = (System.nanoTime() - started) / 1_000_000;
        Random random = new Random(11);
        byte[] source = InetAddress.getByName("2001:db8:ffff::1").getAddress();
        for (int i = 0; i < 500; i++) {
            byte[] destination = InetAddress.getByName("2001:db8::").getAddress();
            int at = random.nextInt(RouteTable.ROUTE_LIMIT + 100);
            destination[5] = (byte) (at >> 8);
            destination[6] = (byte) at;
            destination[15] = (byte) random.nextInt(256);
            check(table, 6, source, destination, A);
        }
        byte[] syn = syn(6, source, InetAddress.getByName("2001:db8:0:1200::9").getAddress());
        byte[] frame = new byte[14 + syn.length];
        frame[12] = (byte) 0x86;
        frame[13] = (byte) 0xdd;
        System.arraycopy(syn, 0, frame, 14, syn.length);
        long nanos = program.testRun(frame, 0, 1_000_000, A).nanosPerRun();
        System.out.printf("PathMssProgramTest: a table of %d IPv6 routes written in %d ms; an IPv6 SYN through the --pmtu program %d ns (repeat 1,000,000)%n",
                table.routes(6), writeMillis, nanos);
    }

    private static void check(RouteTable table, int version, byte[] source, byte[] destination, int in) throws Exception {
        byte[] syn = syn(version, source, destination);
        for (BpfProgram hook : List.of(program, ingress)) {
            int mtu = PathMss.pathMtu(table, MemorySegment.ofArray(syn), 0, syn.length, in, hook == program ? OUT : 0);
            MaxMss max = MaxMss.forMtu(mtu);
            int expected = Math.min(ORIGINAL_MSS, version == 4 ? max.ipv4() : max.ipv6());
            String what = "%s: %s -> %s in by %d, path MTU %d".formatted(hook.name(), InetAddress.getByAddress(source).getHostAddress(),
                    InetAddress.getByAddress(destination).getHostAddress(), in, mtu);
            assertThat(run(hook, version, source, destination, in)).as(what).isEqualTo(expected);
            checked++;
        }
    }

    private static int run(int version, byte[] source, byte[] destination, int in) throws Exception {
        return run(program, version, source, destination, in);
    }

    /** The MSS the program leaves in a SYN with MSS 65000 between these addresses that came in by {@code in}. */
    private static int run(BpfProgram program, int version, byte[] source, byte[] destination, int in) throws Exception {
        byte[] syn = syn(version, source, destination);
        byte[] frame = new byte[14 + syn.length];
        frame[12] = (byte) (version == 6 ? 0x86 : 0x08);
        frame[13] = (byte) (version == 6 ? 0xdd : 0x00);
        frame[0] = 2;
        frame[6] = 2;
        System.arraycopy(syn, 0, frame, 14, syn.length);
        TestRun result = program.testRun(frame, 0, 1, in);
        int at = 14 + (version == 6 ? 40 : 20) + 20 + 2;
        return (result.packet()[at] & 0xff) << 8 | (result.packet()[at + 1] & 0xff);
    }

    static byte[] syn(int version, byte[] source, byte[] destination) {
        byte[] segment = TestPacket.tcpSegment(TestPacket.SYN, TestPacket.mssOption(ORIGINAL_MSS), new byte[0]);
        byte[] packet = (version == 6 ? TestPacket.ipv6(segment) : TestPacket.ipv4(segment)).bytes;
        System.arraycopy(source, 0, packet, version == 6 ? 8 : 12, source.length);
        System.arraycopy(destination, 0, packet, version == 6 ? 24 : 16, destination.length);
        return packet;
    }
}
