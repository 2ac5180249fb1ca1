package net.tcpmssd.daemon;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/** Log lines to syslog(3), facility daemon, ident tcpmssd (BEHAVIOUR §5): the detached daemon's log. */
public final class Syslog implements Log {

    /** Where glibc's syslog(3) sends, a datagram socket (SOCK_DGRAM first, then SOCK_STREAM). */
    static final String DEV_LOG = "/dev/log";

    private Syslog() {}

    public static Log open() {
        // LOG_NDELAY connects to /dev/log now, before stdio goes to /dev/null and while the
        // start-up errors can still be told on the terminal. LOG_CONS: should a line find no
        // syslog daemon, glibc writes it to /dev/console rather than nowhere.
        Libc.openlog("tcpmssd", Libc.LOG_PID | Libc.LOG_NDELAY | Libc.LOG_CONS, Libc.LOG_DAEMON);
        return new Syslog();
    }

    /**
     * Why nothing would reach a syslog daemon, or null if one listens at /dev/log. openlog(3)
     * says nothing when it cannot connect, so we try as it does (a datagram socket connected to
     * /dev/log): where no syslog daemon runs (a container, a minimal system), the detached
     * daemon would otherwise log into the void without a word.
     */
    public static String unreachable() {
        try {
            connect(Libc.SOCK_DGRAM);
            return null;
        } catch (ErrnoException e) {
            if (e.errno() != Libc.EPROTOTYPE) {
                return e.reason();
            }
        }
        try {
            connect(Libc.SOCK_STREAM); // a syslog daemon listening on a stream socket, which glibc tries next
            return null;
        } catch (ErrnoException e) {
            return e.reason();
        }
    }

    private static void connect(int type) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            int fd = Libc.socket(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0);
            try {
                Libc.connect(fd, Libc.unixAddress(DEV_LOG.getBytes(StandardCharsets.UTF_8), arena));
            } finally {
                Libc.close(fd);
            }
        }
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
