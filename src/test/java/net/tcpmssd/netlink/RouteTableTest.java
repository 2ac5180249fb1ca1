package net.tcpmssd.netlink;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import net.tcpmssd.netlink.RouteTable.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RouteTableTest {

    static final int LOCAL = 255;
    static final int MAIN = 254;
    static final int DEFAULT = 253;

    /** An address or prefix as the table's two longs. */
    static long[] key(String address) {
        try {
            byte[] b = InetAddress.getByName(address).getAddress();
            if (b.length == 4) {
                return new long[] {(ByteBuffer.wrap(b).getInt() & 0xffffffffL) << 32, 0};
            }
            ByteBuffer buffer = ByteBuffer.wrap(b);
            return new long[] {buffer.getLong(), buffer.getLong()};
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    static int version(String address) {
        return address.contains(":") ? 6 : 4;
    }

    static void add(RouteTable.Builder b, int table, String prefix, int length, Kind kind, int metricMtu, int... devices) {
        long[] k = key(prefix);
        b.route(version(prefix), table, k[0], k[1], length, 0, kind, metricMtu, devices);
    }

    /** The device of the route found for an address, -1 if none (the first of a multipath route's). */
    static int deviceFor(RouteTable t, String address) {
        long[] k = key(address);
        int route = t.find(version(address), k[0], k[1]);
        if (route == RouteTable.NO_ROUTE) {
            return -1;
        }
        for (int d = 1; d < 100; d++) {
            if (t.leavesBy(version(address), route, d)) {
                return d;
            }
        }
        return 0;
    }

    @Test
    void theLongestMatchingPrefixWinsWhateverTheOrderOfAdding() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, MAIN, "203.0.113.99", 32, Kind.FORWARD, 0, 4);
        add(b, MAIN, "0.0.0.0", 0, Kind.FORWARD, 0, 2);
        add(b, MAIN, "203.0.113.96", 27, Kind.FORWARD, 0, 3);
        add(b, MAIN, "203.0.113.0", 24, Kind.FORWARD, 0, 5);
        RouteTable t = b.build();
        assertThat(deviceFor(t, "203.0.113.99")).isEqualTo(4);
        assertThat(deviceFor(t, "203.0.113.98")).isEqualTo(3);
        assertThat(deviceFor(t, "203.0.113.7")).as("/24").isEqualTo(5);
        assertThat(deviceFor(t, "198.51.100.7")).as("default").isEqualTo(2);
        assertThat(deviceFor(t, "255.255.255.255")).isEqualTo(2);
        assertThat(t.routes(4)).isEqualTo(4);
        assertThat(t.routes(6)).isZero();
        assertThat(deviceFor(t, "2001:db8::1")).as("no IPv6 route").isEqualTo(-1);
    }

    @Test
    void ipv6PrefixesLongerAndShorterThan64BitsMatch() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, MAIN, "::", 0, Kind.FORWARD, 0, 1);
        add(b, MAIN, "2001:db8::", 33, Kind.FORWARD, 0, 2);
        add(b, MAIN, "2001:db8:3::", 64, Kind.FORWARD, 0, 3);
        add(b, MAIN, "2001:db8:3::8000:0:0:0", 65, Kind.FORWARD, 0, 4);
        add(b, MAIN, "2001:db8:3::2", 127, Kind.FORWARD, 0, 5);
        add(b, MAIN, "2001:db8:3::3", 128, Kind.FORWARD, 0, 6);
        RouteTable t = b.build();
        assertThat(deviceFor(t, "2001:db8:3::3")).isEqualTo(6);
        assertThat(deviceFor(t, "2001:db8:3::2")).as("/127 holds ::2 and ::3").isEqualTo(5);
        assertThat(deviceFor(t, "2001:db8:3::4")).isEqualTo(3);
        assertThat(deviceFor(t, "2001:db8:3:0:8000::1")).as("/65").isEqualTo(4);
        assertThat(deviceFor(t, "2001:db8:4::1")).isEqualTo(2);
        assertThat(deviceFor(t, "2001:db8:8000::1")).as("beyond the /33").isEqualTo(1);
    }

    @Test
    void aPrefixIsMaskedToItsLength() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, MAIN, "203.0.113.77", 24, Kind.FORWARD, 0, 3);
        add(b, MAIN, "2001:db8:3::77", 64, Kind.FORWARD, 0, 4);
        RouteTable t = b.build();
        assertThat(deviceFor(t, "203.0.113.1")).isEqualTo(3);
        assertThat(deviceFor(t, "2001:db8:3::1")).isEqualTo(4);
    }

    @Test
    void theLocalTableComesFirstThenMainThenDefaultAndOtherTablesAreNotRead() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, DEFAULT, "0.0.0.0", 0, Kind.FORWARD, 0, 9);
        add(b, MAIN, "192.0.2.0", 24, Kind.FORWARD, 0, 2);
        add(b, LOCAL, "192.0.2.1", 32, Kind.LOCAL, 0, 2);
        add(b, 100, "198.51.100.0", 24, Kind.FORWARD, 0, 7);
        RouteTable t = b.build();
        long[] own = key("192.0.2.1");
        assertThat(t.kind(4, t.find(4, own[0], own[1]))).isEqualTo(Kind.LOCAL);
        assertThat(deviceFor(t, "192.0.2.9")).isEqualTo(2);
        assertThat(deviceFor(t, "198.51.100.1")).as("table 100 is not read; default is last").isEqualTo(9);
        assertThat(t.routes(4)).isEqualTo(3);
    }

    @Test
    void aThrowRouteSendsTheSearchOnToTheNextTable() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, MAIN, "0.0.0.0", 0, Kind.FORWARD, 0, 2);
        add(b, MAIN, "198.51.100.0", 25, Kind.THROW, 0);
        add(b, DEFAULT, "198.51.100.0", 24, Kind.FORWARD, 0, 5);
        RouteTable t = b.build();
        assertThat(deviceFor(t, "198.51.100.1")).as("main throws, default has it").isEqualTo(5);
        assertThat(deviceFor(t, "198.51.100.200")).as("main's default route").isEqualTo(2);
        RouteTable alone = new RouteTable.Builder().route(4, MAIN, key("198.51.100.0")[0], 0, 24, 0, Kind.THROW, 0, new int[0])
                .build();
        assertThat(deviceFor(alone, "198.51.100.1")).as("thrown out of every table").isEqualTo(-1);
    }

    @Test
    void aBlackholeOrUnreachableRouteIsNoRouteAndHidesLessSpecificOnes() {
        RouteTable.Builder b = new RouteTable.Builder();
        add(b, MAIN, "0.0.0.0", 0, Kind.FORWARD, 0, 2);
        add(b, MAIN, "203.0.113.0", 25, Kind.REFUSE, 0);
        add(b, DEFAULT, "203.0.113.0", 24, Kind.FORWARD, 0, 3);
        RouteTable t = b.build();
        assertThat(deviceFor(t, "203.0.113.5")).isEqualTo(-1);
        assertThat(deviceFor(t, "203.0.113.200")).isEqualTo(2);
    }

    @Test
    void ofRoutesForOnePrefixTheLowestPriorityValueWins() {
        long[] k = key("203.0.113.0");
        RouteTable t = new RouteTable.Builder()
                .route(4, MAIN, k[0], 0, 24, 200, Kind.FORWARD, 0, new int[] {7})
                .route(4, MAIN, k[0], 0, 24, 100, Kind.FORWARD, 1300, new int[] {3})
                .route(4, MAIN, k[0], 0, 24, 300, Kind.FORWARD, 0, new int[] {8})
                .build();
        assertThat(t.routes(4)).isEqualTo(1);
        int route = t.find(4, key("203.0.113.9")[0], 0);
        assertThat(t.leavesBy(4, route, 3)).isTrue();
        assertThat(t.metricMtu(4, route)).isEqualTo(1300);
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 6})
    void routesBeyondTheLimitAreLeftOutAndTheTableSaysItIsIncomplete(int version) {
        RouteTable.Builder b = new RouteTable.Builder();
        // As many routes as the bound: /32s of IPv4, /64s of IPv6 within 2001:db8::/32. Any
        // (prefix, length, priority) is a route of its own to the kernel, so IPv4's documentation
        // blocks can hold the bound: one /24 at as many priorities.
        long ipv4 = key("198.51.100.0")[0];
        for (int i = 0; i < RouteTable.ROUTE_LIMIT; i++) {
            if (version == 4) {
                b.route(4, MAIN, ipv4, 0, 24, i, Kind.FORWARD, 0, new int[] {2});
            } else {
                b.route(6, MAIN, 0x20010db8_00000000L | i, 0, 64, 0, Kind.FORWARD, 0, new int[] {2});
            }
        }
        RouteTable full = b.build();
        assertThat(full.complete(version)).as("at the limit").isTrue();
        assertThat(full.routes(version)).isEqualTo(version == 4 ? 1 : RouteTable.ROUTE_LIMIT);
        String inside = version == 4 ? "198.51.100.7" : "2001:db8::7";
        assertThat(deviceFor(full, inside)).isEqualTo(2);
        add(b, MAIN, version == 4 ? "203.0.113.0" : "2001:db8:ffff:ffff::", version == 4 ? 24 : 64, Kind.FORWARD, 0, 2);
        RouteTable over = b.build();
        assertThat(over.complete(version)).as("one beyond").isFalse();
        assertThat(over.routes(version)).as("none kept: none would be searched").isZero();
        assertThat(deviceFor(over, inside)).isEqualTo(-1);
        int other = version == 4 ? 6 : 4;
        assertThat(over.complete(other)).as("the other version is not concerned").isTrue();
        assertThat(RouteTable.unknown().complete(4)).isFalse();
        assertThat(RouteTable.unknown().complete(6)).isFalse();
    }

    @Test
    void interfacesBeyondTheLimitAreLeftOut() {
        RouteTable.Builder b = new RouteTable.Builder();
        for (int i = 1; i <= RouteTable.LINK_LIMIT; i++) {
            b.link(i, 1500);
        }
        assertThat(b.build().linksComplete()).isTrue();
        b.link(RouteTable.LINK_LIMIT + 1, 1400);
        RouteTable t = b.build();
        assertThat(t.linksComplete()).isFalse();
        assertThat(t.links()).isEqualTo(RouteTable.LINK_LIMIT);
        assertThat(t.linkMtu(RouteTable.LINK_LIMIT + 1)).isEqualTo(RouteTable.UNKNOWN);
    }

    @Test
    void aMultipathRouteLeavesByEachOfItsNextHopsAndItsMtuIsTheirSmallest() {
        long[] k = key("0.0.0.0");
        RouteTable t = new RouteTable.Builder()
                .link(2, 1500).link(3, 1280).link(4, 1492)
                .route(4, MAIN, k[0], 0, 0, 0, Kind.FORWARD, 0, new int[] {2, 3, 4, 99})
                .build();
        int route = t.find(4, key("203.0.113.1")[0], 0);
        assertThat(t.leavesBy(4, route, 4)).isTrue();
        assertThat(t.leavesBy(4, route, 5)).isFalse();
        assertThat(t.deviceMtu(4, route)).as("99 is unknown, the rest counts").isEqualTo(1280);
        assertThat(t.linkMtu(4)).isEqualTo(1492);
        assertThat(t.linkMtu(99)).isEqualTo(RouteTable.UNKNOWN);
        RouteTable unknownDevice = new RouteTable.Builder().route(4, MAIN, k[0], 0, 0, 0, Kind.FORWARD, 0, new int[] {99}).build();
        assertThat(unknownDevice.deviceMtu(4, 0)).isEqualTo(RouteTable.UNKNOWN);
    }

    @Test
    void moreNextHopsThanTheLimitKeepTheFirstOnes() {
        int[] many = new int[RouteTable.NEXTHOP_LIMIT + 4];
        for (int i = 0; i < many.length; i++) {
            many[i] = i + 1;
        }
        RouteTable t = new RouteTable.Builder().route(4, MAIN, 0, 0, 0, 0, Kind.FORWARD, 0, many).build();
        assertThat(t.leavesBy(4, 0, RouteTable.NEXTHOP_LIMIT)).isTrue();
        assertThat(t.leavesBy(4, 0, RouteTable.NEXTHOP_LIMIT + 1)).isFalse();
    }

    /** What the in-kernel flattening reads: the search among routes of at most some length, and each route's prefix. */
    @Test
    void theSearchCanStopAtAPrefixLengthAndEachRouteTellsItsPrefix() {
        RouteTable.Builder b = new RouteTable.Builder().link(2, 1500).link(3, 1400);
        add(b, MAIN, "198.51.100.0", 24, Kind.FORWARD, 0, 2);
        add(b, MAIN, "198.51.100.128", 25, Kind.THROW, 0);
        add(b, DEFAULT, "198.51.100.0", 23, Kind.FORWARD, 1300, 3);
        add(b, LOCAL, "198.51.100.1", 32, Kind.LOCAL, 0, 2);
        add(b, MAIN, "2001:db8::", 32, Kind.FORWARD, 0, 3);
        add(b, MAIN, "2001:db8::", 64, Kind.REFUSE, 0);
        RouteTable t = b.build();
        long[] a = key("198.51.100.1");
        int local = t.find(4, a[0], a[1]);
        assertThat(t.kind(4, local)).isEqualTo(Kind.LOCAL);
        int main = t.find(4, a[0], a[1], 31);
        assertThat(t.prefixLength(4, main)).as("the /32 left out, main's /24").isEqualTo(24);
        assertThat(t.prefixHigh(4, main)).isEqualTo(key("198.51.100.0")[0]);
        assertThat(t.devices(4, main)).containsExactly(2);
        long[] thrown = key("198.51.100.128");
        int fallen = t.find(4, thrown[0], thrown[1], 25);
        assertThat(t.prefixLength(4, fallen)).as("main's throw goes on to default's /23").isEqualTo(23);
        assertThat(t.metricMtu(4, fallen)).isEqualTo(1300);
        assertThat(t.find(4, thrown[0], thrown[1], 22)).isEqualTo(RouteTable.NO_ROUTE);
        long[] six = key("2001:db8::5");
        assertThat(t.find(6, six[0], six[1])).as("refused at /64").isEqualTo(RouteTable.NO_ROUTE);
        int shorter = t.find(6, six[0], six[1], 63);
        assertThat(t.prefixLength(6, shorter)).isEqualTo(32);
        assertThat(t.prefixLow(6, shorter)).isZero();
        assertThat(t.links()).isEqualTo(2);
        assertThat(new int[] {t.linkIndexAt(0), t.linkMtuAt(0), t.linkIndexAt(1), t.linkMtuAt(1)}).containsExactly(2, 1500, 3, 1400);
        for (int route = 0; route < t.routes(4); route++) {
            assertThat(t.prefixLength(4, route)).isBetween(23, 32);
        }
    }
}
