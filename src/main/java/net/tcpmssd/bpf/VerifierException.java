package net.tcpmssd.bpf;

import java.util.List;

/**
 * The kernel refused a program (BPF_PROG_LOAD failed), with what its verifier said: the reason
 * line for a one-line error, and the whole log for a file (BEHAVIOUR §7).
 */
public final class VerifierException extends Exception {

    private final int errno;
    private final String log;

    VerifierException(String programName, int errno, String log) {
        super("the kernel refused BPF program " + programName + ": " + reason(log, errno));
        this.errno = errno;
        this.log = log;
    }

    public int errno() {
        return errno;
    }

    /** The verifier's whole log (level 1: the instructions it walked on the refused path, then why). */
    public String log() {
        return log;
    }

    /**
     * The verifier's reason: it writes the refusal right after the last instruction it looked at,
     * and then only its statistics ("processed N insns ...", "verification time ..."), so the
     * reason is the last line that is not one of those.
     */
    static String reason(String log, int errno) {
        List<String> lines = log.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        for (int i = lines.size() - 1; i >= 0; i--) {
            String line = lines.get(i);
            if (!line.startsWith("processed ") && !line.startsWith("verification time") && !line.startsWith("stack depth")) {
                return line;
            }
        }
        return "no verifier log (errno " + errno + ")";
    }
}
