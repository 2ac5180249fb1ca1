package net.tcpmssd.daemon;

import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssPolicy;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;
import net.tcpmssd.queue.NfQueue;
import net.tcpmssd.queue.QueuedPacket;
import net.tcpmssd.queue.WarmUp;

/**
 * -p: the NFQUEUE data path. One platform thread per queue (the kernel spreads flows over
 * them), each packet handed to {@link #handle}, which decides direction and asks the core to
 * clamp (BEHAVIOUR §2, §4).
 */
final class QueueDataPath implements DataPath {

    private static final int SOCKET_BUFFER = 8 * 1024 * 1024;
    /** A receive that goes on failing this long (retried every 100 ms) has a lasting error. */
    private static final long LASTING_NANOS = 1_000_000_000L;

    private final Options options;
    private final MssPolicy policy;
    private final Log log;
    private final MssClamp.Observer observer;
    /** Packets whose handling failed, and the kernel's errors for our verdicts: either may come at packet rate. */
    private final RateLimitedWarning packetWarnings;
    /** Every bound queue; read by signal and metrics threads, so guarded by itself. */
    private final List<QueueState> queues = new ArrayList<>();
    private boolean queuesOpen = true; // guarded by queues: false once they are being closed
    private List<Thread> threads = List.of();
    private volatile boolean stopping;

    /** One queue and what its thread keeps for itself: its counters. */
    private static final class QueueState {
        final Counters counters = new Counters();
        NfQueue queue;
        /** The warm-up's maximum, for its packets only (the daemon's is not known yet). */
        MaxMss warmUpMax;
    }

    private QueueDataPath(Options options, MssPolicy policy, Log log) {
        this.options = options;
        this.policy = policy;
        this.log = log;
        this.observer = options.verbose() ? (from, to) -> log.info("MSS: " + from + " -> " + to) : null;
        this.packetWarnings = RateLimitedWarning.perSecond(log);
    }

    /**
     * Before anything is bound, the packet path runs over synthetic SYNs (WarmUp), so that a
     * started daemon clamps at full speed from its first SYN: a cold JVM interprets, links and
     * loads classes at the first batches, falls behind a burst, and fail-open passes the rest
     * unclamped (issue 11). The training run that makes bin/tcpmssd's AOT cache runs it too, so
     * the cache holds these classes and the profiles of these methods. No log (-v), and its
     * counters are thrown away.
     */
    static void warmUp(Options options, Log log) throws ErrnoException {
        QueueDataPath scratch = new QueueDataPath(options, null, log);
        QueueState state = new QueueState();
        state.warmUpMax = MaxMss.forMtu(1280);
        WarmUp.run(scratch.new QueueHandler(-1, state, null));
    }

    /** Binds every queue of -p; on a failure the ones bound are unbound again. */
    static QueueDataPath bind(Options options, MssPolicy policy, Log log) throws StartupException {
        QueueDataPath path = new QueueDataPath(options, policy, log);
        try {
            for (int i = 0; i < options.queues(); i++) {
                path.bind(options.queue() + i);
            }
        } catch (StartupException e) {
            path.close();
            throw e;
        }
        return path;
    }

    private void bind(int number) throws StartupException {
        QueueState state = new QueueState();
        try {
            state.queue = NfQueue.open(number, options.queueLength(), SOCKET_BUFFER, new QueueHandler(number, state, observer),
                    e -> packetWarnings.warn(() -> "queue " + number + ": " + e.getMessage()));
        } catch (ErrnoException e) {
            throw bindFailure(number, e);
        }
        synchronized (queues) {
            queues.add(state); // close() unbinds every queue in this list, whatever fails next
        }
    }

    /** Served from the moment they are bound: SYNs come at once (a restarted router's backlog). */
    @Override
    public void serve() {
        List<Thread> started = new ArrayList<>();
        for (QueueState state : queues) {
            started.add(Thread.ofPlatform().name("queue-" + state.queue.number()).start(() -> serve(state.queue, state.counters)));
        }
        threads = started;
    }

    @Override
    public void commit() {}

