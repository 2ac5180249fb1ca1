package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Follows interfaces, by name, through rtnetlink's link notifications (RTNLGRP_LINK): the
 * kernel sends RTM_NEWLINK whenever a link changes (an MTU change among them) and RTM_DELLINK
 * when it goes. Matching by name, not index, lets a re-created interface (a PPPoE session that
 * comes back as a new ppp0, with a new index) be followed again. One socket and one thread
 * for all the names: every member of the group is sent every link's notifications.
 */
public final class LinkMonitor implements AutoCloseable {

    /** Told on the monitor's thread. */
    public interface Listener {
        /** The interface exists with this MTU, index and link type: after a change of any, or when it came back. */
        void present(Link link);

        /** The interface is gone (deleted or renamed). */
        void gone(String name);

        void error(ErrnoException error);
    }

    private static final int NETLINK_ADD_MEMBERSHIP = 1;
    private static final int RTNLGRP_LINK = 1;

    private final List<String> names;
    private final Listener listener;
    private final NetlinkSocket socket;
    private final Thread thread;
    private volatile boolean closed;
    /** False while {@link #start} asks: what changes then is only recorded, for {@link #current} to tell. */
    private boolean telling;
    /** Each name's interface as last seen; absent while it is gone. */
    private final Map<String, Link> last = new ConcurrentHashMap<>();
    private final Messages messages = new Messages();
    private final Attributes attributes = new Attributes();

    private LinkMonitor(List<String> names, Listener listener, NetlinkSocket socket) {
        this.names = names;
        this.listener = listener;
        this.socket = socket;
        this.thread = Thread.ofPlatform().daemon().name("link-monitor").unstarted(this::run);
    }

    /**
     * Joins the link group, then asks for the interface's current state on the same socket, so
     * that no change falls between the two: the request also binds the socket (netlink(7)
     * autobind), and an unbound socket hears none of the kernel's notifications (see
     * {@link NetlinkSocket#subscribe}). The names are asked one after another; a notification
     * that comes meanwhile is followed as it would be later (the next name's answer is newer
     * than any about it). Then {@link #current} tells each interface as it is now, and the
     * listener hears of every change from then on, from the monitor's thread.
     */
    public static LinkMonitor start(List<String> names, Listener listener) throws ErrnoException {
        NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
        LinkMonitor monitor = new LinkMonitor(List.copyOf(names), listener, socket);
        try {
            socket.setNetlinkOption(NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK);
            socket.setReceiveTimeout(Duration.ofMillis(200));
            for (String name : monitor.names) {
                Optional<Link> now = Links.ask(socket, name, 0, monitor::follow);
                now.ifPresentOrElse(link -> monitor.last.put(name, link), () -> monitor.last.remove(name));
            }
        } catch (ErrnoException e) {
            socket.close();
            throw e;
        }
        monitor.telling = true; // before start(): the thread sees it
        monitor.thread.start();
        return monitor;
    }

    /** The interface of this name as last seen; empty while it is gone. */
    public Optional<Link> current(String name) {
        return Optional.ofNullable(last.get(name));
    }

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(256 * 1024, 8);
            while (!closed) {
                int used;
                try {
                    used = socket.receive(buffer, 0, false);
                } catch (ErrnoException e) {
                    if (e.errno() == Libc.ENOBUFS) {
                        resynchronize(); // notifications were lost: ask for the truth
                    } else {
                        listener.error(e);
                        Thread.sleep(1000);
                    }
                    continue;
                }
                dispatch(buffer, used);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Follows the link messages of one datagram. Only the kernel's count: any local process may
     * send to our port id, and a forged RTM_NEWLINK would set the MSS we clamp to.
     */
    private void dispatch(MemorySegment buffer, int used) {
        if (socket.sender() != NetlinkChannel.KERNEL) {
            return;
        }
        messages.over(buffer, 0, used);
        while (messages.next()) {
            follow(messages);
        }
    }

    /** One message from the kernel: a link of ours changed, came, went, or was renamed away. */
    private void follow(Messages message) {
        int type = message.type();
        if (type != Links.RTM_NEWLINK && type != Links.RTM_DELLINK) {
            return;
        }
        Link link = Links.parse(message, attributes);
        if (link == null) {
            return;
        }
        // The names it leaves first, then the one it has: a device renamed from one followed
        // name to another is let go of under the old name before it is taken under the new.
        for (String name : names) {
            Link before = last.get(name);
            boolean itsName = type == Links.RTM_NEWLINK && link.name().equals(name);
            if (!itsName && before != null && link.index() == before.index()) {
                update(name, null); // deleted, or renamed away from our name
            }
        }
        for (String name : names) {
            if (type == Links.RTM_NEWLINK && link.name().equals(name)) {
                update(name, link);
            }
        }
    }

    private void resynchronize() {
        for (String name : names) {
            try {
                // On a socket of its own: the reply could be lost on this one, which just overflowed.
                update(name, Links.byName(name).orElse(null));
            } catch (ErrnoException e) {
                listener.error(e);
            }
        }
    }

    private void update(String name, Link link) {
        Link before = link == null ? last.remove(name) : last.put(name, link);
        if (!telling) {
            return;
        }
        if (link == null) {
            if (before != null) {
                listener.gone(name);
            }
        } else if (before == null || before.mtu() != link.mtu() || before.index() != link.index() || before.type() != link.type()) {
            listener.present(link);
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        socket.close();
    }
}
