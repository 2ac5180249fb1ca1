package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import net.tcpmssd.netlink.Link;
import net.tcpmssd.netlink.LinkMonitor;
import net.tcpmssd.netlink.Links;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;

/**
 * -i at run time: the maximum for the interface's MTU, changed the moment rtnetlink says the MTU
 * changed. While the interface is gone (a PPPoE session that went down), the last MTU stays: a
 * ppp0 that comes back usually has the same one, and clamping too little would be worse.
 * Waiting for an interface that has not appeared yet, nothing is lowered: there is no MTU to
 * clamp for, and an MSS field cannot exceed {@link #NO_LIMIT}.
 */
final class InterfaceFollower implements MssPolicy {

    private static final MaxMss NO_LIMIT = new MaxMss(65535, 65535);

    private final String name;
    private final MssLog log;
    private LinkMonitor monitor;
    /** Null while the interface has not been seen yet (--wait-for-interface). */
    private volatile MaxMss max;
    private volatile boolean gone;
    private volatile Runnable changeListener = () -> { };

    private InterfaceFollower(String name, MssLog log) {
        this.name = name;
        this.log = log;
    }

    static InterfaceFollower start(String name, boolean waitForIt, MssLog log) throws ErrnoException, UnknownInterfaceException {
        InterfaceFollower follower = new InterfaceFollower(name, log);
        follower.monitor = LinkMonitor.start(List.of(name), new LinkMonitor.Listener() {
            @Override
            public void present(Link link) {
                if (follower.max == null) {
                    log.info("interface " + name + " is there, MTU " + link.mtu());
                } else if (follower.gone) {
                    follower.gone = false;
                    log.info("interface " + name + " is back, MTU " + link.mtu());
                }
                follower.setMtu(link.mtu(), false);
            }

            @Override
            public void gone(String name) {
                follower.gone = true;
                log.warning("interface " + name + " is gone; keeping " + follower.describe());
            }

            @Override
            public void error(ErrnoException e) {
                log.warning("following interface " + name + ": " + e.getMessage());
            }
        });
        Optional<Link> link = follower.monitor.current(name);
        if (link.isPresent()) {
            synchronized (follower) {
                if (follower.max == null) { // else the monitor's thread already set a newer one
                    follower.max = MaxMss.forMtu(link.get().mtu());
                }
            }
        } else if (waitForIt) {
            log.info("waiting for interface " + name + " to appear; no MSS is lowered until then");
        } else {
            follower.close();
            throw new UnknownInterfaceException(name);
        }
        return follower;
    }

    @Override
    public MaxMss forPacket(MemorySegment packet, long offset, int length, int inInterface, int outInterface) {
        MaxMss now = max;
        return now == null ? NO_LIMIT : now;
    }

    @Override
    public MaxMss uniform() {
        return max;
    }

    /** SIGHUP: ask the kernel for the MTU now, whatever the notifications said. */
    @Override
    public void reread() {
        try {
            Optional<Link> link = Links.byName(name);
            if (link.isPresent()) {
                setMtu(link.get().mtu(), true);
            } else {
                log.warning("interface " + name + " is gone; keeping " + describe());
            }
        } catch (ErrnoException e) {
            log.warning("reading interface " + name + ": " + e.getMessage());
        }
    }

    private synchronized void setMtu(int mtu, boolean logAnyway) {
        MaxMss next = MaxMss.forMtu(mtu);
        boolean changed = !next.equals(max);
        max = next;
        changeListener.run(); // before the line: who waits for it may send the next SYN at once
        if (changed || logAnyway) {
            log.info(MssPolicy.describe(next));
        }
    }

    @Override
    public void onChange(Runnable listener) {
        changeListener = listener;
    }

    @Override
    public String describe() {
        MaxMss now = max;
        return now == null ? "Maximum MSS: none yet (waiting for interface " + name + ")" : MssPolicy.describe(now);
    }

    @Override
    public void close() {
        if (monitor != null) {
            monitor.close();
        }
    }
}
