package net.tcpmssd.netlink;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * A copy of the kernel's routes and interface MTUs, as {@code --pmtu} needs them: the routing
 * tables local, main and default of each IP version, searched in that order by longest prefix
 * match as the kernel's default policy rules do, and each interface's MTU. Immutable: a
 * {@link RouteMirror} builds a new one whenever a route or link changes and publishes it, so the
 * queue threads read it without locks, and no packet ever adds to it.
 *
 * <p>Bounded: at most {@link #ROUTE_LIMIT} routes per IP version and {@link #LINK_LIMIT}
 * interfaces. An IP version with more routes keeps none and says it is incomplete
 * ({@link #complete}): a longest match that a missing, more specific route would have beaten is
 * not to be trusted. Interfaces beyond the bound are left out.
 *
 * <p>Addresses are 128-bit keys in two longs, most significant bits first; an IPv4 address takes
 * the top 32 bits of {@code high}, so one search serves both versions.
 */
public final class RouteTable {

    /**
     * Routes kept per IP version, over the three tables: far more than a router without a full
     * BGP table has, and small enough that building a table at the bound stays within the
     * daemon's memory target (BENCHMARKS.md).
     */
    public static final int ROUTE_LIMIT = 16_384;
    /** Interfaces kept: eight bytes each, so a PPPoE concentrator's sessions fit. */
    public static final int LINK_LIMIT = 65_536;
    /** Devices kept per multipath route (the kernel allows more; the first ones are kept). */
    public static final int NEXTHOP_LIMIT = 16;

    /** What {@link #find} returns when no route takes the address: nothing to clamp for. */
    public static final int NO_ROUTE = -1;
    /** What the MTU accessors return when the MTU is not known. */
    public static final int UNKNOWN = -1;

    /** rtm_table of the three tables the default policy rules look up, in their order. */
    static final int[] TABLES = {255, 254, 253}; // RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT

    /** What a route does with a packet. */
    public enum Kind {
        /** It leaves by the route's devices (unicast and the like). */
        FORWARD,
        /** One of this host's own addresses: the packet goes over lo, whose MTU sets no limit. */
        LOCAL,
        /** Blackhole, unreachable, prohibit: no route, and the search stops. */
        REFUSE,
        /** The search goes on in the next table. */
        THROW;

        private static final Kind[] ALL = values(); // values() copies its array at every call
    }

    private final Prefixes ipv4;
    private final Prefixes ipv6;
    private final int[] linkIndexes; // sorted
    private final int[] linkMtus;
    private final boolean linksComplete;

    private RouteTable(Prefixes ipv4, Prefixes ipv6, int[] linkIndexes, int[] linkMtus, boolean linksComplete) {
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
        this.linkIndexes = linkIndexes;
        this.linkMtus = linkMtus;
        this.linksComplete = linksComplete;
    }

    /** A table that knows nothing and says it is incomplete: what a mirror holds before its first dump. */
    public static RouteTable unknown() {
        Builder b = new Builder();
        b.ipv4.complete = false;
        b.ipv6.complete = false;
        b.linksComplete = false;
        return b.build();
    }

    private Prefixes of(int version) {
        return version == 6 ? ipv6 : ipv4;
    }

    /** False if routes of this IP version were left out (more than {@link #ROUTE_LIMIT}, or not read). */
    public boolean complete(int version) {
        return of(version).complete;
    }

    public boolean linksComplete() {
        return linksComplete;
    }

    public int routes(int version) {
        return of(version).high.length;
    }

    public int links() {
        return linkIndexes.length;
    }

    /**
     * The route the kernel's default rules would pick for this destination, as a handle for the
     * accessors below, or {@link #NO_ROUTE}: none matches, or the best match refuses.
     */
    public int find(int version, long high, long low) {
        return of(version).find(high, low, 128);
    }

    /**
     * As {@link #find}, with only the routes of at most {@code longest} prefix bits: for a prefix
     * of that length, what the kernel picks for every address under it that no longer route
     * matches (the in-kernel path's flattening of the tables, KernelRoutes).
     */
    public int find(int version, long high, long low, int longest) {
        return of(version).find(high, low, longest);
    }

    /** Route {@code route}'s prefix: its length, and its bits (as {@link #find} takes an address). */
    public int prefixLength(int version, int route) {
        Prefixes p = of(version);
        int lo = 0;
        int hi = p.groupLength.length - 1;
        while (lo < hi) { // the last group that starts at or before the route
            int mid = (lo + hi + 1) >>> 1;
            if (p.groupStart[mid] <= route) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return p.groupLength[lo];
    }

    public long prefixHigh(int version, int route) {
        return of(version).high[route];
    }

    public long prefixLow(int version, int route) {
        return of(version).low[route];
    }

    /** The interfaces the route leaves by (its next hops', at most {@link #NEXTHOP_LIMIT}). */
    public int[] devices(int version, int route) {
        Prefixes p = of(version);
        return Arrays.copyOfRange(p.devices, p.deviceStart[route], p.deviceStart[route + 1]);
    }

    /** The {@code n}th interface kept (0 to {@link #links()} - 1), by index order: its index. */
    public int linkIndexAt(int n) {
        return linkIndexes[n];
    }

    /** The {@code n}th interface's MTU. */
    public int linkMtuAt(int n) {
        return linkMtus[n];
    }

    public Kind kind(int version, int route) {
        return Kind.ALL[of(version).kinds[route]];
    }

    /** The route's own {@code mtu} metric (locked or not: the value is the same), 0 if it has none. */
    public int metricMtu(int version, int route) {
        return of(version).metricMtus[route];
    }

    /** True if the route leaves by this interface (one of its next hops does). */
    public boolean leavesBy(int version, int route, int ifindex) {
        Prefixes p = of(version);
        for (int i = p.deviceStart[route]; i < p.deviceStart[route + 1]; i++) {
            if (p.devices[i] == ifindex) {
                return true;
            }
        }
        return false;
    }

    /**
     * The MTU of the interface the route leaves by; for a multipath route the smallest of its
     * next hops' (a flow may take any of them). {@link #UNKNOWN} if none of them is known.
     */
    public int deviceMtu(int version, int route) {
        Prefixes p = of(version);
        int smallest = UNKNOWN;
        for (int i = p.deviceStart[route]; i < p.deviceStart[route + 1]; i++) {
            int mtu = linkMtu(p.devices[i]);
            if (mtu > 0 && (smallest == UNKNOWN || mtu < smallest)) {
                smallest = mtu;
            }
        }
        return smallest;
    }

    /** An interface's MTU, {@link #UNKNOWN} if there is no such interface here. */
    public int linkMtu(int ifindex) {
        int at = Arrays.binarySearch(linkIndexes, ifindex);
        return at >= 0 ? linkMtus[at] : UNKNOWN;
    }

    /** The mask of a prefix length's bits within {@code high} (lengths 0..128). */
    static long highMask(int length) {
        return length == 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
    }

    static long lowMask(int length) {
        return length <= 64 ? 0 : length == 128 ? -1L : -1L << (128 - length);
    }

    /**
     * One IP version's routes, sorted by table (in search order), then prefix length (longest
     * first), then prefix; each run of one table and length is a group, searched by bisection.
     */
    private static final class Prefixes {
        final long[] high;
        final long[] low;
        final byte[] kinds;
        final int[] metricMtus;
        final int[] deviceStart; // route i's devices are devices[deviceStart[i] .. deviceStart[i + 1])
        final int[] devices;
        // Groups: table t's are tableGroups[t] .. tableGroups[t + 1].
        final int[] tableGroups;
        final int[] groupLength;
        final int[] groupStart;
        final boolean complete;

        Prefixes(long[] high, long[] low, byte[] kinds, int[] metricMtus, int[] deviceStart, int[] devices,
                int[] tableGroups, int[] groupLength, int[] groupStart, boolean complete) {
            this.high = high;
            this.low = low;
            this.kinds = kinds;
            this.metricMtus = metricMtus;
            this.deviceStart = deviceStart;
            this.devices = devices;
            this.tableGroups = tableGroups;
            this.groupLength = groupLength;
            this.groupStart = groupStart;
            this.complete = complete;
        }

        int find(long addressHigh, long addressLow, int longest) {
            for (int t = 0; t < TABLES.length; t++) {
                search:
                for (int g = tableGroups[t]; g < tableGroups[t + 1]; g++) {
                    int length = groupLength[g];
                    if (length > longest) {
                        continue;
                    }
                    int route = bisect(groupStart[g], groupStart[g + 1], addressHigh & highMask(length), addressLow & lowMask(length));
                    if (route < 0) {
                        continue;
                    }
                    switch (Kind.ALL[kinds[route]]) {
                        case THROW -> {
                            break search; // fib_rules: a throw route ends this table's lookup, the next rule goes on
                        }
                        case REFUSE -> {
                            return NO_ROUTE;
                        }
                        default -> {
                            return route;
                        }
                    }
                }
            }
            return NO_ROUTE;
        }

        private int bisect(int from, int to, long keyHigh, long keyLow) {
            int lo = from;
            int hi = to - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                int order = compare(high[mid], low[mid], keyHigh, keyLow);
                if (order < 0) {
                    lo = mid + 1;
                } else if (order > 0) {
                    hi = mid - 1;
                } else {
                    return mid;
                }
            }
            return -1;
        }
    }

    static int compare(long aHigh, long aLow, long bHigh, long bLow) {
        int order = Long.compareUnsigned(aHigh, bHigh);
        return order != 0 ? order : Long.compareUnsigned(aLow, bLow);
    }

    /** Collects routes and links from a dump, then {@link #build}s the table. Not thread-safe. */
    public static final class Builder {

        private record Route(int tableOrder, int length, long high, long low, int priority, Kind kind, int metricMtu, int[] devices) {}

        private static final class Family {
            final List<Route> routes = new ArrayList<>();
            boolean complete = true;
        }

        private final Family ipv4 = new Family();
        private final Family ipv6 = new Family();
        private int[] linkIndexes = new int[64];
        private int[] linkMtus = new int[64];
        private int linkCount;
        private boolean linksComplete = true;

        /**
         * Adds a route of table {@code table} (rtm_table or RTA_TABLE) for the prefix
         * {@code high:low / length}; routes of other tables are passed over. Of several routes
         * for the same prefix, the one of lowest {@code priority} (RTA_PRIORITY) wins, as in the
         * kernel. {@code devices} are its next hops' interface indexes.
         */
        public Builder route(int version, int table, long high, long low, int length, int priority, Kind kind,
                int metricMtu, int[] devices) {
            int order = tableOrder(table);
            if (order < 0 || length < 0 || length > (version == 6 ? 128 : 32)) {
                return this;
            }
            Family family = version == 6 ? ipv6 : ipv4;
            if (!family.complete) {
                return this;
            }
            if (family.routes.size() >= ROUTE_LIMIT) {
                incomplete(version);
                return this;
            }
            int[] kept = devices.length > NEXTHOP_LIMIT ? Arrays.copyOf(devices, NEXTHOP_LIMIT) : devices.clone();
            family.routes.add(new Route(order, length, high & highMask(length), low & lowMask(length), priority, kind,
                    Math.max(metricMtu, 0), kept));
            return this;
        }

        public Builder link(int index, int mtu) {
            if (linkCount >= LINK_LIMIT) {
                linksComplete = false;
                return this;
            }
            if (linkCount == linkIndexes.length) {
                linkIndexes = Arrays.copyOf(linkIndexes, linkCount * 2);
                linkMtus = Arrays.copyOf(linkMtus, linkCount * 2);
            }
            linkIndexes[linkCount] = index;
            linkMtus[linkCount++] = mtu;
            return this;
        }

        /** Routes of this IP version could not be read: no longest match is to be trusted. */
        public Builder incomplete(int version) {
            Family family = version == 6 ? ipv6 : ipv4;
            family.complete = false;
            family.routes.clear(); // never searched: free them now, not after the dump
            return this;
        }

        private static int tableOrder(int table) {
            for (int i = 0; i < TABLES.length; i++) {
                if (TABLES[i] == table) {
                    return i;
                }
            }
            return -1;
        }

        public RouteTable build() {
            // Sorted by index, then by the order they were told in, packed in one long each.
            long[] sorted = new long[linkCount];
            for (int i = 0; i < linkCount; i++) {
                sorted[i] = (long) linkIndexes[i] << 32 | i;
            }
            Arrays.sort(sorted);
            int[] indexes = new int[linkCount];
            int[] mtus = new int[linkCount];
            int n = 0;
            for (long link : sorted) {
                int index = (int) (link >>> 32);
                int mtu = linkMtus[(int) link];
                if (n > 0 && indexes[n - 1] == index) {
                    mtus[n - 1] = mtu; // one interface told twice: the later word counts
                    continue;
                }
                indexes[n] = index;
                mtus[n++] = mtu;
            }
            return new RouteTable(prefixes(ipv4), prefixes(ipv6), Arrays.copyOf(indexes, n), Arrays.copyOf(mtus, n), linksComplete);
        }

        private static Prefixes prefixes(Family family) {
            List<Route> sorted = new ArrayList<>(family.routes);
            sorted.sort(Comparator.comparingInt(Route::tableOrder)
                    .thenComparing(Comparator.comparingInt(Route::length).reversed())
                    .thenComparing((a, b) -> compare(a.high(), a.low(), b.high(), b.low()))
                    .thenComparingInt(r -> r.priority()));
            List<Route> kept = new ArrayList<>(sorted.size());
            for (Route r : sorted) {
                Route last = kept.isEmpty() ? null : kept.getLast();
                if (last != null && last.tableOrder() == r.tableOrder() && last.length() == r.length()
                        && last.high() == r.high() && last.low() == r.low()) {
                    continue; // same prefix, higher priority value: the kernel takes the first
                }
                kept.add(r);
            }
            int count = kept.size();
            long[] high = new long[count];
            long[] low = new long[count];
            byte[] kinds = new byte[count];
            int[] metricMtus = new int[count];
            int[] deviceStart = new int[count + 1];
            int[] tableGroups = new int[TABLES.length + 1];
            List<int[]> groups = new ArrayList<>(); // {length, start}
            int deviceCount = 0;
            for (Route r : kept) {
                deviceCount += r.devices().length;
            }
            int[] devices = new int[deviceCount];
            int d = 0;
            int table = -1;
            for (int i = 0; i < count; i++) {
                Route r = kept.get(i);
                high[i] = r.high();
                low[i] = r.low();
                kinds[i] = (byte) r.kind().ordinal();
                metricMtus[i] = r.metricMtu();
                deviceStart[i] = d;
                for (int device : r.devices()) {
                    devices[d++] = device;
                }
                if (r.tableOrder() != table) {
                    while (table < r.tableOrder()) {
                        tableGroups[++table] = groups.size();
                    }
                    groups.add(new int[] {r.length(), i});
                } else if (kept.get(i - 1).length() != r.length()) {
                    groups.add(new int[] {r.length(), i});
                }
            }
            deviceStart[count] = d;
            while (table < TABLES.length) {
                tableGroups[++table] = groups.size();
            }
            int[] groupLength = new int[groups.size()];
            int[] groupStart = new int[groups.size() + 1];
            for (int g = 0; g < groups.size(); g++) {
                groupLength[g] = groups.get(g)[0];
                groupStart[g] = groups.get(g)[1];
            }
            groupStart[groups.size()] = count;
            return new Prefixes(high, low, kinds, metricMtus, deviceStart, devices, tableGroups, groupLength, groupStart,
                    family.complete);
        }
    }
}
