package net.tcpmssd.mss;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.tcpmssd.bpf.PathMtuMaps;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;

/**
 * {@code --pmtu} for the in-kernel program: what {@link PathMss} reads out of a
 * {@link RouteTable} for every address, as prefixes that one longest-prefix match per address
 * (a BPF LPM trie) answers the same way.
 *
 * <p>Why one match suffices: take every prefix of every table (throw and refusing routes
 * included) and, for an address, the longest of them that holds it, P. The routes that hold the
 * address are exactly the routes whose prefix holds P (a shorter prefix holding the address holds
 * P too, since both hold it), whichever table they are in. So the kernel's choice (local, main,
 * default in that order, longest first in each, throw going on to the next table, blackhole,
 * unreachable and prohibit stopping with no route) is the same for every address whose longest
 * prefix is P: it is {@link RouteTable#find(int, long, long, int)} of P's own bits among routes
 * of at most P's length. That is what P's entry holds, also where P is a throw route or a more
 * specific main route that a shorter local one beats: the entry then says what that other route
 * says. Addresses under no prefix have no route.
 *
 * <p>Each entry holds the two halves of PathMss's answer that do not depend on the packet's
 * interfaces: the MTU back toward a source under it (routeMtu's rules: the route's metric, none
 * to this host, the smallest next hop's MTU for a multipath route; 0 where the interface the SYN
 * came in by decides), and toward a destination under it the route's metric with the devices it
 * counts for (the packet's outgoing interface must be one of them, else that interface's MTU
 * counts). The program adds the interfaces' MTUs from {@link #links}. Where the outgoing
 * interface is not known (at ingress), PathMss takes the route's MTU toward the destination
 * too, with no interface to fall back to: the same entry's MTU, 0 meaning the last resort.
 *
 * <p>An IP version the table could not keep whole (more than {@link RouteTable#ROUTE_LIMIT}
 * routes) gets no prefixes, and in the map one entry that says so: at egress that is PathMss's
 * fallback as it is (toward with no route: the outgoing interface's MTU; back: no limit), at
 * ingress the program takes the incoming interface's MTU, as PathMss does without an outgoing
 * one.
 *
 * <p>Bounded by the table: at most as many prefixes as it has routes.
 */
public final class FlatRoutes {

    /** What holds under one prefix: see the class comment. {@code devices} is empty without a metric. */
    public record Prefix(long high, long low, int length, int backMtu, int metric, int[] devices) {}

    private record Bits(long high, long low, int length) {}

    private FlatRoutes() {}

    /** The prefixes of this IP version, each with what holds for the addresses it is the longest match of. */
    public static List<Prefix> prefixes(RouteTable table, int version) {
        List<Prefix> flat = new ArrayList<>();
        if (!table.complete(version)) {
            return flat;
        }
        Set<Bits> seen = new HashSet<>();
        for (int route = 0; route < table.routes(version); route++) {
            Bits bits = new Bits(table.prefixHigh(version, route), table.prefixLow(version, route), table.prefixLength(version, route));
            if (!seen.add(bits)) {
                continue; // the same prefix in another table
            }
            int chosen = table.find(version, bits.high(), bits.low(), bits.length());
            flat.add(chosen == RouteTable.NO_ROUTE
                    ? new Prefix(bits.high(), bits.low(), bits.length(), PathMss.NO_LIMIT, 0, new int[0])
                    : new Prefix(bits.high(), bits.low(), bits.length(), backMtu(table, version, chosen),
                            Math.min(table.metricMtu(version, chosen), PathMss.NO_LIMIT),
                            table.metricMtu(version, chosen) > 0 ? table.devices(version, chosen) : new int[0]));
        }
        return flat;
    }

    /** PathMss.routeMtu with the interface it falls back to left to the program (0). */
    private static int backMtu(RouteTable table, int version, int route) {
        int metric = table.metricMtu(version, route);
        if (metric > 0) {
            return Math.min(metric, PathMss.NO_LIMIT);
        }
        if (table.kind(version, route) == RouteTable.Kind.LOCAL) {
            return PathMss.NO_LIMIT;
        }
        int device = table.deviceMtu(version, route);
        return device > 0 ? Math.min(device, PathMss.NO_LIMIT) : 0;
    }

    /**
     * The interfaces with a known MTU, as {index, MTU} pairs; the program takes any other for
     * the smallest MTU its IP version guarantees, as PathMss does.
     */
    public static List<int[]> links(RouteTable table) {
        List<int[]> links = new ArrayList<>();
        for (int n = 0; n < table.links(); n++) {
            if (table.linkMtuAt(n) > 0) {
                links.add(new int[] {table.linkIndexAt(n), Math.min(table.linkMtuAt(n), PathMss.NO_LIMIT)});
            }
        }
        return links;
    }

    /**
     * The whole table into a new map table, for the in-kernel program; RouteTable's bounds keep
     * it within the map's.
     */
    public static void fill(RouteTable table, PathMtuMaps.Table into) throws ErrnoException {
        for (int version : new int[] {4, 6}) {
            if (!table.complete(version)) {
                into.incomplete(version, PathMss.NO_LIMIT);
            }
            for (Prefix p : prefixes(table, version)) {
                into.route(version, p.high(), p.low(), p.length(), p.backMtu(), p.metric(), p.devices());
            }
        }
        for (int[] link : links(table)) {
            into.link(link[0], link[1]);
        }
    }
}
