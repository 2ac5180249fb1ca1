package net.tcpmssd.mss;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import net.tcpmssd.netlink.RouteMirror;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;

/**
 * {@code --pmtu}: the maximum MSS of one SYN, from the smaller MTU of the way toward its
 * destination and the way back toward its source, as iptables' {@code --clamp-mss-to-pmtu}
 * takes them. Each MTU is the matched route's {@code mtu} metric, else the MTU of the interface
 * it leaves by, as {@code ip route get} shows them; a direction with no route (or a blackhole,
 * unreachable or prohibit route) sets no limit.
 *
 * <p>The routes come from a {@link RouteTable} that a {@link RouteMirror} keeps; a packet only
 * reads it, so a flood of new addresses costs neither memory nor netlink traffic. Where the table
 * cannot answer, the SYN is still clamped, never passed as it came:
 * <ul>
 * <li>Toward the destination, the interface the packet leaves by is the one the kernel chose
 *     (NFQA_IFINDEX_OUTDEV, known from FORWARD on), policy rules and multipath included. A route
 *     metric counts only if the matched route leaves by that interface; otherwise that
 *     interface's MTU does.
 * <li>When the table has too many routes of the packet's IP version to follow (more than
 *     {@link RouteTable#ROUTE_LIMIT}), the fallback: the MTU of the interface the packet leaves
 *     by, else (queued before routing, with -b) of the one it came in by. (A dump that fails
 *     leaves the last table in force.)
 * <li>A route whose interface the table does not know: on the way back, the interface the
 *     packet came in by.
 * <li>An interface the table does not know (created since the last dump, or beyond
 *     {@link RouteTable#LINK_LIMIT}): the smallest MTU its IP version guarantees, 576 (RFC 791)
 *     or 1280 (RFC 8200), until the next dump.
 * </ul>
 * Used by every queue thread at once: it keeps no state of its own but a memo of one value.
 */
public final class PathMss implements AutoCloseable {

    static final int NO_LIMIT = 65535;
    static final int LAST_RESORT_IPV4 = 576;
    static final int LAST_RESORT_IPV6 = 1280;

    private static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private record Memo(int mtu, MaxMss max) {}

    private final RouteMirror mirror;
    /** Hears of every table put in force (the in-kernel path writes it into its maps); null: none. */
    private Consumer<RouteTable> tableListener; // guarded by this
    /** The last answer, so that a run of SYNs on paths of one MTU allocates nothing. Racy but immutable. */
    private Memo memo = new Memo(NO_LIMIT, MaxMss.forMtu(NO_LIMIT));

    private PathMss(RouteMirror mirror) {
        this.mirror = mirror;
    }

    /**
     * Reads the routes and follows them; {@code info} hears of a re-read that {@link #reread}
     * asked for, {@code warning} of failed dumps and of tables too large to trust (each once when
     * it starts, and {@code info} when it ends).
     */
    public static PathMss start(Consumer<String> info, Consumer<String> warning) throws ErrnoException {
        Reporter reporter = new Reporter(info, warning);
        PathMss paths = new PathMss(RouteMirror.start(reporter));
        reporter.afterRead = paths::tableRead; // a read before this one has no listener to tell yet
        return paths;
    }

    /**
     * Calls {@code listener} with the table in force now, then after every read of the routes
     * (each change, SIGHUP), from the mirror's thread. Each call passes the newest table, read
     * under the same lock as the listener is called: a call never overtakes a later one with an
     * older table.
     */
    public synchronized void onTable(Consumer<RouteTable> listener) {
        tableListener = listener;
        listener.accept(mirror.current());
    }

    private synchronized void tableRead() {
        if (tableListener != null) {
            tableListener.accept(mirror.current());
        }
    }

    /** The maximum MSS for the IP packet at {@code packet[offset, offset + length)}. */
    public MaxMss maxMss(MemorySegment packet, long offset, int length, int inInterface, int outInterface) {
        int mtu = pathMtu(mirror.current(), packet, offset, length, inInterface, outInterface);
        Memo last = memo;
        if (last.mtu() == mtu) {
            return last.max();
        }
        Memo next = new Memo(mtu, MaxMss.forMtu(mtu));
        memo = next;
        return next.max();
    }

    /** SIGHUP: read the routes again; the re-read is logged once it is done. */
    public void reread() {
        mirror.reread();
    }

    /**
     * The path MTU of the IP packet at {@code packet[offset, offset + length)} by the routes of
     * {@code table}; {@link #NO_LIMIT} when no route limits it, or the packet is too short to
     * carry its addresses (the core then passes it as it came).
     */
    static int pathMtu(RouteTable table, MemorySegment packet, long offset, int length, int in, int out) {
        int version = length > 0 ? (packet.get(JAVA_BYTE, offset) & 0xf0) >>> 4 : 0;
        if (version == 4 ? length < 20 : version != 6 || length < 40) {
            return NO_LIMIT;
        }
        if (!table.complete(version)) {
            return interfaceMtu(table, version, out > 0 ? out : in);
        }
        long source = offset + (version == 4 ? 12 : 8);
        long destination = source + (version == 4 ? 4 : 16);
        int toward = toward(table, version, high(packet, destination, version), low(packet, destination, version), out);
        int back = back(table, version, high(packet, source, version), low(packet, source, version), in);
        return Math.min(toward, back);
    }

