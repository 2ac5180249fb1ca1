package net.tcpmssd.daemon;

import sun.misc.Signal;

/**
 * POSIX signals for the daemon. Handlers run on a JVM thread of their own, never inside the packet
 * loop, so they only set flags or read state. The JVM's own SIGTERM/SIGINT handling would exit with status
 * 143/130 through shutdown hooks; BEHAVIOUR §5 wants an orderly stop and status 0, so tcpmssd takes
 * those signals itself (sun.misc.Signal, in the jdk.unsupported module, the supported way to do so).
 */
final class Signals {

    private Signals() {}

    static void onTerminate(Runnable action) {
        Signal.handle(new Signal("TERM"), signal -> action.run());
        Signal.handle(new Signal("INT"), signal -> action.run());
    }

    /** SIGHUP: re-read the interface MTU. */
    static void onHangup(Runnable action) {
        Signal.handle(new Signal("HUP"), signal -> action.run());
    }

    /** SIGUSR2: stop, leaving the --attach program in place (BEHAVIOUR §7). */
    static void onUser2(Runnable action) {
        Signal.handle(new Signal("USR2"), signal -> action.run());
    }

    /** SIGUSR1: log the counters. */
    static void onUser1(Runnable action) {
        Signal.handle(new Signal("USR1"), signal -> action.run());
    }
}
