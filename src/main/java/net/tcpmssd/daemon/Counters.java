package net.tcpmssd.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import net.tcpmssd.packet.Outcome;

/**
 * Packets seen, by IP version and outcome. One instance per queue thread, which is its only
 * writer: an increment is a plain read and an opaque write, no lock and no atomic read-modify-
 * write on the packet path; readers (SIGUSR1, exit) see each count whole, if a moment late.
 */
public final class Counters {

    private static final Outcome[] OUTCOMES = Outcome.values();
    private static final String[] FAMILIES = {"IPv4", "IPv6", "other"};

    private static final int OVERRUNS = FAMILIES.length * OUTCOMES.length;
    private static final int UNSEEN = OVERRUNS + 1;

    private final AtomicLongArray counts = new AtomicLongArray(UNSEEN + 1);

    /** Counts kept elsewhere: by the in-kernel program, in its per-CPU map. */
    @FunctionalInterface
    interface Source {
        long count(int ipVersion, Outcome outcome);
    }

    /**
     * The counts of {@code source} now, for the same report and metrics as the queues' (the
     * kernel program counts IPv4 and IPv6 only; a count it could not read stays 0).
     */
    static Counters snapshot(Source source) {
        Counters snapshot = new Counters();
        for (int version : new int[] {4, 6}) {
            for (Outcome o : OUTCOMES) {
                snapshot.counts.set(index(version, o), Math.max(0, source.count(version, o)));
            }
        }
        return snapshot;
    }

    /** Counts one packet whose first byte carried {@code ipVersion}. */
    void count(int ipVersion, Outcome outcome) {
        int i = index(ipVersion, outcome);
        counts.setOpaque(i, counts.getPlain(i) + 1);
    }

    /** The socket's receive buffer overflowed once more (ENOBUFS): the kernel passed packets we never saw. */
    void overrun() {
        counts.setOpaque(OVERRUNS, counts.getPlain(OVERRUNS) + 1);
    }

    long overruns() {
        return counts.getOpaque(OVERRUNS);
    }

    /** The kernel's count of packets it passed unclamped because our socket was full (an absolute value). */
    void unseen(long packets) {
        counts.setOpaque(UNSEEN, packets);
    }

    long unseen() {
        return counts.getOpaque(UNSEEN);
    }

    long get(int ipVersion, Outcome outcome) {
        return counts.getOpaque(index(ipVersion, outcome));
    }

    private static int index(int ipVersion, Outcome outcome) {
        return family(ipVersion) * OUTCOMES.length + outcome.ordinal();
    }

    private static int family(int ipVersion) {
        return ipVersion == 4 ? 0 : ipVersion == 6 ? 1 : 2;
    }

    /**
     * One line per IP version that saw packets, summed over the given counters, e.g.
     * {@code IPv4: 12 seen, 10 clamped; unchanged: 1 MSS small enough, 0 no MSS option, 1 not SYN,
     * 0 incoming, 0 not TCP, 0 malformed}.
     */
    static List<String> report(List<Counters> all) {
        List<String> lines = new ArrayList<>();
        for (int version : new int[] {4, 6, 0}) {
            long[] sums = new long[OUTCOMES.length];
            long seen = 0;
            for (Counters c : all) {
                for (Outcome o : OUTCOMES) {
                    long n = c.get(version, o);
                    sums[o.ordinal()] += n;
                    seen += n;
                }
            }
            if (seen == 0 && version == 0) {
                continue;
            }
            StringBuilder line = new StringBuilder(FAMILIES[family(version)]).append(": ")
                    .append(seen).append(" seen, ")
                    .append(sums[Outcome.CLAMPED.ordinal()]).append(" clamped");
            if (sums[Outcome.MSS_ADDED.ordinal()] > 0) {
                line.append(", ").append(sums[Outcome.MSS_ADDED.ordinal()]).append(" MSS added");
            }
            line.append("; unchanged:");
            String separator = " ";
            for (Outcome o : OUTCOMES) {
                if (!o.changesPacket()) {
                    line.append(separator).append(sums[o.ordinal()]).append(' ').append(o.label());
                    separator = ", ";
                }
            }
            lines.add(line.toString());
        }
        long overruns = all.stream().mapToLong(Counters::overruns).sum();
        long unseen = all.stream().mapToLong(Counters::unseen).sum();
        if (overruns > 0 || unseen > 0) {
            lines.add("socket full: " + unseen + " packets passed unclamped by fail-open, unseen by tcpmssd ("
                    + overruns + " overruns)");
        }
        return lines;
    }
}