    private static long high(MemorySegment packet, long at, int version) {
        return version == 4 ? (long) packet.get(BE32, at) << 32 : packet.get(BE64, at);
    }

    private static long low(MemorySegment packet, long at, int version) {
        return version == 4 ? 0 : packet.get(BE64, at + 8);
    }

    /** The way to the destination: by the interface the kernel chose, where the queue says which. */
    private static int toward(RouteTable table, int version, long high, long low, int out) {
        int route = table.find(version, high, low);
        if (out <= 0) {
            return routeMtu(table, version, route, 0);
        }
        if (route != RouteTable.NO_ROUTE && table.metricMtu(version, route) > 0 && table.leavesBy(version, route, out)) {
            return table.metricMtu(version, route);
        }
        return interfaceMtu(table, version, out);
    }

    /**
     * The way back to the source: the route the kernel would take toward it; if the copy does not
     * know that route's interface, the one the SYN came in by, from that source.
     */
    static int back(RouteTable table, int version, long high, long low, int in) {
        return routeMtu(table, version, table.find(version, high, low), in);
    }

    /** A route's MTU; {@code otherwise} is the interface that counts if the route's own is unknown (0: none). */
    private static int routeMtu(RouteTable table, int version, int route, int otherwise) {
        if (route == RouteTable.NO_ROUTE) {
            return NO_LIMIT;
        }
        int metric = table.metricMtu(version, route);
        if (metric > 0) {
            return Math.min(metric, NO_LIMIT);
        }
        if (table.kind(version, route) == RouteTable.Kind.LOCAL) {
            return NO_LIMIT; // to this host: over lo
        }
        int device = table.deviceMtu(version, route);
        return device > 0 ? Math.min(device, NO_LIMIT) : interfaceMtu(table, version, otherwise);
    }

    private static int interfaceMtu(RouteTable table, int version, int ifindex) {
        int mtu = ifindex > 0 ? table.linkMtu(ifindex) : RouteTable.UNKNOWN;
        return mtu > 0 ? Math.min(mtu, NO_LIMIT) : lastResort(version);
    }

    private static int lastResort(int version) {
        return version == 4 ? LAST_RESORT_IPV4 : LAST_RESORT_IPV6;
    }

    @Override
    public void close() {
        mirror.close();
    }

    /** Logs what an operator needs to hear of the mirror: re-reads asked for, and changes of trust. */
    private static final class Reporter implements RouteMirror.Listener {
        private final Consumer<String> info;
        private final Consumer<String> warning;
        private String trouble = ""; // what was last warned of; the mirror's thread alone writes it
        volatile Runnable afterRead = () -> {};

        Reporter(Consumer<String> info, Consumer<String> warning) {
            this.info = info;
            this.warning = warning;
        }

        @Override
        public void read(RouteTable table, ErrnoException failure, boolean asked, long reads) {
            String now = failure != null
                    ? "reading routes failed (" + failure.getMessage() + "); the routes last read stay in force"
                    : incomplete(table);
            if (!now.equals(trouble)) {
                if (now.isEmpty()) {
                    info.accept("--pmtu: all routes read again; clamping by route");
                } else {
                    warning.accept("--pmtu: " + now);
                }
                trouble = now;
            }
            if (failure == null) {
                afterRead.run();
            }
            if (asked) {
                info.accept("--pmtu: routes re-read: " + table.routes(4) + " IPv4, " + table.routes(6) + " IPv6, "
                        + table.links() + " interfaces; read " + reads + " times since the start");
            }
        }

        @Override
        public void failed(ErrnoException error) {
            warning.accept("--pmtu: following route changes: " + error.getMessage());
        }

        private static String incomplete(RouteTable table) {
            StringBuilder what = new StringBuilder();
            for (int version : new int[] {4, 6}) {
                if (!table.complete(version)) {
                    what.append(what.isEmpty() ? "" : "; ").append("more than ").append(RouteTable.ROUTE_LIMIT)
                            .append(" IPv").append(version).append(" routes, too many to follow; IPv").append(version)
                            .append(" SYNs are clamped to the MTU of the interface they leave by");
                }
            }
            if (!table.linksComplete()) {
                what.append(what.isEmpty() ? "" : "; ").append("interfaces beyond ").append(RouteTable.LINK_LIMIT).append(" left out");
            }
            return what.toString();
        }
    }
}
