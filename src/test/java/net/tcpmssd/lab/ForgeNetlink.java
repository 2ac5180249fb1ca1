package net.tcpmssd.lab;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.stream.Stream;
import net.tcpmssd.os.Libc;

/**
 * A hostile neighbour: sends one datagram, given as hex, from an ordinary netlink socket to every
 * netlink socket of one protocol that a process holds, as any local process may (netlink(7)
 * permits unicast to another socket's port id). Prints how many it reached.
 * Usage: ForgeNetlink PID PROTOCOL HEX. The sockets are found by inode: the process's fds in
 * /proc/PID/fd, their port ids in /proc/net/netlink (sk Eth Pid Groups ... Inode).
 */
public final class ForgeNetlink {

    public static void main(String[] args) throws Exception {
        long pid = Long.parseLong(args[0]);
        int protocol = Integer.parseInt(args[1]);
        byte[] datagram = HexFormat.of().parseHex(args[2]);
        Set<String> inodes = socketInodes(pid);
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW, protocol);
        int sent = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(datagram.length);
            MemorySegment.copy(MemorySegment.ofArray(datagram), JAVA_BYTE, 0, message, JAVA_BYTE, 0, datagram.length);
            for (String line : Files.readAllLines(Path.of("/proc/net/netlink")).stream().skip(1).toList()) {
                String[] f = line.trim().split("\\s+");
                if (Integer.parseInt(f[1]) != protocol || !inodes.contains(f[9])) {
                    continue;
                }
                MemorySegment to = arena.allocate(12); // struct sockaddr_nl
                to.set(JAVA_SHORT, 0, (short) Libc.AF_NETLINK);
                to.set(JAVA_INT, 4, Integer.parseUnsignedInt(f[2]));
                Libc.sendto(fd, message, datagram.length, to);
                sent++;
            }
        } finally {
            Libc.close(fd);
        }
        System.out.println("sent to " + sent);
    }

    private static Set<String> socketInodes(long pid) throws IOException {
        Set<String> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        return inodes;
    }
}
