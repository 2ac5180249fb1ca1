package net.tcpmssd.daemon;

import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * A warning that strangers' packets can cause at packet rate: logged at most once per interval,
 * from any thread; the next line says how many were left out meanwhile (BEHAVIOUR §8). The line is
 * built only when it is logged.
 */
final class RateLimitedWarning {

    private final Log log;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private boolean loggedOnce; // guarded by this
    private long lastLogged;    // guarded by this
    private long leftOut;       // guarded by this

    RateLimitedWarning(Log log, long intervalNanos, LongSupplier nanoClock) {
        this.log = log;
        this.intervalNanos = intervalNanos;
        this.nanoClock = nanoClock;
    }

    /** At most one line a second, on System.nanoTime. */
    static RateLimitedWarning perSecond(Log log) {
        return new RateLimitedWarning(log, 1_000_000_000L, System::nanoTime);
    }

    void warn(Supplier<String> line) {
        long left;
        synchronized (this) {
            long now = nanoClock.getAsLong();
            if (loggedOnce && now - lastLogged < intervalNanos) {
                leftOut++;
                return;
            }
            loggedOnce = true;
            lastLogged = now;
            left = leftOut;
            leftOut = 0;
        }
        log.warning(left == 0 ? line.get() : line.get() + " (and " + left + " more like it since the last such line)");
    }
}
