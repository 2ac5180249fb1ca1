package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.util.Optional;
import net.tcpmssd.netlink.Requests.Others;
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
    static Optional<Link> ask(NetlinkChannel socket, String name, int index) throws ErrnoException {
        return ask(socket, name, index, Others.IGNORE);
    }

    /** As {@link #ask(NetlinkChannel, String, int)}, handing the other messages to {@code others}. */
    static Optional<Link> ask(NetlinkChannel socket, String name, int index, Others others) throws ErrnoException {
        String what = name != null ? name : "interface " + index;
        try (Arena arena = Arena.ofConfined()) {
            // A link's reply is a few KiB (its stats and info nests); 64 KiB holds any.
            Requests requests = new Requests(socket, arena.allocate(512, 8), arena.allocate(65536, 8));
            Netlink.Writer request = requests.begin(RTM_GETLINK, 0);
            request.u32(0).u32(index).u32(0).u32(0); // family, pad, type; index; flags; change
            if (name != null) {
                request.attributeString(IFLA_IFNAME, name);
            }
            Link[] answer = new Link[1];
            Attributes attributes = new Attributes();
            int error = requests.exchange("rtnetlink: " + what, reply -> answer[0] = parse(reply, attributes), others);
            if (error == Libc.ENODEV) {
                return Optional.empty();
            }
            if (error != 0) {
                throw new ErrnoException("rtnetlink: " + what, error);
            }
            if (answer[0] == null) {
                throw new ErrnoException("rtnetlink: " + what + ": reply without a name, an index or an MTU", Libc.EBADMSG);
            }
            return Optional.of(answer[0]);
        }
    }

    /**
     * Reads an RTM_NEWLINK or RTM_DELLINK message; null if it lacks a name or an MTU of the right
     * size (as one too short for its struct ifinfomsg does: it has no attributes).
     */
    static Link parse(Messages message, Attributes attributes) {
        int type = message.payloadU16(2); // ifi_type: the link type, ARPHRD_*
        int index = message.payloadU32(4);
        String name = null;
        int mtu = -1;
        message.attributes(attributes, IFINFOMSG);
        while (attributes.next()) {
            switch (attributes.type()) {
                case IFLA_IFNAME -> name = attributes.string();
                case IFLA_MTU -> {
                    int value = attributes.u32(0);
                    mtu = attributes.truncated() ? -1 : value;
                }
                default -> { }
            }
        }
        return name == null || mtu < 0 ? null : new Link(index, name, mtu, type);
    }
}
