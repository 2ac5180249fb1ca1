package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.attach.AttachException;
import net.tcpmssd.attach.KernelDataPath;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssPolicy;
import net.tcpmssd.mss.PathMtu;
import net.tcpmssd.mss.UnknownInterfaceException;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.MssClamp;
import net.tcpmssd.packet.Outcome;
import net.tcpmssd.queue.NfQueue;
import net.tcpmssd.queue.QueuedPacket;
import net.tcpmssd.queue.WarmUp;

/**
 * The daemon loop: wires the options, the MTU source, the queue and the log together. Each
 * queued packet goes to {@link #handle}, which decides direction and asks the core to clamp.
 */
public final class Daemon {

    private static final int SOCKET_BUFFER = 8 * 1024 * 1024;
    /** A receive that goes on failing this long (retried every 100 ms) has a lasting error. */
    private static final long LASTING_NANOS = 1_000_000_000L;

    private final Options options;
    private final Log log;
    private final Startup startup;
    private final MssClamp.Observer observer;
    /** Packets whose handling failed, and the kernel's errors for our verdicts: either may come at packet rate. */
    private final RateLimitedWarning packetWarnings;
    /** Every bound queue; read by signal and metrics threads, so guarded by itself. */
    private final List<QueueState> queues = new ArrayList<>();
    private boolean queuesOpen = true; // guarded by queues: false once they are being closed

    /** One queue and what its thread keeps for itself: its counters. */
    private static final class QueueState {
        final Counters counters = new Counters();
        NfQueue queue;
        /** The warm-up's maximum, for its packets only (the daemon's is not known yet). */
        MaxMss warmUpMax;
    }
    /** The maximum MSS, from the one source the options name; null until it is started. */
    private volatile MssPolicy policy;
    private volatile boolean stopping;
    /** The in-kernel data path of --attach (BEHAVIOUR §7), or null with -p; then {@link #queues} is empty. */
    private volatile KernelDataPath kernel;
    private boolean kernelAttached; // only the main thread's
    /** SIGUSR2: stop and leave the programs attached, for an upgrade or a restart. */
    private volatile boolean leaveAttached;
    /** The kernel program's counts as last read; kept for the last report once its maps are closed. */
    private volatile Counters kernelCounts = new Counters();

