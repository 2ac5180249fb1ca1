package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.netlink.Routes;
import net.tcpmssd.netlink.RoutingChanges;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;

/**
 * --pmtu at run time, as iptables' --clamp-mss-to-pmtu: the smaller of the MTUs toward the
 * destination and back toward the source, each from the route the kernel would use (its MTU
 * metric, or its interface's MTU). A direction without a route sets no limit. Each packet thread
 * asks its own {@link Routes}, which a route or link change makes forget what it knew.
 */
final class PathFollower implements MssPolicy {

    private static final int MAX_MTU = 65535;

    private final MssLog log;
    private final RoutingChanges changes;
    private final List<Routes> all = new ArrayList<>(); // guarded by itself: closed at the end
    private final ThreadLocal<PerThread> mine = ThreadLocal.withInitial(this::newPerThread);

    /** One packet thread's routes, and the generation of routing changes they reflect. */
    private static final class PerThread {
        final Routes routes;
        long generation = -1;

        PerThread(Routes routes) {
            this.routes = routes;
        }
    }

    private PathFollower(MssLog log, RoutingChanges changes) {
        this.log = log;
        this.changes = changes;
    }

    static PathFollower start(MssLog log) throws ErrnoException {
        return new PathFollower(log, RoutingChanges.start());
    }

    private PerThread newPerThread() {
        try {
            Routes routes = new Routes();
            synchronized (all) {
                all.add(routes);
            }
            return new PerThread(routes);
        } catch (ErrnoException e) {
            throw new IllegalStateException("route lookups: " + e.getMessage(), e);
        }
    }

    @Override
    public MaxMss forPacket(MemorySegment packet, long offset, int length, int outInterface) {
        PerThread state = mine.get();
        long generation = changes.generation();
        if (generation != state.generation) {
            state.routes.forget();
            state.generation = generation;
        }
        boolean ipv6 = length > 0 && (packet.get(ValueLayout.JAVA_BYTE, offset) & 0xf0) == 0x60;
        int addressLength = ipv6 ? 16 : 4;
        long source = offset + (ipv6 ? 8 : 12);
        long destination = source + addressLength;
        if (length < destination - offset + addressLength) {
            return MaxMss.forMtu(MAX_MTU); // too short to carry addresses: the core will say so
        }
        try {
            int toward = state.routes.mtuToward(packet, destination, addressLength);
            int back = state.routes.mtuToward(packet, source, addressLength);
            int mtu = Math.min(toward > 0 ? toward : MAX_MTU, back > 0 ? back : MAX_MTU);
            return MaxMss.forMtu(mtu);
        } catch (ErrnoException e) {
            log.warning("route lookup: " + e.getMessage());
            return MaxMss.forMtu(MAX_MTU);
        }
    }

    @Override
    public MaxMss uniform() {
        return null;
    }

    /** SIGHUP: every thread's routes are forgotten and asked again at the next SYN. */
    @Override
    public void reread() {
        changes.bump();
        log.info(describe() + "; routes will be read again");
    }

    @Override
    public String describe() {
        return "Maximum MSS: per path MTU (--pmtu)";
    }

    @Override
    public void close() {
        changes.close();
        synchronized (all) {
            for (Routes routes : all) {
                routes.close();
            }
            all.clear();
        }
    }
}
