package net.tcpmssd.os;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The network namespace of the calling thread, as the kernel's inode number of it: what, with an
 * ifindex or an interface name, names one interface on the machine (the served locks, the rule
 * records). Read from /proc, per thread, since a thread may have entered another one (setns).
 */
public final class NetworkNamespace {

    private NetworkNamespace() {}

    /** The inode of this thread's network namespace, from its /proc link "net:[4026531840]". */
    public static long current() throws IOException {
        String link = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
        int open = link.indexOf('[');
        int close = link.indexOf(']');
        if (!link.startsWith("net:") || open < 0 || close < open) {
            throw new IOException("/proc/thread-self/ns/net reads " + link + ", not net:[INODE]");
        }
        try {
            return Long.parseLong(link.substring(open + 1, close));
        } catch (NumberFormatException e) {
            throw new IOException("/proc/thread-self/ns/net reads " + link + ", not net:[INODE]");
        }
    }
}
