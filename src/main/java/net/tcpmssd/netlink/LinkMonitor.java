package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Optional;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Follows one interface, by name, through rtnetlink's link notifications (RTNLGRP_LINK): the
 * kernel sends RTM_NEWLINK whenever a link changes (an MTU change among them) and RTM_DELLINK
 * when it goes. Matching by name, not index, lets a re-created interface (a PPPoE session that
 * comes back as a new ppp0) be followed again.
 */
public final class LinkMonitor implements AutoCloseable {

    /** Told on the monitor's thread. */
    public interface Listener {
        /** The interface exists with this MTU: at start, after a change, or when it came back. */
        void present(Link link);

        /** The interface is gone (deleted or renamed). */
        void gone(String name);

        void error(ErrnoException error);
    }

    private static final int NETLINK_ADD_MEMBERSHIP = 1;
    private static final int RTNLGRP_LINK = 1;

    private final String name;
    private final Listener listener;
    private final NetlinkSocket socket;
    private final Thread thread;
    private volatile boolean closed;
    private volatile Link last;
    private final Messages messages = new Messages();
    private final Attributes attributes = new Attributes();

    private LinkMonitor(String name, Listener listener, NetlinkSocket socket) {
        this.name = name;
        this.listener = listener;
        this.socket = socket;
        this.thread = Thread.ofPlatform().daemon().name("link-monitor").unstarted(this::run);
    }

    /**
     * Joins the link group, then asks for the interface's current state on the same socket, so
     * that no change falls between the two: the request also binds the socket (netlink(7)
     * autobind), and an unbound socket hears none of the kernel's notifications (see
     * {@link NetlinkSocket#subscribe}). Returns the interface as it is now (empty if absent) and
     * follows it from then on.
     */
    public static LinkMonitor start(String name, Listener listener) throws ErrnoException {
        NetlinkSocket socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
        LinkMonitor monitor = new LinkMonitor(name, listener, socket);
        try {
            socket.setNetlinkOption(NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK);
            socket.setReceiveTimeout(Duration.ofMillis(200));
            monitor.last = Links.ask(socket, name, 0).orElse(null);
        } catch (ErrnoException e) {
            socket.close();
            throw e;
        }
        monitor.thread.start();
        return monitor;
    }

    /** The interface as last seen; empty while it is gone. */
    public Optional<Link> current() {
        return Optional.ofNullable(last);
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
            int type = messages.type();
            if (type == Links.RTM_NEWLINK || type == Links.RTM_DELLINK) {
                Link link = Links.parse(messages, attributes);
                if (link != null) {
                    boolean ours = link.name().equals(name);
                    if (type == Links.RTM_NEWLINK && ours) {
                        update(link);
                    } else if (last != null && link.index() == last.index()) {
                        update(null); // deleted, or renamed away from our name
                    }
                }
            }
        }
    }

    private void resynchronize() {
        try {
            // On a socket of its own: the reply could be lost on this one, which just overflowed.
            update(Links.byName(name).orElse(null));
        } catch (ErrnoException e) {
            listener.error(e);
        }
    }

    private void update(Link link) {
        Link before = last;
        last = link;
        if (link == null) {
            if (before != null) {
                listener.gone(name);
            }
        } else if (before == null || before.mtu() != link.mtu() || before.index() != link.index()) {
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
