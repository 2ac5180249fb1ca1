package net.tcpmssd.daemon;

import java.io.PrintStream;
import net.tcpmssd.mss.MssLog;

/** Where the daemon's lines go: stderr in the foreground, syslog once detached. */
public interface Log extends MssLog {

    static Log to(PrintStream stream) {
        return new Log() {
            @Override
            public void info(String line) {
                stream.println(line);
            }

            @Override
            public void warning(String line) {
                stream.println("warning: " + line);
            }
        };
    }
}
