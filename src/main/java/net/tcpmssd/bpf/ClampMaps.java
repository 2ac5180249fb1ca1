package net.tcpmssd.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;

/**
 * The two maps through which the daemon steers the clamping program and reads what it did.
 *
 * <ul>
 *   <li>{@code tcpmssd_max}: an ARRAY of one entry, struct { u32 ipv4; u32 ipv6; } in host order:
 *       the maximum MSS per IP version. One entry, so that the program finds both with one
 *       lookup and the daemon changes both with one write. Zero (as created) means "not set":
 *       the program then changes nothing and counts nothing.
 *   <li>{@code tcpmssd_counts}: a PERCPU_ARRAY of u64, indexed {@code family * outcomes +
 *       outcome.ordinal()} with family 0 for IPv4 and 1 for IPv6: the same counts, by the same
 *       names, as the queue path's Counters. Per CPU so that the program adds without atomics;
 *       the daemon sums the CPUs. Packets that are not IP (ARP, LLDP) are not counted: the
 *       queue path never sees them either.
 * </ul>
 */
public final class ClampMaps implements AutoCloseable {

    static final int OUTCOMES = Outcome.values().length;
    static final int FAMILIES = 2;

    private final BpfMap maxMss;
    private final BpfMap counts;

    private ClampMaps(BpfMap maxMss, BpfMap counts) {
        this.maxMss = maxMss;
        this.counts = counts;
    }

    public static ClampMaps create() throws ErrnoException {
        BpfMap maxMss = BpfMap.create(MapType.ARRAY, "tcpmssd_max", 4, 8, 1);
        try {
            return new ClampMaps(maxMss, BpfMap.create(MapType.PERCPU_ARRAY, "tcpmssd_counts", 4, 8, FAMILIES * OUTCOMES));
        } catch (ErrnoException e) {
            maxMss.close();
            throw e;
        }
    }

    /** Takes effect for the next packet: no reload. */
    public void setMaxMss(MaxMss max) throws ErrnoException {
        maxMss.update(0, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(max.ipv4()).putInt(max.ipv6()).array());
    }

    /** Packets of this IP version (4 or 6) with this outcome, summed over all CPUs. */
    public long count(int ipVersion, Outcome outcome) throws ErrnoException {
        return counts.sumOverCpus(counterIndex(ipVersion == 6 ? 1 : 0, outcome));
    }

    static int counterIndex(int family, Outcome outcome) {
        return family * OUTCOMES + outcome.ordinal();
    }

    int maxMssFd() {
        return maxMss.fd();
    }

    int countsFd() {
        return counts.fd();
    }

    @Override
    public void close() {
        counts.close();
        maxMss.close();
    }
}
