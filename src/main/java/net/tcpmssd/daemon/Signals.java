package net.tcpmssd.daemon;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * POSIX signals for the daemon. Handlers run on a JVM thread of their own, never inside the packet
 * loop, so they only set flags or read state. The JVM's own SIGTERM/SIGINT handling would exit with status
 * 143/130 through shutdown hooks; BEHAVIOUR §5 wants an orderly stop and status 0, so tcpmssd takes
 * those signals itself (sun.misc.Signal, in the jdk.unsupported module, the supported way to do so).
 *
 * <p>The actions run on one thread of ours ({@value #THREAD}), started by the first registration,
 * not on the thread the JVM starts per signal: that one is started by the JVM's "Signal
 * Dispatcher", which began before main and so still holds every capability the daemon gave up
 * (Linux keeps them per thread, Privileges), while ours inherits the smaller sets. A signal
 * that comes again while its action still waits is merged with it, as the kernel merges a
 * pending signal of the same number; a different signal is never lost: each action waits at
 * most once, so the queue holds at most one entry per registered action (a burst of SIGHUP
 * cannot crowd out a SIGTERM).
 */
final class Signals {

    static final String THREAD = "signals";
    /** Each registered action at most once: bounded by the registrations, a handful. */
    private static final BlockingQueue<Pending> ACTIONS = new LinkedBlockingQueue<>();
    private static Thread runner;

    /** An action and whether it already waits to run. */
    private record Pending(Runnable action, AtomicBoolean waiting) {
        void signalled() {
            if (waiting.compareAndSet(false, true)) {
                ACTIONS.add(this);
            }
        }

        void run() {
            waiting.set(false); // cleared first: a signal that comes while it runs runs it again
            action.run();
        }
    }

    private Signals() {}

    static void onTerminate(Runnable action) {
        handle("TERM", action);
        handle("INT", action);
    }

    /** SIGHUP: re-read the interface MTU. */
    static void onHangup(Runnable action) {
        handle("HUP", action);
    }

    /** SIGUSR2: stop, leaving the --attach program in place (BEHAVIOUR §7). */
    static void onUser2(Runnable action) {
        handle("USR2", action);
    }

    /** SIGUSR1: log the counters. */
    static void onUser1(Runnable action) {
        handle("USR1", action);
    }

    private static synchronized void handle(String name, Runnable action) {
        if (runner == null) {
            runner = Thread.ofPlatform().name(THREAD).daemon().start(Signals::runActions);
        }
        Pending pending = new Pending(action, new AtomicBoolean());
        Signal.handle(new Signal(name), signal -> pending.signalled());
    }

    private static void runActions() {
        while (true) {
            try {
                ACTIONS.take().run();
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
