package net.tcpmssd.daemon;

import java.util.List;

/**
 * Where the SYNs are clamped: NFQUEUE queues read by the daemon ({@link QueueDataPath}, -p), or
 * the kernel's own program that the daemon keeps ({@link KernelPath}, --attach). The daemon
 * starts one, gives it the MSS policy, and otherwise treats both alike.
 */
interface DataPath {

    /** Starts taking packets at once (the queue threads; the kernel path has none). */
    void serve();

    /**
     * The last step of the start, after the pidfile and the metrics: attaching the programs,
     * which nothing after it may fail and undo. Nothing for the queues, already served.
     */
    void commit() throws StartupException;

    /** Returns once {@link #stop} was called and the packets taken are answered. */
    void awaitStop();

    /** Asks it to stop; {@code leaveAttached} (SIGUSR2) leaves the kernel's programs in place. */
    void stop(boolean leaveAttached);

    /** The counters, brought up to date with the kernel's, for SIGUSR1 and the metrics. */
    List<Counters> counters();

    /** Unbinds the queues, or detaches the programs (unless left attached); then the last counts stay readable. */
    void close();
}
