package net.tcpmssd.mss;

/** -i named an interface that does not exist (BEHAVIOUR §1: {@code tcpmssd: unknown interface NAME}). */
public final class UnknownInterfaceException extends Exception {
    private static final long serialVersionUID = 1L;

    public UnknownInterfaceException(String name) {
        super("unknown interface " + name);
    }
}
