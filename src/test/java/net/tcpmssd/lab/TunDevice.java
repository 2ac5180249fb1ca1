package net.tcpmssd.lab;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * A tun device (bare IP, ARPHRD_NONE) whose other end is the test: what the kernel sends into it
 * is read from its descriptor. Made in the calling thread's network namespace (see
 * {@link NamespaceThread}); it goes when closed.
 */
public final class TunDevice implements AutoCloseable {

    // linux/if_tun.h: TUNSETIFF = _IOW('T', 202, int), TUNSETLINK = _IOW('T', 205, int); a tun
    // without the packet-information prefix.
    private static final long TUNSETIFF = 0x400454caL;
    private static final long TUNSETLINK = 0x400454cdL;
    private static final int IFF_TUN = 0x0001;
    private static final int IFF_NO_PI = 0x1000;

    private final int fd;
    private final Arena arena = Arena.ofConfined();
    private boolean closed;

    private TunDevice(int fd) {
        this.fd = fd;
    }

    public static TunDevice create(String name) throws ErrnoException {
        TunDevice tun = new TunDevice(Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC));
        try {
            MemorySegment ifreq = tun.arena.allocate(40); // struct ifreq: name[16], then flags
            ifreq.setString(0, name);
            ifreq.set(JAVA_SHORT, 16, (short) (IFF_TUN | IFF_NO_PI));
            Libc.ioctl(tun.fd, TUNSETIFF, ifreq);
            return tun;
        } catch (ErrnoException e) {
            tun.close();
            throw e;
        }
    }

    /** Gives the device another link type (ARPHRD_*; it must be down), as a stand-in for links of that type. */
    public void linkType(long arphrd) throws ErrnoException {
        Libc.ioctl(fd, TUNSETLINK, MemorySegment.ofAddress(arphrd));
    }

    /** Reads until an IPv4 TCP SYN without IP options comes (IPv6 router solicitations pass by); blocks. */
    public byte[] nextIpv4Syn() throws ErrnoException {
        MemorySegment buffer = arena.allocate(2048);
        while (true) {
            byte[] packet = buffer.asSlice(0, Libc.read(fd, buffer)).toArray(JAVA_BYTE);
            if (packet.length >= 40 && packet[0] == 0x45 && packet[9] == 6 && (packet[33] & 0x02) != 0) {
                return packet;
            }
        }
    }

    /** Deletes the device (the last descriptor of a tun that is not persistent); a second call does nothing. */
    @Override
    public void close() {
        if (closed) {
            return; // the descriptor's number may be another's by now
        }
        closed = true;
        Libc.close(fd);
        arena.close();
    }
}
