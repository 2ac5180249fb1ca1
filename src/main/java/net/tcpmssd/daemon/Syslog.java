package net.tcpmssd.daemon;

import net.tcpmssd.os.Libc;

/** Log lines to syslog(3), facility daemon, ident tcpmssd (BEHAVIOUR §5): the detached daemon's log. */
public final class Syslog implements Log {

    private Syslog() {}

    public static Log open() {
        // LOG_NDELAY connects to /dev/log now, before stdio goes to /dev/null and while the
        // start-up errors can still be told on the terminal.
        Libc.openlog("tcpmssd", Libc.LOG_PID | Libc.LOG_NDELAY, Libc.LOG_DAEMON);
        return new Syslog();
    }

    @Override
    public void info(String line) {
        Libc.syslog(Libc.LOG_INFO, line);
    }

    @Override
    public void warning(String line) {
        Libc.syslog(Libc.LOG_WARNING, line);
    }
}
