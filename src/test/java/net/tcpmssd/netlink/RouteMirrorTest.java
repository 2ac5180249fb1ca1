package net.tcpmssd.netlink;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import net.tcpmssd.netlink.RouteTable.Kind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** RTM_NEWROUTE messages as the kernel's dump sends them (built here), read into a table. */
class RouteMirrorTest {

    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void free() {
        arena.close();
    }

    /** What a route message holds, for building one. */
    static final class Message {
        int family = 2;
        int destinationLength = 24;
        int sourceLength;
        int tos;
        int table = 254;
        int type = 1;
        int flags;
        byte[] destination = {(byte) 203, 0, 113, 0};
        int oif = 3;
        int mtu;
        Integer tableAttribute;
        int priority;
        int[][] nextHops; // {flags, ifindex}
    }

    private MemorySegment build(Message m) {
        Netlink.Writer w = new Netlink.Writer(arena.allocate(1024, 8));
        w.begin(RouteMirror.RTM_NEWROUTE, 2, 7);
        w.u8(m.family).u8(m.destinationLength).u8(m.sourceLength).u8(m.tos).u8(m.table).u8(3).u8(0).u8(m.type).u32(m.flags);
        if (m.tableAttribute != null) {
            w.beginAttribute(15).u32(m.tableAttribute).endAttribute();
        }
        if (m.destination != null) {
            w.beginAttribute(1).bytes(MemorySegment.ofArray(m.destination), 0, m.destination.length).endAttribute();
        }
        if (m.priority != 0) {
            w.beginAttribute(6).u32(m.priority).endAttribute();
        }
        if (m.oif != 0) {
            w.beginAttribute(4).u32(m.oif).endAttribute();
        }
        if (m.mtu != 0) {
            // RTA_METRICS holds RTAX_LOCK first when the mtu is locked, then RTAX_MTU.
            w.beginAttribute(8 | 0x8000);
            w.beginAttribute(1).u32(1 << 2).endAttribute();
            w.beginAttribute(2).u32(m.mtu).endAttribute();
            fixNested(w);
        }
        if (m.nextHops != null) {
            int start = w.length();
            w.u16(0).u16(9);
            for (int[] hop : m.nextHops) {
                w.u16(8).u8(hop[0]).u8(0).u32(hop[1]);
            }
            w.buffer().set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, start, (short) (w.length() - start));
        }
        w.end();
        return w.buffer().asSlice(0, w.length());
    }

    /** Closes the outer attribute by its start, which the writer forgot when the inner one began. */
    private static void fixNested(Netlink.Writer w) {
        // The nested attribute began 4 + 8 + 8 bytes ago (its header, RTAX_LOCK, RTAX_MTU).
        int start = w.length() - 20;
        w.buffer().set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, start, (short) 20);
    }

    private static RouteTable read(MemorySegment... messages) {
        RouteTable.Builder b = new RouteTable.Builder().link(3, 1500).link(4, 1400).link(5, 1280);
        for (MemorySegment m : messages) {
            RouteMirror.addRoute(m, 0, (int) m.byteSize(), b, new Attributes(), new Attributes());
        }
        return b.build();
    }

    private static int find(RouteTable t, int a, int b, int c, int d) {
        return t.find(4, ((long) ((a << 24) | (b << 16) | (c << 8) | d)) << 32, 0);
    }

    @Test
    void aUnicastRouteWithItsDeviceAndLockedMtu() {
        Message m = new Message();
        m.mtu = 1300;
        RouteTable t = read(build(m));
        int route = find(t, 203, 0, 113, 99);
        assertThat(route).isNotEqualTo(RouteTable.NO_ROUTE);
        assertThat(t.metricMtu(4, route)).isEqualTo(1300);
        assertThat(t.leavesBy(4, route, 3)).isTrue();
        assertThat(t.deviceMtu(4, route)).isEqualTo(1500);
        assertThat(find(t, 203, 0, 114, 1)).isEqualTo(RouteTable.NO_ROUTE);
    }

    @Test
    void aDefaultRouteHasNoDestinationAttribute() {
        Message m = new Message();
        m.destination = null;
        m.destinationLength = 0;
        assertThat(find(read(build(m)), 192, 0, 2, 1)).isNotEqualTo(RouteTable.NO_ROUTE);
    }

    @Test
    void anIpv6RouteOfATableAboveTwoHundredAndFiftyFiveComesByRtaTable() {
        Message m = new Message();
        m.family = 10;
        m.destinationLength = 64;
        m.destination = new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        RouteTable t = read(build(m));
        assertThat(t.find(6, 0x20010db8_00030000L, 5)).isNotEqualTo(RouteTable.NO_ROUTE);
        m.table = 252; // RT_TABLE_COMPAT: the real id is in RTA_TABLE
        m.tableAttribute = 1000;
        assertThat(read(build(m)).routes(6)).isZero();
        m.tableAttribute = 254;
        assertThat(read(build(m)).routes(6)).isOne();
    }

    @Test
    void routesALookupByDestinationCannotTakeAreLeftOut() {
        Message cloned = new Message();
        cloned.flags = 0x200; // RTM_F_CLONED: a learnt exception, not a route
        Message dead = new Message();
        dead.flags = 1;       // RTNH_F_DEAD
        Message fromSource = new Message();
        fromSource.sourceLength = 24;
        Message tos = new Message();
        tos.tos = 0x10;
        Message nat = new Message();
        nat.type = 10;
        Message wrongLength = new Message();
        wrongLength.destination = new byte[] {(byte) 203, 0, 113};
        RouteTable t = read(build(cloned), build(dead), build(fromSource), build(tos), build(nat), build(wrongLength));
        assertThat(t.routes(4)).isZero();
    }

    @Test
    void kindsFromTheRouteType() {
        Message local = new Message();
        local.type = 2;
        local.table = 255;
        local.destinationLength = 32;
        Message blackhole = new Message();
        blackhole.type = 6;
        blackhole.oif = 0;
        blackhole.destination = new byte[] {(byte) 198, 51, 100, 0};
        Message thrown = new Message();
        thrown.type = 9;
        thrown.oif = 0;
        thrown.destination = new byte[] {(byte) 192, 0, 2, 0};
        RouteTable t = read(build(local), build(blackhole), build(thrown));
        assertThat(t.kind(4, find(t, 203, 0, 113, 0))).isEqualTo(Kind.LOCAL);
        assertThat(find(t, 198, 51, 100, 1)).isEqualTo(RouteTable.NO_ROUTE);
        assertThat(find(t, 192, 0, 2, 1)).isEqualTo(RouteTable.NO_ROUTE);
        assertThat(t.routes(4)).isEqualTo(3);
    }

    @Test
    void aMultipathRouteKeepsItsLiveNextHops() {
        Message m = new Message();
        m.oif = 0;
        m.nextHops = new int[][] {{0, 4}, {1, 3}, {0, 5}};
        RouteTable t = read(build(m));
        int route = find(t, 203, 0, 113, 1);
        assertThat(t.leavesBy(4, route, 4)).isTrue();
        assertThat(t.leavesBy(4, route, 3)).as("dead").isFalse();
        assertThat(t.deviceMtu(4, route)).isEqualTo(1280);
        m.nextHops = new int[][] {{1, 4}};
        assertThat(read(build(m)).routes(4)).as("all next hops dead").isZero();
    }

    @Test
    void aBrokenAttributeLeavesTheRouteOut() {
        MemorySegment message = build(new Message());
        MemorySegment broken = arena.allocate(message.byteSize(), 8).copyFrom(message);
        // The first attribute (RTA_DST) claims more bytes than the message has.
        broken.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, Netlink.HEADER + 12, (short) 200);
        assertThat(read(broken).routes(4)).isZero();
        assertThat(read(message.asSlice(0, Netlink.HEADER + 8)).routes(4)).as("shorter than its rtmsg").isZero();
    }

    @Test
    void anInterfaceByItsIndexAndMtu() {
        Netlink.Writer w = new Netlink.Writer(arena.allocate(256, 8));
        w.begin(Links.RTM_NEWLINK, 2, 7);
        w.u32(0).u32(42).u32(0).u32(0); // family, type; index 42; flags; change
        w.attributeString(Links.IFLA_IFNAME, "ppp0");
        w.beginAttribute(Links.IFLA_MTU).u32(1492).endAttribute();
        w.end();
        RouteTable.Builder b = new RouteTable.Builder();
        RouteMirror.addLink(w.buffer(), 0, w.length(), b, new Attributes());
        RouteMirror.addLink(w.buffer(), 0, Netlink.HEADER + 8, b, new Attributes()); // cut short: nothing
        RouteTable t = b.build();
        assertThat(t.linkMtu(42)).isEqualTo(1492);
        assertThat(t.links()).isOne();
    }
}
