package net.tcpmssd.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import net.tcpmssd.os.ErrnoException;

/**
 * Asks the kernel which way a packet to an address would go, as `ip route get` does
 * (RTM_GETROUTE), and how large it may be: the route's own MTU metric (`ip route ... mtu N`, or a
 * path MTU the router learnt) if it has one, else the MTU of the interface it leaves by.
 *
 * <p>One instance per queue thread, used by that thread alone: it owns its socket and buffers, and caches answers per
 * address until {@link #forget()} (any route or link change) or for a few seconds, since learnt
 * path MTUs expire without telling anyone.
 */
public final class Routes implements AutoCloseable {

    static final int RTM_NEWROUTE = 24;
    static final int RTM_GETROUTE = 26;
    private static final int RTMSG = 12;      // struct rtmsg
    private static final int RTA_DST = 1;
    private static final int RTA_OIF = 4;
    private static final int RTA_METRICS = 8;
    private static final int RTAX_MTU = 2;
    private static final long ENTRY_LIFETIME_NANOS = 10_000_000_000L;

    private record Entry(int mtu, long until) {}

    private final NetlinkSocket socket;
    // Shared, not confined: made on the main thread, then used by one queue thread alone.
    private final Arena arena = Arena.ofShared();
    private final Requests requests;
    private final Attributes attributes = new Attributes();
    private final Attributes metrics = new Attributes();
    private int outInterface;
    private int routeMtu;
    private final Map<String, Entry> routes = new HashMap<>();
    private final Map<Integer, Integer> linkMtus = new HashMap<>();

    public Routes() throws ErrnoException {
        socket = NetlinkSocket.open(NetlinkSocket.NETLINK_ROUTE);
        requests = new Requests(socket, arena.allocate(256, 8), arena.allocate(16384, 8));
    }

    /** Drops every cached answer: a route or a link changed. */
    public void forget() {
        routes.clear();
        linkMtus.clear();
    }

    /**
     * The MTU toward the 4- or 16-byte address at {@code packet[at]}; -1 if there is no route.
     */
    public int mtuToward(MemorySegment packet, long at, int addressLength) throws ErrnoException {
        byte[] address = packet.asSlice(at, addressLength).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        String key = java.util.HexFormat.of().formatHex(address);
        long now = System.nanoTime();
        Entry cached = routes.get(key);
        if (cached != null && now - cached.until() < 0) {
            return cached.mtu();
        }
        int mtu = lookUp(address);
        routes.put(key, new Entry(mtu, now + ENTRY_LIFETIME_NANOS));
        return mtu;
    }

    private int lookUp(byte[] address) throws ErrnoException {
        Netlink.Writer request = requests.begin(RTM_GETROUTE, 0);
        request.u8(address.length == 4 ? 2 : 10).u8(address.length * 8).u8(0).u8(0); // family, dst_len, src_len, tos
        request.u32(0).u32(0);                                                      // table .. type, flags
        request.beginAttribute(RTA_DST).bytes(MemorySegment.ofArray(address), 0, address.length).endAttribute();
        outInterface = 0;
        routeMtu = 0;
        if (requests.exchange("route lookup", this::readRoute, Requests.Others.IGNORE) != 0) {
            return -1; // no route (ENETUNREACH comes as an error message): nothing to clamp for
        }
        return routeMtu > 0 ? routeMtu : linkMtu(outInterface);
    }

    /** Reads the RTM_NEWROUTE that answers a lookup: its interface, and its MTU metric if it has one. */
    private void readRoute(Messages message) {
        if (message.type() != RTM_NEWROUTE) {
            return;
        }
        message.attributes(attributes, RTMSG);
        while (attributes.next()) {
            if (attributes.type() == RTA_OIF) {
                outInterface = attributes.u32(0);
            } else if (attributes.type() == RTA_METRICS) {
                Attributes metric = attributes.nested(metrics);
                while (metric.next()) {
                    if (metric.type() == RTAX_MTU) {
                        routeMtu = metric.u32(0);
                    }
                }
            }
        }
    }

    private int linkMtu(int index) throws ErrnoException {
        if (index <= 0) {
            return -1;
        }
        Integer known = linkMtus.get(index);
        if (known != null) {
            return known;
        }
        int mtu = Links.byIndex(index).map(Link::mtu).orElse(-1);
        linkMtus.put(index, mtu);
        return mtu;
    }

    @Override
    public void close() {
        socket.close();
        arena.close();
    }
}
