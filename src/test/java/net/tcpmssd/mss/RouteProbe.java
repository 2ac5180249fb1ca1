package net.tcpmssd.mss;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import net.tcpmssd.netlink.RouteMirror;
import net.tcpmssd.netlink.RouteTable;
import net.tcpmssd.os.ErrnoException;

/**
 * For {@code RouteMirrorLabIT}, run in a lab namespace: reads the routes as the daemon does and
 * prints, for each address given, the MTU --pmtu takes for the way toward it ("none" for no
 * limit), one line each: {@code ADDRESS MTU}.
 */
public final class RouteProbe {

    public static void main(String[] args) throws Exception {
        try (RouteMirror mirror = RouteMirror.start(new RouteMirror.Listener() {
            @Override
            public void read(RouteTable table, ErrnoException failure, boolean asked, long reads) {}

            @Override
            public void failed(ErrnoException error) {}
        })) {
            RouteTable table = mirror.current();
            StringBuilder out = new StringBuilder();
            for (String address : args) {
                byte[] b = InetAddress.getByName(address).getAddress();
                ByteBuffer buffer = ByteBuffer.wrap(b);
                int version = b.length == 4 ? 4 : 6;
                long high = version == 4 ? (long) buffer.getInt() << 32 : buffer.getLong();
                long low = version == 4 ? 0 : buffer.getLong();
                int mtu = PathMss.back(table, version, high, low, 0);
                out.append(address).append(' ').append(mtu == PathMss.NO_LIMIT ? "none" : Integer.toString(mtu)).append('\n');
            }
            System.out.print(out);
        }
    }
}
