package net.tcpmssd.mss;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.netlink.RouteTable.Kind;
import net.tcpmssd.packet.TestPacket;
import org.junit.jupiter.api.Test;

/**
 * The per-SYN decision of --pmtu over a table built by hand: the lab's router, whose SYNs go
 * from the client (198.51.100.2, 2001:db8:1::2; lan0) to the server (203.0.113.2,
 * 2001:db8:3::2) by the default route over wan0.
 */
class PathMssTest {

    static final int MAIN = 254;
    static final int LAN = 2;
    static final int WAN = 3;
    static final int ALT = 4;

    static final byte[] SYN4 = TestPacket.ipv4(TestPacket.tcpSegment(TestPacket.SYN, TestPacket.mssOption(1460), new byte[0])).bytes;
    static final byte[] SYN6 = TestPacket.ipv6(TestPacket.tcpSegment(TestPacket.SYN, TestPacket.mssOption(1440), new byte[0])).bytes;

    static RouteTable.Builder lab() {
        return new RouteTable.Builder()
                .link(1, 65536).link(LAN, 1500).link(WAN, 1280).link(ALT, 1400)
                .route(4, MAIN, high("0.0.0.0"), 0, 0, 0, Kind.FORWARD, 0, new int[] {WAN})
                .route(4, MAIN, high("198.51.100.0"), 0, 24, 0, Kind.FORWARD, 0, new int[] {LAN})
                .route(6, MAIN, high("::"), 0, 0, 0, Kind.FORWARD, 0, new int[] {WAN})
                .route(6, MAIN, high("2001:db8:1::"), 0, 64, 0, Kind.FORWARD, 0, new int[] {LAN});
    }

