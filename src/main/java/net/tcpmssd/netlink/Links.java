package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/** Looks up interfaces over rtnetlink (linux/rtnetlink.h, linux/if_link.h). */
public final class Links {

    static final int RTM_NEWLINK = 16;
    static final int RTM_DELLINK = 17;
    static final int RTM_GETLINK = 18;
    static final int IFINFOMSG = 16; // struct ifinfomsg: family, pad, type, index, flags, change
    static final int IFLA_IFNAME = 3;
    static final int IFLA_MTU = 4;
    /** The sequence number of our requests; the kernel's notifications carry 0. */
    private static final int ASK_SEQUENCE = 1;

    private Links() {}

    /** The interface of this name in our network namespace, or empty if there is none. */
    public static Optional<Link> byName(String name) throws ErrnoException {
        return query(name, 0);
    }

    /** The interface with this index, or empty if there is none. */
    public static Optional<Link> byIndex(int index) throws ErrnoException {
        return query(null, index);
    }

    private static Optional<Link> query(String name, int index) throws ErrnoException {
        try (NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE)) {
            return ask(socket, name, index);
        }
    }

    /**
     * Asks over {@code socket} for one interface, by name or else by index, and waits for the
     * answer. Other messages on the socket (notifications, when it listens to them) are passed
     * over: the answer is newer than any of them.
     */
    static Optional<Link> ask(NetlinkSocket socket, String name, int index) throws ErrnoException {
        String what = name != null ? name : "interface " + index;
        try (Arena arena = Arena.ofConfined()) {
            Netlink.Writer request = new Netlink.Writer(arena.allocate(512, 8));
            request.begin(RTM_GETLINK, Netlink.NLM_F_REQUEST, ASK_SEQUENCE);
            request.u32(0).u32(index).u32(0).u32(0); // family, pad, type; index; flags; change
            if (name != null) {
                request.attributeString(IFLA_IFNAME, name);
            }
            request.end();
            socket.send(request.buffer(), request.length());

            MemorySegment reply = arena.allocate(65536, 8);
            for (int datagrams = 0; datagrams < 1000; datagrams++) {
                int used = socket.receive(reply, 0, false);
                if (used == 0) {
                    break; // the receive timed out
                }
                int length;
                for (long at = 0; (length = Netlink.wholeMessageLength(reply, at, used)) > 0; at += Netlink.align(length)) {
                    if (Netlink.messageSequence(reply, at) != ASK_SEQUENCE) {
                        continue;
                    }
                    if (Netlink.messageType(reply, at) == Netlink.NLMSG_ERROR) {
                        int error = -Netlink.u32(reply, at + Netlink.HEADER);
                        if (error == Libc.ENODEV) {
                            return Optional.empty();
                        }
                        throw new ErrnoException("rtnetlink: " + what, error);
                    }
                    return Optional.ofNullable(parse(reply, at));
                }
            }
            throw new ErrnoException("rtnetlink: no reply for " + what, Libc.ETIMEDOUT);
        }
    }

    /** Reads an RTM_NEWLINK message at {@code at}; null if it lacks a name or an MTU. */
    static Link parse(MemorySegment m, long at) {
        int length = Netlink.messageLength(m, at);
        int type = Netlink.u16(m, at + Netlink.HEADER + 2);
        int index = Netlink.u32(m, at + Netlink.HEADER + 4);
        String name = null;
        int mtu = -1;
        long attribute = at + Netlink.HEADER + IFINFOMSG;
        while (attribute + Netlink.ATTRIBUTE_HEADER <= at + length) {
            int attributeLength = Netlink.u16(m, attribute);
            if (attributeLength < Netlink.ATTRIBUTE_HEADER || attribute + attributeLength > at + length) {
                break;
            }
            long value = attribute + Netlink.ATTRIBUTE_HEADER;
            switch (Netlink.u16(m, attribute + 2) & Netlink.ATTRIBUTE_TYPE_MASK) {
                case IFLA_IFNAME -> name = m.asSlice(value, attributeLength - Netlink.ATTRIBUTE_HEADER)
                        .getString(0, StandardCharsets.UTF_8);
                case IFLA_MTU -> mtu = Netlink.u32(m, value);
                default -> { }
            }
            attribute += Netlink.align(attributeLength);
        }
        return name == null || mtu < 0 ? null : new Link(index, name, mtu, type);
    }
}
