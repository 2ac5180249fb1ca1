package net.tcpmssd.daemon;

import java.nio.file.Path;
import java.util.List;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssPolicy;
import net.tcpmssd.mss.UnknownInterfaceException;
import net.tcpmssd.os.ErrnoException;

/**
 * The control plane: wires the options, the MSS policy, the data path and the log together.
 * The data path is the NFQUEUE queues ({@link QueueDataPath}, -p) or the kernel's program
 * ({@link KernelPath}, --attach); the daemon starts it, gives it the policy, answers the signals
 * and the scrapes, and stops it.
 */
public final class Daemon {

    private final Options options;
    private final Log log;
    private final Startup startup;
    /** The maximum MSS, from the one source the options name; null until it is started. */
    private volatile MssPolicy policy;
    /** Null until the data path is started; the signal and metrics threads read it. */
    private volatile DataPath path;
    private volatile boolean stopping;
    private volatile boolean leaveAttached;
    /** The counters as last read, for the report after the data path has gone. */
    private volatile List<Counters> lastCounters = List.of();

    /** Called once the daemon is ready (queue bound, pidfile written): detaching hooks in here. */
    @FunctionalInterface
    public interface Startup {
        void ready() throws ErrnoException;
    }

    public Daemon(Options options, Log log, Startup startup) {
        this.options = options;
        this.log = log;
        this.startup = startup;
    }

    public void run() throws StartupException {
        // First of all: a SIGTERM that comes while starting must still end in an orderly stop.
        Signals.onTerminate(() -> stop(false));
        Signals.onHangup(this::reread);
        Signals.onUser1(this::reportCounters);
        Signals.onUser2(() -> {
            if (options.attach() != null) {
                stop(true); // stop, and leave the programs attached: an upgrade or a restart
            }
        });
        Pidfile pidfile = null;
        MetricsServer metrics = null;
        try {
            if (options.attach() == null) {
                QueueDataPath.warmUp(options, log); // the queue path's packet code; --attach has none in the daemon
            }
            try {
                policy = options.source().start(log);
            } catch (UnknownInterfaceException e) {
                throw new StartupException(e.getMessage());
            }
            DataPath started = options.attach() == null ? QueueDataPath.bind(options, policy, log) : KernelPath.prepare(options, policy, log);
            path = started;
            if (stopping) {
                started.stop(leaveAttached); // a SIGTERM during the start
            }
            // Served from the moment they are bound: SYNs come at once (a restarted router's
            // backlog), and the rest of start-up (pidfile, detaching, metrics) takes tens of
            // milliseconds a queue must not wait for (issue 11).
            started.serve();
            if (!options.verbose()) {
                pidfile = Pidfile.acquire(options.pidfile() != null ? Path.of(options.pidfile()) : Pidfile.defaultPath(options));
            }
            if (options.metrics() != null) {
                metrics = serveMetrics(options.metrics());
            }
            if (!stopping) { // a stop asked for during the start attaches nothing, replaces no program
                started.commit(); // last: attaching, which nothing after may undo
                log.info(policy.describe());
                startup.ready();
                SystemdNotify.send("READY=1", log);
                started.awaitStop();
            }
        } catch (ErrnoException e) {
            throw new StartupException(e.getMessage());
        } finally {
            DataPath started = path;
            if (started != null) {
                started.stop(leaveAttached); // a start-up step that failed after the queues were being served
                started.awaitStop();
                SystemdNotify.send("STOPPING=1", log);
            }
            if (metrics != null) {
                metrics.close();
            }
            if (started != null) {
                started.close(); // unbind, or detach (or leave attached); its last counts stay readable
                lastCounters = started.counters();
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

    private void stop(boolean leaveAttached) {
        if (leaveAttached) {
            this.leaveAttached = true;
        }
        stopping = true;
        DataPath started = path;
        if (started != null) {
            started.stop(this.leaveAttached);
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
            return MetricsServer.start(address, this::counters, () -> policy == null ? null : policy.uniform());
        } catch (java.io.IOException e) {
            throw new StartupException("can't serve metrics on " + address + ": " + e.getMessage());
        }
    }

    /** The data path's counters now, or the last ones read once it has gone. */
    private List<Counters> counters() {
        DataPath started = path;
        if (started != null) {
            lastCounters = started.counters();
        }
        return lastCounters;
    }

    private void reportCounters() {
        for (String line : Counters.report(counters())) {
            log.info(line);
        }
    }
}
