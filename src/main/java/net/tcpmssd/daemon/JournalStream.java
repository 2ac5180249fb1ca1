package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether our stderr is systemd's journal: systemd.exec(5) sets JOURNAL_STREAM to the device and
 * inode numbers ("DEV:INODE", decimal) of the stream it connects to stdout and stderr. A child
 * that inherited the variable but writes elsewhere (redirected, piped) must not be taken for it,
 * hence the comparison with what stderr is now.
 *
 * <p>The journal reads a line starting {@code <N>} as priority N (sd-daemon(3): 3 error,
 * 4 warning, 6 info); without it every line would be filed at the unit's default, info.
 */
public final class JournalStream {

    public static final String ERROR = "<3>";
    public static final String WARNING = "<4>";
    public static final String INFO = "<6>";

    private JournalStream() {}

    /** True if stderr is the stream JOURNAL_STREAM names. */
    public static boolean isStderr() {
        return names(System.getenv("JOURNAL_STREAM"), Path.of("/proc/self/fd/2"));
    }

    /** True if {@code journalStream} names the file {@code file} leads to (followed: /proc/self/fd links to it). */
    static boolean names(String journalStream, Path file) {
        if (journalStream == null || journalStream.isEmpty()) {
            return false;
        }
        try {
            long device = (Long) Files.getAttribute(file, "unix:dev");
            long inode = (Long) Files.getAttribute(file, "unix:ino");
            return journalStream.equals(Long.toUnsignedString(device) + ":" + Long.toUnsignedString(inode));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return false; // no stderr to compare: then it is not the journal's
        }
    }

    /** The prefix for a line of this priority on stderr: the priority for the journal, else nothing. */
    public static String prefix(String priority) {
        return isStderr() ? priority : "";
    }
}
