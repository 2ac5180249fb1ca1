package net.tcpmssd.daemon;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
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
 * (Linux keeps them per thread, Privileges), while ours inherits the smaller sets. Signals that
 * come faster than their actions run are merged, as the kernel merges a pending signal: at most
 * {@value #PENDING} wait.
 */
final class Signals {

    static final String THREAD = "signals";
    private static final int PENDING = 16;
    private static final BlockingQueue<Runnable> ACTIONS = new ArrayBlockingQueue<>(PENDING);
    private static Thread runner;

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
        Signal.handle(new Signal(name), signal -> ACTIONS.offer(action)); // full: dropped, as the kernel drops a signal already pending
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
