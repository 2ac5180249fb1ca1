package net.tcpmssd.daemon;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket named in $NOTIFY_SOCKET
 * (a path, or an abstract name written with a leading '@'). With Type=notify, `systemctl start`
 * returns when READY=1 arrives, that is once the queue is bound.
 */
final class SystemdNotify {

    private static final int SUN_PATH = 108;

    private SystemdNotify() {}

    /** Sends {@code state} (e.g. "READY=1") if a service manager asked for it; otherwise nothing. */
    static void send(String state, Log log) {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return;
        }
        byte[] name = socket.getBytes(StandardCharsets.UTF_8);
        if (name[0] == '@') {
            name[0] = 0; // abstract namespace
        }
        if (name.length >= SUN_PATH) {
            log.warning("NOTIFY_SOCKET is too long: " + socket);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = Libc.unixAddress(name, arena);
            byte[] text = state.getBytes(StandardCharsets.UTF_8);
            MemorySegment message = arena.allocate(text.length);
            MemorySegment.copy(MemorySegment.ofArray(text), 0, message, 0, text.length);
            int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
            try {
                Libc.sendto(fd, message, text.length, address);
            } finally {
                Libc.close(fd);
            }
        } catch (ErrnoException e) {
            log.warning("sd_notify " + state + ": " + e.getMessage());
        }
    }
}
