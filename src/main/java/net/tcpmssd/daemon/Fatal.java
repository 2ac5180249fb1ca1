package net.tcpmssd.daemon;

import java.util.concurrent.atomic.AtomicBoolean;
import net.tcpmssd.os.Libc;

/**
 * Errors the daemon cannot go on from end the process at once, with one line: a lasting socket
 * error, and anything that ends one of its threads (an Error such as OutOfMemoryError, or a bug).
 * A half-dead daemon would be worse than none: a queue bound but unserved holds every SYN, while
 * a daemon gone releases its queues, so that --queue-bypass passes SYNs on and a supervisor
 * restarts it (BEHAVIOUR §8).
 *
 * <p>Not {@code -XX:+ExitOnOutOfMemoryError}: the JVM prints its own line for that on its standard
 * output, which a detached daemon has pointed at /dev/null; this line goes to stderr and, once
 * detached, to syslog. The process is halted, not exited: no shutdown hook or finally block runs
 * after a heap exhausted or a thread lost (the kernel unbinds a queue when its socket closes).
 */
public final class Fatal {

    /** EX_SOFTWARE (sysexits(3)): a thread ended by an Error or a bug. */
    public static final int SOFTWARE = 70;
    /** EX_IOERR: a socket error that lasts. */
    public static final int IO = 74;

    private static final AtomicBoolean REPORTED = new AtomicBoolean();
    private static volatile boolean toSyslog;

    private Fatal() {}

    /**
     * From here on a thread that ends by an uncaught throwable ends the process; the line also
     * goes to syslog once {@code detached}.
     */
    public static void install(boolean detached) {
        toSyslog = detached;
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> exit(thread.getName() + ": " + oneLine(e), SOFTWARE));
    }

    /** Writes {@code tcpmssd: fatal: WHAT} and halts with {@code status}. Does not return. */
    public static void exit(String what, int status) {
        try {
            if (REPORTED.compareAndSet(false, true)) { // the first fatal error is the one to tell
                String line = "fatal: " + what;
                System.err.println("tcpmssd: " + line);
                System.err.flush();
                if (toSyslog) {
                    Libc.syslog(Libc.LOG_ERR, line);
                }
            }
        } finally {
            Runtime.getRuntime().halt(status);
        }
    }

    /**
     * A throwable in one line: its class, message and where it was thrown, e.g.
     * {@code java.lang.IllegalStateException: x (at net.tcpmssd.packet.MssClamp.clamp:120)}.
     * Control characters in the message become spaces: one line in the log, whatever it says.
     */
    static String oneLine(Throwable e) {
        StringBuilder line = new StringBuilder(e.toString());
        StackTraceElement[] trace = e.getStackTrace();
        if (trace.length > 0) {
            line.append(" (at ").append(trace[0].getClassName()).append('.').append(trace[0].getMethodName())
                    .append(':').append(trace[0].getLineNumber()).append(')');
        }
        for (int i = 0; i < line.length(); i++) {
            if (Character.isISOControl(line.charAt(i))) {
                line.setCharAt(i, ' ');
            }
        }
        return line.toString();
    }
}
