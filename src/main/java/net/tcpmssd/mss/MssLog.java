package net.tcpmssd.mss;

/** Where a policy says what it does: the daemon's log, without the policy knowing which one. */
public interface MssLog {
    void info(String line);

    void warning(String line);
}
