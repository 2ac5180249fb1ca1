package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Keeps a {@link RouteTable} in step with the kernel: dumps the interfaces and the IPv4 and IPv6
 * routes over rtnetlink (RTM_GETLINK, RTM_GETROUTE with NLM_F_DUMP), and dumps them again after
 * any link or route notification (RTMGRP_LINK, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE), or when
 * notifications were lost (ENOBUFS), or when asked ({@link #reread}, SIGHUP).
 *
 * <p>Nothing here is done for a packet: the queue threads only read {@link #current()}. The
 * netlink traffic follows the routing table's changes, not the traffic, and is bounded besides:
 * notifications that come while a dump is due are coalesced into it, and a dump follows the last
 * one after at least {@link #MIN_GAP} and nine times as long as the last one took, so dumping
 * never takes more than a tenth of the time, however busy the routing table.
 */
public final class RouteMirror implements AutoCloseable {

    /** The shortest time from one dump's end to the next one's start. */
    public static final Duration MIN_GAP = Duration.ofMillis(100);
    private static final Duration DUMP_TIMEOUT = Duration.ofSeconds(1);
    /** Datagrams of notifications read at once before a dump that is due. */
    private static final int DRAIN_LIMIT = 1024;

    static final int RTM_NEWROUTE = 24;
    static final int RTM_GETROUTE = 26;
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLM_F_DUMP_INTR = 0x10;
    private static final int GROUPS = 0x1 | 0x40 | 0x400; // RTMGRP_LINK, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    // struct rtmsg and its attributes (linux/rtnetlink.h).
    private static final int RTMSG = 12;
    private static final int RTA_DST = 1;
    private static final int RTA_OIF = 4;
    private static final int RTA_PRIORITY = 6;
    private static final int RTA_METRICS = 8;
    private static final int RTA_MULTIPATH = 9;
    private static final int RTA_TABLE = 15;
    private static final int RTAX_MTU = 2;
    private static final int RTNH_F_DEAD = 1;
    private static final int RTM_F_CLONED = 0x200;
    private static final int RTNEXTHOP = 8; // struct rtnexthop: len, flags, hops, ifindex
    private static final int EPROTO = 71; // an error message too short to say which error

    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** Told on the mirror's thread (and, for the first dump, on the one that starts it). */
    public interface Listener {
        /**
         * A dump is done: {@code table} is in force, the {@code reads}th read since the start;
         * {@code failure} if the dump failed (the table is then the last one read); {@code asked}
         * if {@link #reread} asked for it.
         */
        void read(RouteTable table, ErrnoException failure, boolean asked, long reads);

        /** Listening for changes failed (other than by losing some, which just brings a dump). */
        void failed(ErrnoException error);
    }

    private final Listener listener;
    private final NetlinkSocket notifications;
    private NetlinkSocket requestSocket; // the mirror's thread alone (and the one that starts it, before)
    private Requests requests;
    // Shared: the first dump runs on the starting thread, the rest on the mirror's own.
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(64 * 1024, 8); // a dump datagram is at most 32 KiB
    private final MemorySegment requestBuffer = arena.allocate(64, 8);
    private final Attributes attributes = new Attributes();
    private final Attributes nested = new Attributes();
    private final Thread thread;
    private volatile RouteTable current = RouteTable.unknown();
    private volatile boolean asked;
    private volatile boolean closed;
    private boolean due;
    private boolean interrupted; // a dump saw NLM_F_DUMP_INTR: the table changed while it ran
    private long nextAllowed;
    private long reads;

    private RouteMirror(Listener listener, NetlinkSocket notifications, NetlinkSocket requests) {
        this.listener = listener;
        this.notifications = notifications;
        this.requestSocket = requests;
        this.requests = new Requests(requests, requestBuffer, buffer, DUMP_TIMEOUT);
        this.thread = Thread.ofPlatform().daemon().name("route-mirror").unstarted(this::run);
    }

    /**
     * Subscribes to the changes first, then dumps, so that no change falls in between; returns
     * once the first table is in force.
     */
    public static RouteMirror start(Listener listener) throws ErrnoException {
        NetlinkSocket notifications = NetlinkSocket.subscribe(GROUPS);
        NetlinkSocket requests;
        try {
            requests = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
        } catch (ErrnoException e) {
            notifications.close();
            throw e;
        }
        RouteMirror mirror = new RouteMirror(listener, notifications, requests);
        ErrnoException failure = mirror.refresh(false, false);
        if (failure != null) {
            mirror.close();
            throw failure;
        }
        listener.read(mirror.current, null, false, mirror.reads);
        mirror.thread.start();
        return mirror;
    }

    /** The routes and links as last read. */
    public RouteTable current() {
        return current;
    }

    /** Asks for a fresh dump (SIGHUP); the listener hears of it with {@code asked} set. */
    public void reread() {
        asked = true;
    }

    private void run() {
        while (!closed) {
            try {
                if (notifications.receive(buffer, 0, false) > 0) {
                    due = true;
                    // The rest of a burst: one dump answers them all. Bounded, so that changes
                    // that never stop do not hold the dump off for ever.
                    for (int i = 0; i < DRAIN_LIMIT && notifications.receive(buffer, 0, true) > 0; i++) {
                        // read and passed over: the dump tells all
                    }
                }
            } catch (ErrnoException e) {
                due = true; // ENOBUFS: notifications were lost, so assume everything changed
                if (e.errno() != Libc.ENOBUFS) {
                    listener.failed(e);
                    pause(MIN_GAP.toMillis() * 10); // a lasting error is not reported in a tight loop
                }
            }
            if ((due || asked) && System.nanoTime() - nextAllowed >= 0) {
                boolean wasAsked = asked;
                asked = false;
                try {
                    refresh(wasAsked, true);
                } catch (RuntimeException e) {
                    // A message misread must not end this thread: the table would never change again.
                    due = true;
                    nextAllowed = System.nanoTime() + MIN_GAP.toNanos() * 10;
                    listener.failed(new ErrnoException("rtnetlink dump: " + e, EPROTO));
                }
            }
        }
    }

    /**
     * Dumps everything into a new table and puts it in force; tells the listener if
     * {@code report}. A dump that failed, or that the kernel marks interrupted (the tables
     * changed while it ran, so it may have missed some), leaves the last table in force: it was
     * whole when it was read, and is read again once the gap has passed. The very first dump
     * has no last table: an interrupted one is made again at once, a few times. Returns the
     * failure, if a dump failed.
     */
    private ErrnoException refresh(boolean wasAsked, boolean report) {
        long start = System.nanoTime();
        ErrnoException failure = null;
        for (int attempt = 0; ; attempt++) {
            due = false;
            interrupted = false;
            RouteTable.Builder builder = new RouteTable.Builder();
            try {
                dump(Links.RTM_GETLINK, 0, builder);
                dump(RTM_GETROUTE, AF_INET, builder);
                dump(RTM_GETROUTE, AF_INET6, builder);
            } catch (ErrnoException e) {
                failure = e;
                reopenRequests(); // a dump left half-read would answer the next request with EBUSY
                due = true;
                break;
            }
            if (interrupted) {
                due = true;
                if (reads > 0) {
                    break;
                }
                if (attempt < 3) {
                    continue;
                }
            }
            current = builder.build();
            reads++;
            break;
        }
        long took = System.nanoTime() - start;
        nextAllowed = System.nanoTime() + Math.max(MIN_GAP.toNanos(), 9 * took);
        if (report) {
            listener.read(current, failure, wasAsked, reads);
        }
        return failure;
    }

    private void reopenRequests() {
        try {
            NetlinkSocket fresh = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
            requestSocket.close();
            requestSocket = fresh;
            requests = new Requests(fresh, requestBuffer, buffer, DUMP_TIMEOUT);
        } catch (ErrnoException e) {
            // keep the old socket: its half-read dump ends once it is read through
        }
    }

    /** One dump request and its multi-part answer, every message of it added to {@code builder}. */
    private void dump(int type, int family, RouteTable.Builder builder) throws ErrnoException {
        Netlink.Writer request = requests.begin(type, NLM_F_DUMP);
        if (type == RTM_GETROUTE) {
            request.u8(family).u8(0).u8(0).u8(0).u32(0).u32(0); // struct rtmsg
        } else {
            request.u32(0).u32(0).u32(0).u32(0);                // struct ifinfomsg
        }
        int error = requests.exchange("rtnetlink dump", reply -> {
            if ((reply.flags() & NLM_F_DUMP_INTR) != 0) {
                interrupted = true;
            }
            switch (reply.type()) {
                case Links.RTM_NEWLINK -> addLink(reply.segment(), reply.at(), reply.length(), builder, attributes);
                case RTM_NEWROUTE -> addRoute(reply.segment(), reply.at(), reply.length(), builder, attributes, nested);
                default -> { }
            }
        }, Requests.Others.IGNORE);
        if ((requests.closingFlags() & NLM_F_DUMP_INTR) != 0) {
            interrupted = true; // the change came after the last part: only NLMSG_DONE says so
        }
        if (error != 0) {
            throw new ErrnoException("rtnetlink dump", error);
        }
    }

    /**
     * Adds the RTM_NEWROUTE message at {@code at} to {@code builder}, if it is a route a lookup
     * by destination alone can take: not a cached clone or learnt exception (RTM_F_CLONED), no
     * source prefix (IPv6 subtrees) and no TOS (IPv4), not dead; a multipath route with its live
     * next hops.
     */
    static void addRoute(MemorySegment m, long at, int length, RouteTable.Builder builder, Attributes attributes, Attributes nested) {
        if (length < Netlink.HEADER + RTMSG) {
            return;
        }
        long rtmsg = at + Netlink.HEADER;
        int family = u8(m, rtmsg);
        int destinationLength = u8(m, rtmsg + 1);
        int sourceLength = u8(m, rtmsg + 2);
        int tos = u8(m, rtmsg + 3);
        int table = u8(m, rtmsg + 4);
        int type = u8(m, rtmsg + 7);
        int flags = m.get(ValueLayout.JAVA_INT_UNALIGNED, rtmsg + 8);
        RouteTable.Kind kind = switch (type) {
            case 1, 3, 4, 5 -> RouteTable.Kind.FORWARD; // unicast, broadcast, anycast, multicast
            case 2 -> RouteTable.Kind.LOCAL;
            case 6, 7, 8 -> RouteTable.Kind.REFUSE;     // blackhole, unreachable, prohibit
            case 9 -> RouteTable.Kind.THROW;
            default -> null;                             // nat, xresolve: not for a SYN
        };
        int addressLength = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
        if (kind == null || addressLength == 0 || sourceLength != 0 || tos != 0
                || (flags & (RTM_F_CLONED | RTNH_F_DEAD)) != 0) {
            return;
        }
        long high = 0;
        long low = 0;
        int priority = 0;
        int metricMtu = 0;
        int[] devices = new int[0];
        attributes.over(m, rtmsg + RTMSG, at + length);
        while (attributes.next()) {
            switch (attributes.type()) {
                case RTA_DST -> {
                    if (attributes.length() != addressLength) {
                        return;
                    }
                    if (addressLength == 4) {
                        high = (long) m.get(BE32, attributes.offset()) << 32;
                    } else {
                        high = m.get(BE64, attributes.offset());
                        low = m.get(BE64, attributes.offset() + 8);
                    }
                }
                case RTA_OIF -> {
                    if (attributes.length() >= 4) {
                        devices = new int[] {attributes.u32(0)};
                    }
                }
                case RTA_PRIORITY -> priority = attributes.u32(0);
                case RTA_TABLE -> table = attributes.length() >= 4 ? attributes.u32(0) : table;
                case RTA_METRICS -> metricMtu = mtuMetric(attributes.nested(nested));
                case RTA_MULTIPATH -> {
                    devices = liveNextHops(m, attributes.offset(), attributes.offset() + attributes.length());
                    if (devices.length == 0) {
                        return; // every next hop is dead: the kernel passes over the route
                    }
                }
                default -> { }
            }
        }
        if (attributes.broken()) {
            return; // a broken message: leave the route out rather than guess
        }
        builder.route(addressLength == 4 ? 4 : 6, table, high, low, destinationLength, priority, kind, metricMtu, devices);
    }

    /** Adds the interface of the RTM_NEWLINK message at {@code at}: its index and IFLA_MTU. */
    static void addLink(MemorySegment m, long at, int length, RouteTable.Builder builder, Attributes attributes) {
        if (length < Netlink.HEADER + Links.IFINFOMSG) {
            return;
        }
        int index = m.get(ValueLayout.JAVA_INT_UNALIGNED, at + Netlink.HEADER + 4);
        attributes.over(m, at + Netlink.HEADER + Links.IFINFOMSG, at + length);
        while (attributes.next()) {
            if (attributes.type() == Links.IFLA_MTU && attributes.length() >= 4) {
                builder.link(index, attributes.u32(0));
                return;
            }
        }
    }

    /** RTAX_MTU from the nested RTA_METRICS, 0 if absent. */
    private static int mtuMetric(Attributes metrics) {
        while (metrics.next()) {
            if (metrics.type() == RTAX_MTU && metrics.length() >= 4) {
                return metrics.u32(0);
            }
        }
        return 0;
    }

    /**
     * The interface indexes of RTA_MULTIPATH's next hops that are not dead: struct rtnexthop
     * (len, flags, hops, ifindex), each followed by its own attributes, is not an attribute list.
     */
    private static int[] liveNextHops(MemorySegment m, long from, long to) {
        int[] found = new int[RouteTable.NEXTHOP_LIMIT];
        int count = 0;
        for (long a = from; a + RTNEXTHOP <= to && count < found.length; ) {
            int size = m.get(ValueLayout.JAVA_SHORT_UNALIGNED, a) & 0xffff;
            if (size < RTNEXTHOP || a + size > to) {
                break;
            }
            if ((u8(m, a + 2) & RTNH_F_DEAD) == 0) {
                found[count++] = m.get(ValueLayout.JAVA_INT_UNALIGNED, a + 4);
            }
            a += Netlink.align(size);
        }
        return java.util.Arrays.copyOf(found, count);
    }

    private static int u8(MemorySegment m, long at) {
        return m.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        if (thread.isAlive()) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        notifications.close();
        requestSocket.close();
        if (!thread.isAlive()) {
            arena.close();
        }
    }
}