    static long high(String address) {
        try {
            byte[] b = InetAddress.getByName(address).getAddress();
            return b.length == 4 ? (long) ByteBuffer.wrap(b).getInt() << 32 : ByteBuffer.wrap(b).getLong();
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    static int mtu(RouteTable table, byte[] packet, int in, int out) {
        return PathMss.pathMtu(table, MemorySegment.ofArray(packet), 0, packet.length, in, out);
    }

    @Test
    void theSmallerOfTheWayTowardTheDestinationAndTheWayBack() {
        RouteTable t = lab().build();
        assertThat(mtu(t, SYN4, LAN, WAN)).as("out by wan0 (1280), back by lan0 (1500)").isEqualTo(1280);
        assertThat(mtu(t, SYN6, LAN, WAN)).isEqualTo(1280);
        // The way back limits: a SYN-ACK from the server to the client, out by lan0.
        RouteTable narrowLan = lab().link(LAN, 1400).link(WAN, 1500).build();
        byte[] reply = SYN4.clone();
        System.arraycopy(SYN4, 16, reply, 12, 4);
        System.arraycopy(SYN4, 12, reply, 16, 4);
        assertThat(mtu(narrowLan, reply, WAN, LAN)).isEqualTo(1400);
        assertThat(mtu(narrowLan, SYN4, LAN, WAN)).as("back toward 198.51.100.2 by lan0").isEqualTo(1400);
    }

    @Test
    void aRouteMtuMetricCountsWhenTheRouteLeavesByThePacketsInterface() {
        RouteTable t = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.FORWARD, 1200, new int[] {WAN})
                .route(6, MAIN, high("2001:db8:3::"), 0, 64, 0, Kind.FORWARD, 1300, new int[] {WAN, ALT}).build();
        assertThat(mtu(t, SYN4, LAN, WAN)).isEqualTo(1200);
        assertThat(mtu(t, SYN6, LAN, ALT)).as("a multipath route by alt0 among others").isEqualTo(1300);
    }

    @Test
    void theInterfaceTheKernelChoseOverridesARouteThatLeavesElsewhere() {
        // A policy rule sent the SYN out by alt0, while the main table's route says wan0, mtu 1200.
        RouteTable t = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.FORWARD, 1200, new int[] {WAN}).build();
        assertThat(mtu(t, SYN4, LAN, ALT)).isEqualTo(1400);
        RouteTable none = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.REFUSE, 0, new int[0]).build();
        assertThat(mtu(none, SYN4, LAN, ALT)).as("no route in the mirror, the kernel found one").isEqualTo(1400);
    }

    @Test
    void withoutAnOutgoingInterfaceTheRouteDecides() {
        RouteTable t = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.FORWARD, 1200, new int[] {WAN}).build();
        assertThat(mtu(t, SYN4, LAN, 0)).as("queued at PREROUTING (-b)").isEqualTo(1200);
        assertThat(mtu(lab().build(), SYN6, LAN, 0)).isEqualTo(1280);
    }

    @Test
    void aDirectionWithoutARouteSetsNoLimit() {
        RouteTable nothing = new RouteTable.Builder().link(LAN, 1500).build();
        assertThat(mtu(nothing, SYN4, LAN, 0)).isEqualTo(PathMss.NO_LIMIT);
        RouteTable blackhole = lab().route(4, MAIN, high("198.51.100.2"), 0, 32, 0, Kind.REFUSE, 0, new int[0]).link(WAN, 9000).build();
        assertThat(mtu(blackhole, SYN4, LAN, WAN)).as("nothing back, 9000 out").isEqualTo(9000);
    }

    @Test
    void aLocalAddressIsReachedOverLoAndSetsNoLimit() {
        RouteTable t = new RouteTable.Builder().link(LAN, 1500)
                .route(4, 255, high("203.0.113.2"), 0, 32, 0, Kind.LOCAL, 0, new int[] {LAN})
                .route(4, MAIN, high("198.51.100.0"), 0, 24, 0, Kind.FORWARD, 0, new int[] {LAN}).build();
        assertThat(mtu(t, SYN4, LAN, 0)).as("a SYN to this host, queued at INPUT").isEqualTo(1500);
        RouteTable lo = new RouteTable.Builder().link(LAN, 9000)
                .route(4, 255, high("203.0.113.2"), 0, 32, 0, Kind.LOCAL, 0, new int[] {LAN})
                .route(4, 255, high("198.51.100.2"), 0, 32, 0, Kind.LOCAL, 0, new int[] {LAN}).build();
        assertThat(mtu(lo, SYN4, 1, 0)).isEqualTo(PathMss.NO_LIMIT);
    }

    @Test
    void anIncompleteTableFallsBackToTheInterfaceThePacketLeavesBy() {
        RouteTable t = lab().incomplete(4).build();
        assertThat(mtu(t, SYN4, LAN, ALT)).as("out by alt0, whatever the routes").isEqualTo(1400);
        assertThat(mtu(t, SYN4, LAN, 0)).as("queued before routing: the interface it came by").isEqualTo(1500);
        assertThat(mtu(t, SYN6, LAN, WAN)).as("IPv6 is complete").isEqualTo(1280);
        assertThat(mtu(RouteTable.unknown(), SYN6, LAN, WAN)).as("nothing read").isEqualTo(PathMss.LAST_RESORT_IPV6);
    }

    @Test
    void beyondTheRouteBoundTheIpVersionFallsBackToTheInterfaceThePacketLeavesBy() {
        RouteTable.Builder b = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.FORWARD, 1200, new int[] {WAN})
                .route(6, MAIN, high("2001:db8:3::"), 0, 64, 0, Kind.FORWARD, 1200, new int[] {WAN});
        // Blackholes for 192.0.2.128/25 at as many metrics as fill IPv4 up to the bound.
        for (int metric = 1; metric <= RouteTable.ROUTE_LIMIT - 3; metric++) {
            b.route(4, MAIN, high("192.0.2.128"), 0, 25, metric, Kind.REFUSE, 0, new int[0]);
        }
        RouteTable atTheBound = b.build();
        assertThat(mtu(atTheBound, SYN4, LAN, WAN)).as("at the bound: the route's 1200").isEqualTo(1200);
        b.route(4, MAIN, high("192.0.2.128"), 0, 25, RouteTable.ROUTE_LIMIT, Kind.REFUSE, 0, new int[0]);
        RouteTable beyond = b.build();
        assertThat(mtu(beyond, SYN4, LAN, WAN)).as("beyond: wan0's 1280").isEqualTo(1280);
        assertThat(mtu(beyond, SYN4, LAN, ALT)).as("beyond: out by alt0, its 1400").isEqualTo(1400);
        assertThat(mtu(beyond, SYN6, LAN, WAN)).as("IPv6 still by route").isEqualTo(1200);
    }

    @Test
    void anUnknownInterfaceClampsToTheSmallestMtuOfTheIpVersion() {
        RouteTable t = lab().build();
        assertThat(mtu(t, SYN4, LAN, 77)).isEqualTo(PathMss.LAST_RESORT_IPV4).isEqualTo(576);
        assertThat(mtu(t, SYN6, LAN, 77)).isEqualTo(PathMss.LAST_RESORT_IPV6).isEqualTo(1280);
        RouteTable unknownDevice = new RouteTable.Builder()
                .route(4, MAIN, 0, 0, 0, 0, Kind.FORWARD, 0, new int[] {77}).build();
        assertThat(mtu(unknownDevice, SYN4, 0, 0)).isEqualTo(576);
        RouteTable noDevice = new RouteTable.Builder().link(LAN, 1500)
                .route(4, MAIN, 0, 0, 0, 0, Kind.FORWARD, 0, new int[0]).build();
        assertThat(mtu(noDevice, SYN4, LAN, LAN)).as("back: the interface it came in by").isEqualTo(1500);
    }

    @Test
    void aPacketTooShortForItsAddressesIsLeftToTheCore() {
        RouteTable t = lab().build();
        assertThat(PathMss.pathMtu(t, MemorySegment.ofArray(SYN4), 0, 19, LAN, WAN)).isEqualTo(PathMss.NO_LIMIT);
        assertThat(PathMss.pathMtu(t, MemorySegment.ofArray(SYN6), 0, 39, LAN, WAN)).isEqualTo(PathMss.NO_LIMIT);
        assertThat(PathMss.pathMtu(t, MemorySegment.ofArray(new byte[40]), 0, 40, LAN, WAN)).as("version 0").isEqualTo(PathMss.NO_LIMIT);
        assertThat(PathMss.pathMtu(t, MemorySegment.ofArray(SYN4), 0, 0, LAN, WAN)).isEqualTo(PathMss.NO_LIMIT);
    }

    @Test
    void aFloodOfNewSourcesNeedsNothingTheTableDoesNotHave() {
        RouteTable t = lab().build();
        java.util.Random random = new java.util.Random(11);
        byte[] syn = SYN6.clone();
        for (int i = 0; i < 20_000; i++) {
            for (int b = 12; b < 24; b++) {
                syn[b] = (byte) random.nextInt();
            }
            assertThat(mtu(t, syn, LAN, WAN)).isEqualTo(1280);
        }
        assertThat(t.routes(6)).isEqualTo(2);
    }

    @Test
    void theDecisionAllocatesNothingPerPacket() {
        RouteTable t = lab().route(4, MAIN, high("203.0.113.0"), 0, 24, 0, Kind.FORWARD, 1200, new int[] {WAN}).build();
        MemorySegment v4 = MemorySegment.ofArray(SYN4);
        MemorySegment v6 = MemorySegment.ofArray(SYN6);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (int i = 0; i < 20_000; i++) { // warm up, so that what is measured is the steady state
            sum += PathMss.pathMtu(t, v4, 0, SYN4.length, LAN, WAN) + PathMss.pathMtu(t, v6, 0, SYN6.length, LAN, WAN);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 100_000; i++) {
            sum += PathMss.pathMtu(t, v4, 0, SYN4.length, LAN, WAN) + PathMss.pathMtu(t, v6, 0, SYN6.length, LAN, WAN);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertThat(sum).isPositive();
        assertThat(allocated).as("bytes allocated by 200,000 decisions").isLessThan(10_000);
    }
}
