package net.tcpmssd;

import sun.misc.Signal;

/**
 * POSIX signals for the daemon. The JVM's own SIGTERM/SIGINT handling would exit with status
 * 143/130 through shutdown hooks; SPEC §5 wants an orderly stop and status 0, so tcpmssd takes
 * those signals itself (sun.misc.Signal, in the jdk.unsupported module, the supported way to do so).
 */
final class Signals {

    private Signals() {}

    static void onTerminate(Runnable action) {
        Signal.handle(new Signal("TERM"), signal -> action.run());
        Signal.handle(new Signal("INT"), signal -> action.run());
    }
}
