package net.tcpmssd.daemon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssPolicy;
import net.tcpmssd.mss.UnknownInterfaceException;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;
import net.tcpmssd.queue.NfQueue;
import net.tcpmssd.queue.QueuedPacket;

/**
 * The daemon loop: wires the options, the MTU source, the queue and the log together. Each
 * queued packet goes to {@link #handle}, which decides direction and asks the core to clamp.
 */
public final class Daemon {

    private static final int SOCKET_BUFFER = 8 * 1024 * 1024;

    private final Options options;
    private final Log log;
    private final Startup startup;
    private final MssClamp.Observer observer;
    /** Every bound queue; read by signal and metrics threads, so guarded by itself. */
    private final List<QueueState> queues = new ArrayList<>();
    private boolean queuesOpen = true; // guarded by queues: false once they are being closed

    /** One queue and what its thread keeps for itself: its counters. */
    private static final class QueueState {
        final Counters counters = new Counters();
        NfQueue queue;
    }
    /** The maximum MSS, from the one source the options name; null until it is started. */
    private volatile MssPolicy policy;
    private volatile boolean stopping;

    /** Called once the daemon is ready (queue bound, pidfile written): detaching hooks in here. */
    @FunctionalInterface
    public interface Startup {
        void ready() throws ErrnoException;
    }

    public Daemon(Options options, Log log, Startup startup) {
        this.options = options;
        this.log = log;
        this.startup = startup;
        this.observer = options.verbose() ? (from, to) -> log.info("MSS: " + from + " -> " + to) : null;
    }

    public void run() throws StartupException {
        // First of all: a SIGTERM that comes while starting must still end in an orderly stop.
        Signals.onTerminate(this::stop);
        Signals.onHangup(this::reread);
        Signals.onUser1(this::reportCounters);
        Pidfile pidfile = null;
        MetricsServer metrics = null;
        try {
            try {
                policy = options.source().start(log);
            } catch (UnknownInterfaceException e) {
                throw new StartupException(e.getMessage());
            }
            for (int i = 0; i < options.queues(); i++) {
                bind(options.queue() + i);
            }
            if (!options.verbose()) {
                pidfile = Pidfile.acquire(options.pidfile() != null ? Path.of(options.pidfile()) : Pidfile.defaultPath(options));
            }
            if (options.metrics() != null) {
                metrics = serveMetrics(options.metrics());
            }
            log.info(policy.describe());
            startup.ready();
            SystemdNotify.send("READY=1", log);
            serve();
        } catch (ErrnoException e) {
            throw new StartupException(e.getMessage());
        } finally {
            if (metrics != null) {
                metrics.close();
            }
            allCounters(); // the kernel's last word on what it could not queue to us
            synchronized (queues) {
                queuesOpen = false;
            }
            for (QueueState state : queues) {
                state.queue.close(); // unbind: the kernel forgets us at once, not when the socket is reaped
            }
            if (pidfile != null) {
                pidfile.close();
            }
            if (policy != null) {
                policy.close();
            }
        }
        if (options.verbose()) {
            reportCounters();
        }
    }

    void stop() {
        stopping = true;
    }

    /** One platform thread per queue (the kernel spreads flows over them); returns when all stopped. */
    private void serve() {
        List<Thread> threads = new ArrayList<>();
        for (QueueState state : queues) {
            threads.add(Thread.ofPlatform().name("queue-" + state.queue.number()).start(() -> serve(state.queue, state.counters)));
        }
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                stop();
                Thread.currentThread().interrupt();
            }
        }
        SystemdNotify.send("STOPPING=1", log);
    }

    private void serve(NfQueue queue, Counters queueCounters) {
        boolean overrunLogged = false;
        while (!stopping) {
            try {
                if (queue.receiveBatch() == NfQueue.OVERRUN) {
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
                // Never leave the queue bound but unserved: that would hold every SYN.
                log.warning("queue " + queue.number() + ": " + e.getMessage());
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

    /** The per-packet decision: direction first (BEHAVIOUR §2), then the core (BEHAVIOUR §4). */
    private boolean handle(QueuedPacket packet, QueueState state) {
        MaxMss max = policy.forPacket(packet.buffer(), packet.offset(), packet.length(), packet.inInterface(), packet.outInterface());
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

    private void bind(int number) throws StartupException, ErrnoException {
        QueueState state = new QueueState();
        try {
            state.queue = NfQueue.open(number, options.queueLength(), SOCKET_BUFFER, packet -> handle(packet, state),
                    e -> log.warning("queue " + number + ": " + e.getMessage()));
        } catch (ErrnoException e) {
            throw bindFailure(number, e);
        }
        synchronized (queues) {
            queues.add(state); // run() closes every queue in this list, whatever fails next
        }
    }

    /** SIGHUP: the source reads again what it follows, and says what holds. */
    private void reread() {
        MssPolicy now = policy;
        if (now != null) { // null: still starting, the source is being read right now
            now.reread();
        }
    }

    private MetricsServer serveMetrics(MetricsAddress address) throws StartupException {
        try {
            return MetricsServer.start(address, this::allCounters, () -> policy == null ? null : policy.uniform());
        } catch (java.io.IOException e) {
            throw new StartupException("can't serve metrics on " + address + ": " + e.getMessage());
        }
    }

    /** Every queue's counters, with the kernel's count of what it could not queue to us brought up to date. */
    private List<Counters> allCounters() {
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

    private void reportCounters() {
        for (String line : Counters.report(allCounters())) {
            log.info(line);
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
