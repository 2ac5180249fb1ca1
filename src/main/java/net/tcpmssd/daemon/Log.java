package net.tcpmssd.daemon;

import java.io.PrintStream;
import net.tcpmssd.mss.MssLog;

/** Where the daemon's lines go: stderr in the foreground, syslog once detached. */
public interface Log extends MssLog {

    /** Standard error, each line with its priority when that is the journal ({@link JournalStream}). */
    static Log toStderr() {
        return to(System.err, JournalStream.isStderr());
    }

    static Log to(PrintStream stream, boolean journal) {
        String info = journal ? JournalStream.INFO : "";
        String warning = journal ? JournalStream.WARNING : "";
        return new Log() {
            @Override
            public void info(String line) {
                stream.println(info + line);
            }

            @Override
            public void warning(String line) {
                stream.println(warning + "warning: " + line);
            }
        };
    }
}
