package net.tcpmssd.daemon;

/** tcpmssd cannot start: the message is printed after "tcpmssd: " and the exit status is 1. */
public final class StartupException extends Exception {
    StartupException(String message) {
        super(message, null, false, false);
    }
}
