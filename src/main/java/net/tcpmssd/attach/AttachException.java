package net.tcpmssd.attach;

/**
 * The in-kernel data path cannot start (BEHAVIOUR §7): the message is one line for "tcpmssd: ";
 * for a verifier refusal the verifier's whole log comes along, for the daemon to write to a file.
 */
public final class AttachException extends Exception {

    private final String verifierLog;

    public AttachException(String message) {
        this(message, null);
    }

    AttachException(String message, String verifierLog) {
        super(message, null, false, false);
        this.verifierLog = verifierLog;
    }

    /** The verifier's whole log when the kernel refused the program, else null. */
    public String verifierLog() {
        return verifierLog;
    }
}
