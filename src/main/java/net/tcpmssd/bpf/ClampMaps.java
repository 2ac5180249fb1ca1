package net.tcpmssd.bpf;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
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
 *   <li>{@code tcpmssd_events}: a RINGBUF of 64 KiB into which the program writes an
 *       {@link MssEvent} for every MSS it lowers or adds, for -v. When the daemon does not read
 *       it (without -v) it fills, and the program's writes then fail, cheaply, changing nothing.
 * </ul>
 */
public final class ClampMaps implements AutoCloseable {

    static final int OUTCOMES = Outcome.values().length;
    static final int FAMILIES = 2;

    /** Bytes of the event ring: a power of 2 and a multiple of the page size (ringbuf.c); 8,192 events. */
    static final int EVENT_RING_SIZE = 64 << 10;

    private final BpfMap maxMss;
    private final BpfMap counts;
    private final BpfMap events;
    private RingBuffer eventReader;

    private ClampMaps(BpfMap maxMss, BpfMap counts, BpfMap events) {
        this.maxMss = maxMss;
        this.counts = counts;
        this.events = events;
    }

    public static ClampMaps create() throws ErrnoException {
        BpfMap maxMss = BpfMap.create(MapType.ARRAY, "tcpmssd_max", 4, 8, 1);
        BpfMap counts = null;
        try {
            counts = BpfMap.create(MapType.PERCPU_ARRAY, "tcpmssd_counts", 4, 8, FAMILIES * OUTCOMES);
            return new ClampMaps(maxMss, counts, BpfMap.create(MapType.RINGBUF, "tcpmssd_events", 0, 0, EVENT_RING_SIZE));
        } catch (ErrnoException e) {
            if (counts != null) {
                counts.close();
            }
            maxMss.close();
            throw e;
        }
    }

    /** The events written since the last call, oldest first (the ring is mapped at the first call). */
    public List<MssEvent> takeEvents() throws ErrnoException {
        if (eventReader == null) {
            eventReader = new RingBuffer(events, EVENT_RING_SIZE);
        }
        List<MssEvent> taken = new ArrayList<>();
        eventReader.drain(record -> taken.add(new MssEvent(record.get(JAVA_SHORT, 4) & 0xffff,
                record.get(JAVA_SHORT, 0) & 0xffff, record.get(JAVA_SHORT, 2) & 0xffff)));
        return taken;
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

    int eventsFd() {
        return events.fd();
    }

    @Override
    public void close() {
        if (eventReader != null) {
            eventReader.close();
        }
        events.close();
        counts.close();
        maxMss.close();
    }
}