    /**
     * The directory of --attach's files: the served-interface locks and the verifier log. One
     * path for every tcpmssd, so that all see each other's locks; systemd's RuntimeDirectory=tcpmssd
     * makes it for a daemon that runs as a user of its own, root makes it itself.
     */
    static final Path RUN_DIRECTORY = Path.of("/run/tcpmssd");
    /** Where a refused program's whole verifier log goes (BEHAVIOUR §7), mode 0600. */
    static final Path VERIFIER_LOG = RUN_DIRECTORY.resolve("verifier.log");

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
        this.packetWarnings = RateLimitedWarning.perSecond(log);
    }

    public void run() throws StartupException {
        // First of all: a SIGTERM that comes while starting must still end in an orderly stop.
        Signals.onTerminate(this::stop);
        Signals.onHangup(this::reread);
        Signals.onUser1(this::reportCounters);
        Signals.onUser2(this::stopLeavingAttached);
        Pidfile pidfile = null;
        MetricsServer metrics = null;
        List<Thread> threads = List.of();
        try {
            if (options.attach() == null) {
                warmUp(); // the queue path's packet code; --attach has none in the daemon
            }
            try {
                policy = options.source().start(log);
            } catch (UnknownInterfaceException e) {
                throw new StartupException(e.getMessage());
            }
            if (options.attach() != null) {
                prepareKernel();
            } else {
                for (int i = 0; i < options.queues(); i++) {
                    bind(options.queue() + i);
                }
            }
            // Served from the moment they are bound: SYNs come at once (a restarted router's
            // backlog), and the rest of start-up (pidfile, detaching, metrics) takes tens of
            // milliseconds a queue must not wait for (issue 11).
            threads = serveQueues();
            if (!options.verbose()) {
                pidfile = Pidfile.acquire(options.pidfile() != null ? Path.of(options.pidfile()) : Pidfile.defaultPath(options));
            }
            if (options.metrics() != null) {
                metrics = serveMetrics(options.metrics());
            }
            if (kernel != null) {
                attachKernel(); // last: nothing after it can fail and leave an interface without the old program or ours
            }
            log.info(policy.describe());
            startup.ready();
            SystemdNotify.send("READY=1", log);
            if (kernel != null) {
                awaitKernelStop();
            }
            awaitStop(threads);
            threads = List.of();
        } catch (ErrnoException e) {
            throw new StartupException(e.getMessage());
        } finally {
            stop(); // a start-up step that failed after the queues were being served
            awaitStop(threads);
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
            closeKernel(); // and with it the served-interface locks
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

    private void stopLeavingAttached() {
        if (kernel != null) {
            leaveAttached = true;
            stop();
        }
    }

    /** --attach: the kernel clamps; the daemon only answers signals, the MTU follower and scrapes until it stops. */
    private void awaitKernelStop() {
        while (!stopping) {
            pause();
        }
        SystemdNotify.send("STOPPING=1", log);
    }

    /** One platform thread per queue (the kernel spreads flows over them). */
    private List<Thread> serveQueues() {
        List<Thread> threads = new ArrayList<>();
        for (QueueState state : queues) {
            threads.add(Thread.ofPlatform().name("queue-" + state.queue.number()).start(() -> serve(state.queue, state.counters)));
        }
        return threads;
    }

    /** Returns when every queue thread has stopped. */
    private void awaitStop(List<Thread> threads) {
        if (threads.isEmpty()) {
            return;
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
            return Daemon.this.handle(packet, state, observer);
        }

        @Override
        public void failed(QueuedPacket packet, RuntimeException cause) {
            state.counters.count(packet.ipVersion(), Outcome.FAILED);
            packetWarnings.warn(() -> "queue " + number + ": a packet passed unchanged, its handling failed: "
                    + Fatal.oneLine(cause));
        }
    }

    /**
     * Before anything is bound, the packet path runs over synthetic SYNs (WarmUp), so that a
     * started daemon clamps at full speed from its first SYN: a cold JVM interprets, links and
     * loads classes at the first batches, falls behind a burst, and fail-open passes the rest
     * unclamped (issue 11). The training run that makes bin/tcpmssd's AOT cache runs it too, so
     * the cache holds these classes and the profiles of these methods. No log (-v), and its
     * counters are thrown away.
     */
    private void warmUp() throws ErrnoException {
        QueueState scratch = new QueueState();
        scratch.warmUpMax = MaxMss.forMtu(1280);
        WarmUp.run(new QueueHandler(-1, scratch, null));
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

    private void bind(int number) throws StartupException, ErrnoException {
        QueueState state = new QueueState();
        try {
            state.queue = NfQueue.open(number, options.queueLength(), SOCKET_BUFFER, new QueueHandler(number, state, observer),
                    e -> packetWarnings.warn(() -> "queue " + number + ": " + e.getMessage()));
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

    /**
     * --attach, before the pidfile: interfaces and the lock of every one there (its network
     * namespace and ifindex), maps, programs and the way to attach, then the maximum into the
     * map. Nothing attached is touched yet, so a daemon that fails here leaves the running one's
     * programs (or the ones a stopped daemon left) clamping.
     */
    private void prepareKernel() throws StartupException, ErrnoException {
        try {
            long namespace = KernelDataPath.networkNamespace();
            runDirectory();
            kernel = KernelDataPath.prepare(options.attach(), options.bothDirections(), options.addMss(), options.clsBpf(),
                    options.source() instanceof PathMtu, options.waitForInterface(), (name, ifindex) -> servedLock(namespace, name, ifindex),
                    log);
        } catch (AttachException e) {
            throw new StartupException(e.verifierLog() == null ? e.getMessage() : e.getMessage() + writeVerifierLog(VERIFIER_LOG, e.verifierLog()));
        }
        policy.onChange(this::writeMaximum);
        synchronized (this) {
            kernel.setMaxMss(policy.uniform());
        }
        if (options.source() instanceof PathMtu) {
            policy.onRoutes(this::writeRoutes); // the routes in force now, written before it returns
            if (!routesTrouble.isEmpty()) {
                throw new StartupException(routesTrouble);
            }
            routesFollowed = true;
        }
    }

    /** --pmtu with --attach: what went wrong writing the routes last, "" if the last write worked; the mirror's thread's. */
    private volatile String routesTrouble = "";
    private volatile boolean routesFollowed; // past the first write: failures are logged

    /**
     * --pmtu with --attach: the routes into the kernel's maps, at start and after each read; a
     * failure leaves the last table written in force and is logged once until a write works.
     */
    private synchronized void writeRoutes(net.tcpmssd.netlink.RouteTable table) { // synchronized: closeKernel waits for it
        KernelDataPath path = kernel;
        if (path == null) {
            return;
        }
        try {
            path.setRoutes(table);
            if (!routesTrouble.isEmpty() && routesFollowed) {
                log.info("--pmtu: the routes are in the BPF maps again");
            }
            routesTrouble = "";
        } catch (ErrnoException | RuntimeException e) {
            String trouble = "can't write the routes into the BPF maps: " + e.getMessage();
            if (!trouble.equals(routesTrouble) && routesFollowed) { // at the start, the start-up error says it
                log.warning("--pmtu: " + trouble + "; the routes last written stay in force");
            }
            routesTrouble = trouble;
        }
    }

    /** The lock of an interface served, /run/tcpmssd/served.NETNS.IFINDEX.lock (BEHAVIOUR §7): at start, and when it is re-created. */
    private static KernelDataPath.Lock servedLock(long namespace, String name, int ifindex) throws AttachException {
        Path lock = RUN_DIRECTORY.resolve("served." + namespace + "." + ifindex + ".lock");
        try {
            return Pidfile.acquire(lock, "lock file", pid -> new StartupException(name + " is already served by pid " + pid))::close;
        } catch (StartupException e) {
            throw new AttachException(e.getMessage());
        }
    }

    private void attachKernel() throws StartupException {
        try {
            kernel.attach();
        } catch (AttachException e) {
            throw new StartupException(e.getMessage());
        }
        kernelAttached = true;
        if (options.verbose()) {
            kernel.logEvents(log);
        }
        log.info(kernel.describe());
    }

    /** The policy's maximum into the kernel's map: at start, and whenever the policy sets it anew. */
    private synchronized void writeMaximum() {
        KernelDataPath path = kernel;
        if (path == null) {
            return; // stopping: the maps are let go
        }
        try {
            path.setMaxMss(policy.uniform());
        } catch (ErrnoException e) {
            log.warning("can't write the maximum MSS into the kernel: " + e.getMessage());
        }
    }

    /**
     * SIGTERM takes our programs away (their maps go with them); SIGUSR2 leaves them clamping at
     * the last maximum. A daemon that never attached touches nothing.
     */
    private void closeKernel() {
        KernelDataPath path = kernel;
        if (path == null) {
            return;
        }
        if (kernelAttached && !leaveAttached) {
            path.detach();
        } else if (kernelAttached) {
            log.info(options.source() instanceof PathMtu
                    ? "stopping; the program stays attached, clamping by the routes last written (no longer following changes)"
                    : "stopping; the program stays attached, clamping at the last maximum");
        }
        allCounters(); // the last counts, before the maps are let go
        synchronized (this) {
            kernel = null;
        }
        path.close();
    }

    /**
     * {@link #RUN_DIRECTORY}, made (0755) if missing: mkdir(2) never follows a link in the last
     * component, and what is there must be a real directory of root's or ours.
     */
    private static void runDirectory() throws StartupException {
        try {
            Files.createDirectory(RUN_DIRECTORY, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        } catch (FileAlreadyExistsException e) {
            // made by an earlier daemon, or by systemd: checked below
        } catch (IOException e) {
            throw new StartupException("can't make " + RUN_DIRECTORY + ": " + e.getMessage());
        }
        try {
            PosixFileAttributes attributes = Files.readAttributes(RUN_DIRECTORY, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            int owner = (int) Files.getAttribute(RUN_DIRECTORY, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isDirectory() || (owner != 0 && owner != Libc.geteuid())) {
                throw new StartupException(RUN_DIRECTORY + " is not a directory of root's or ours");
            }
        } catch (IOException e) {
            throw new StartupException("can't use " + RUN_DIRECTORY + ": " + e.getMessage());
        }
    }

    /** The verifier's whole log into {@code path} (0600, never through a link); what to add to the error line. */
    static String writeVerifierLog(Path path, String text) {
        try {
            if (path.getParent().equals(RUN_DIRECTORY)) {
                runDirectory();
            }
            int fd = OwnFile.open(path, 0600, "verifier log");
            try {
                Libc.fchmod(fd, 0600);
                Libc.ftruncate(fd, 0);
                Libc.pwrite(fd, text.getBytes(StandardCharsets.UTF_8), 0);
            } finally {
                Libc.close(fd);
            }
            return " (the verifier's log is in " + path + ")";
        } catch (StartupException | ErrnoException e) {
            return " (" + e.getMessage() + ")";
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
        if (options.attach() != null) {
            synchronized (this) {
                KernelDataPath path = kernel;
                if (path != null) {
                    kernelCounts = Counters.snapshot(path::count);
                }
            }
            return List.of(kernelCounts);
        }
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
