package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.packet.MaxMss;

/**
 * The maximum MSS while the daemon runs, as its {@link MssSource} says: fixed, an interface's
 * MTU followed live, or per path. Safe to ask from every packet thread at once.
 */
public interface MssPolicy extends AutoCloseable {

    /**
     * The maximum for one SYN: {@code packet[offset, offset + length)}, IP header first, that came
     * in by interface {@code inInterface} and leaves by {@code outInterface} (0 when unknown).
     * Only a per-path policy looks at the packet.
     */
    MaxMss forPacket(MemorySegment packet, long offset, int length, int inInterface, int outInterface);

    /** The maximum that holds for every packet now, or null when it depends on the path. */
    MaxMss uniform();

    /** SIGHUP: read the source again (an interface's MTU, the routes) and log the result. */
    void reread();

    /**
     * Calls {@code listener} each time the policy sets its uniform maximum anew (an interface's
     * MTU followed, SIGHUP), before it logs the new maximum: the in-kernel path writes it to its
     * map there, so that once the line is logged the next SYN gets it. A fixed maximum never
     * changes, and a per-path one has no uniform maximum: they never call it.
     */
    default void onChange(Runnable listener) {}

    /**
     * --pmtu: calls {@code listener} with the routes in force now and after each time they are
     * read again, for the in-kernel path's maps; the other policies have no routes and never call it.
     */
    default void onRoutes(Consumer<RouteTable> listener) {}

    /** The line that tells the operator the maximum: {@code Maximum MSS: 1452 (IPv6: 1432)}. */
    String describe();

    @Override
    void close();

    /** The log line for a maximum, as the original writes it, with the IPv6 figure when it differs. */
    static String describe(MaxMss max) {
        String line = "Maximum MSS: " + max.ipv4();
        return max.ipv6() == max.ipv4() ? line : line + " (IPv6: " + max.ipv6() + ")";
    }
}