    @Override
    public void awaitStop() {
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                stop(false);
                Thread.currentThread().interrupt();
            }
        }
        threads = List.of();
    }

    @Override
    public void stop(boolean leaveAttached) {
        stopping = true;
    }

    private void serve(NfQueue queue, Counters queueCounters) {
        boolean overrunLogged = false;
        boolean failing = false;
        long failingSince = 0;
        while (!stopping) {
            try {
                int handled = queue.receiveBatch();
                failing = false;
                if (handled == NfQueue.OVERRUN) {
                    // Our socket buffer overflowed: the kernel accepted what did not fit, unclamped
                    // (fail-open), and says so once. Count it and carry on.
                    queueCounters.overrun();
                    if (!overrunLogged) {
                        log.warning("queue " + queue.number() + ": receive buffer overrun, packets passed unclamped (fail-open);"
                                + " further overruns are only counted");
                        overrunLogged = true;
                    }
                }
            } catch (ErrnoException e) {
                // The socket layer answers the passing errors itself (EINTR, EAGAIN, ENOBUFS);
                // this one may still pass (ENOMEM). One that lasts ends the daemon: a queue bound
                // but unserved would hold every SYN, a daemon gone releases it to --queue-bypass.
                long now = System.nanoTime();
                if (!failing) {
                    failing = true;
                    failingSince = now;
                    log.warning("queue " + queue.number() + ": " + e.getMessage() + "; retrying");
                } else if (now - failingSince >= LASTING_NANOS) {
                    Fatal.exit("queue " + queue.number() + ": " + e.getMessage() + " for " + (now - failingSince) / 1_000_000
                            + " ms: exiting, so that the kernel releases the queue", Fatal.IO);
                }
                pause();
            }
        }
        try {
            queue.drain();
        } catch (ErrnoException e) {
            log.warning("queue " + queue.number() + ": " + e.getMessage());
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A queue's packets, and the warm-up's: one class for both, so that what the JIT learnt in
     * the warm-up holds for the queues (another class at the call site would undo its work).
     */
    private final class QueueHandler implements NfQueue.Handler {
        private final int number;
        private final QueueState state;
        private final MssClamp.Observer observer;

        QueueHandler(int number, QueueState state, MssClamp.Observer observer) {
            this.number = number;
            this.state = state;
            this.observer = observer;
        }

        @Override
        public boolean handle(QueuedPacket packet) {
            return QueueDataPath.this.handle(packet, state, observer);
        }

        @Override
        public void failed(QueuedPacket packet, RuntimeException cause) {
            state.counters.count(packet.ipVersion(), Outcome.FAILED);
            packetWarnings.warn(() -> "queue " + number + ": a packet passed unchanged, its handling failed: "
                    + Fatal.oneLine(cause));
        }
    }

    /** The per-packet decision: direction first (BEHAVIOUR §2), then the core (BEHAVIOUR §4). */
    private boolean handle(QueuedPacket packet, QueueState state, MssClamp.Observer observer) {
        MaxMss max = state.warmUpMax != null ? state.warmUpMax
                : policy.forPacket(packet.buffer(), packet.offset(), packet.length(), packet.inInterface(), packet.outInterface());
        Outcome outcome = packet.incoming() && !options.bothDirections()
                ? Outcome.INCOMING
                : MssClamp.clamp(packet.buffer(), packet.offset(), packet.length(), max, observer);
        if (outcome == Outcome.NO_MSS_OPTION && options.addMss()) {
            int grown = MssClamp.addMss(packet.buffer(), packet.offset(), packet.length(), packet.capacity(), max);
            if (grown != packet.length()) {
                packet.resize(grown);
                outcome = Outcome.MSS_ADDED;
                if (observer != null) {
                    log.info("MSS: none -> " + MssClamp.addedMss(packet.ipVersion(), max));
                }
            }
        }
        state.counters.count(packet.ipVersion(), outcome);
        return outcome.changesPacket();
    }

    /** Every queue's counters, with the kernel's count of what it could not queue to us brought up to date. */
    @Override
    public List<Counters> counters() {
        List<Counters> all = new ArrayList<>();
        synchronized (queues) {
            for (QueueState state : queues) {
                if (queuesOpen) {
                    try {
                        state.counters.unseen(state.queue.socketDrops());
                    } catch (ErrnoException e) {
                        // the socket failed: keep the last count
                    }
                }
                all.add(state.counters);
            }
        }
        return all;
    }

    /** Unbinds: the kernel forgets us at once, not when the socket is reaped. */
    @Override
    public void close() {
        stop(false);
        awaitStop();
        counters(); // the kernel's last word on what it could not queue to us
        synchronized (queues) {
            queuesOpen = false;
        }
        for (QueueState state : queues) {
            state.queue.close();
        }
    }

    /**
     * The kernel answers a bind of a queue that another socket owns with EPERM, the same as for a
     * caller without CAP_NET_ADMIN (nfqnl_recv_config); /proc tells the two apart.
     */
    private static StartupException bindFailure(int queue, ErrnoException e) {
        if (e.errno() == Libc.EBUSY || (e.errno() == Libc.EPERM && NfQueue.isBound(queue))) {
            return new StartupException("queue " + queue + " is already in use");
        }
        if (e.errno() == Libc.EPERM) {
            return new StartupException("can't bind queue " + queue + ": operation not permitted (needs CAP_NET_ADMIN)");
        }
        return new StartupException("can't bind queue " + queue + ": " + e.getMessage());
    }
}
