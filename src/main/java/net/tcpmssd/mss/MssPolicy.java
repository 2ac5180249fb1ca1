package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
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
