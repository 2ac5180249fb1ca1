package net.tcpmssd;

import net.tcpmssd.netlink.Link;
import net.tcpmssd.netlink.Links;
import net.tcpmssd.netlink.NfQueue;
import net.tcpmssd.netlink.QueuedPacket;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The daemon loop: wires the options, the MTU source, the queue and the log together. Each
 * queued packet goes to {@link #handle}, which decides direction and asks the core to clamp.
 */
final class Daemon {

    /** Kernel queue length: a burst of SYNs this long waits for us; beyond it fail-open accepts. */
    private static final int QUEUE_MAX_LENGTH = 4096;
    private static final int SOCKET_BUFFER = 8 * 1024 * 1024;

    private final Options options;
    private final Log log;
    private final MssClamp.Observer observer;
    private volatile MaxMss max;
    private volatile boolean stopping;

    Daemon(Options options, Log log) {
        this.options = options;
        this.log = log;
        this.observer = options.verbose() ? (from, to) -> log.info("MSS: " + from + " -> " + to) : null;
    }

    void run() throws StartupException {
        max = MaxMss.forMtu(options.followsInterface() ? interfaceMtu(options.interfaceName()) : options.mtu());
        Signals.onTerminate(this::stop);
        NfQueue queue;
        try {
            queue = NfQueue.open(options.queue(), QUEUE_MAX_LENGTH, SOCKET_BUFFER, this::handle,
                    e -> log.warning(e.getMessage()));
        } catch (ErrnoException e) {
            throw bindFailure(options.queue(), e);
        }
        log.info(describe(max));
        try (queue) {
            while (!stopping) {
                queue.receiveBatch();
            }
            queue.drain();
        } catch (ErrnoException e) {
            log.warning("queue " + options.queue() + ": " + e.getMessage());
        }
    }

    void stop() {
        stopping = true;
    }

    /** The per-packet decision: direction first (SPEC §2), then the core (SPEC §4). */
    private boolean handle(QueuedPacket packet) {
        if (packet.incoming() && !options.bothDirections()) {
            return false;
        }
        Outcome outcome = MssClamp.clamp(packet.buffer(), packet.offset(), packet.length(), max, observer);
        return outcome == Outcome.CLAMPED;
    }

    static String describe(MaxMss max) {
        String line = "Maximum MSS: " + max.ipv4();
        return max.ipv6() == max.ipv4() ? line : line + " (IPv6: " + max.ipv6() + ")";
    }

    private static int interfaceMtu(String name) throws StartupException {
        try {
            return Links.byName(name).map(Link::mtu)
                    .orElseThrow(() -> new StartupException("unknown interface " + name));
        } catch (ErrnoException e) {
            throw new StartupException("can't read interface " + name + ": " + e.getMessage());
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
