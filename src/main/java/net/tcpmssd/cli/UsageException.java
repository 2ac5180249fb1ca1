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

    /**
     * A word from the command line in double quotes, on one line whatever it holds: control
     * characters, quotes and backslashes written as C escapes ("ppp0\nx" for a newline).
     */
    static String quoted(String word) {
        StringBuilder out = new StringBuilder("\"");
        word.codePoints().forEach(c -> {
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\t' -> out.append("\\t");
                case '\r' -> out.append("\\r");
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (Character.isISOControl(c)) {
                        out.append(String.format("\\x%02x", c));
                    } else {
                        out.appendCodePoint(c);
                    }
                }
            }
        });
        return out.append('"').toString();
    }

    /** The line to print on stderr. */
    public String line() {
        return usage ? USAGE : "tcpmssd: " + getMessage();
    }
}
