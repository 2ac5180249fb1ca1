package net.tcpmssd.cli;

/** The command line is wrong: print this one line (or the usage line) and exit 1. */
public final class UsageException extends Exception {

    static final String USAGE = "usage: tcpmssd [-bv] -p port {-i iface | -m mtu}";

    private final boolean usage;

    private UsageException(String message, boolean usage) {
        super(message, null, false, false);
        this.usage = usage;
    }

    /** The command line does not fit the grammar: only the usage line is printed. */
    static UsageException usage() {
        return new UsageException(USAGE, true);
    }

    /** A value is wrong: "tcpmssd: " and the message. */
    static UsageException invalid(String message) {
        return new UsageException(message, false);
    }

    /** The line to print on stderr. */
    public String line() {
        return usage ? USAGE : "tcpmssd: " + getMessage();
    }
}
