package net.tcpmssd.mss;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.packet.MaxMss;

/** --pmtu at run time: each SYN's maximum from {@link PathMss}, the routes mirrored from rtnetlink. */
final class PathFollower implements MssPolicy {

    private final PathMss paths;

    private PathFollower(PathMss paths) {
        this.paths = paths;
    }

    static PathFollower start(MssLog log) throws ErrnoException {
        return new PathFollower(PathMss.start(log::info, log::warning));
    }

    @Override
    public MaxMss forPacket(MemorySegment packet, long offset, int length, int inInterface, int outInterface) {
        return paths.maxMss(packet, offset, length, inInterface, outInterface);
    }

    @Override
    public void onRoutes(Consumer<RouteTable> listener) {
        paths.onTable(listener);
    }

    @Override
    public MaxMss uniform() {
        return null;
    }

    /** SIGHUP: the routes are dumped again; the mirror logs the re-read once it is done. */
    @Override
    public void reread() {
        paths.reread();
    }

    @Override
    public String describe() {
        return "Maximum MSS: per path MTU (--pmtu)";
    }

    @Override
    public void close() {
        paths.close();
    }
}
