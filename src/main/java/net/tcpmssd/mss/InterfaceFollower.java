package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
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
 */
final class InterfaceFollower implements MssPolicy {

    private final String name;
    private final MssLog log;
    private LinkMonitor monitor;
    private volatile MaxMss max;
    private volatile boolean gone;

    private InterfaceFollower(String name, MssLog log) {
        this.name = name;
        this.log = log;
    }

    static InterfaceFollower start(String name, MssLog log) throws ErrnoException, UnknownInterfaceException {
        InterfaceFollower follower = new InterfaceFollower(name, log);
        follower.monitor = LinkMonitor.start(name, new LinkMonitor.Listener() {
            @Override
            public void present(Link link) {
                if (follower.gone) {
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
        Optional<Link> link = follower.monitor.current();
        if (link.isEmpty()) {
            follower.close();
            throw new UnknownInterfaceException(name);
        }
        follower.max = MaxMss.forMtu(link.get().mtu());
        return follower;
    }

    @Override
    public MaxMss forPacket(MemorySegment packet, long offset, int length, int outInterface) {
        return max;
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

    private void setMtu(int mtu, boolean logAnyway) {
        MaxMss next = MaxMss.forMtu(mtu);
        boolean changed = !next.equals(max);
        max = next;
        if (changed || logAnyway) {
            log.info(MssPolicy.describe(next));
        }
    }

    @Override
    public String describe() {
        MaxMss now = max;
        return now == null ? "Maximum MSS: not known yet" : MssPolicy.describe(now);
    }

    @Override
    public void close() {
        if (monitor != null) {
            monitor.close();
        }
    }
}
