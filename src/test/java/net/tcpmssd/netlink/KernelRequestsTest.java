package net.tcpmssd.netlink;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import net.tcpmssd.os.ErrnoException;
import org.junit.jupiter.api.Test;

/**
 * The request path against the running kernel, with no root: rtnetlink answers RTM_GETLINK and
 * RTM_GETROUTE to anyone. Loopback is in every network namespace, so the answers are known from
 * sysfs. The sender is read from recvfrom's address: a wrong read would drop every reply.
 */
class KernelRequestsTest {

    private static int loopbackMtu() throws IOException {
        return Integer.parseInt(Files.readString(Path.of("/sys/class/net/lo/mtu")).trim());
    }

    @Test
    void theKernelAnswersForTheLoopback() throws ErrnoException, IOException {
        assertThat(Links.byName("lo")).contains(new Link(1, "lo", loopbackMtu()));
        assertThat(Links.byIndex(1)).contains(new Link(1, "lo", loopbackMtu()));
    }

    @Test
    void anInterfaceThatIsNotThereIsEmpty() throws ErrnoException {
        assertThat(Links.byName("nosuch0")).isEmpty();
    }

    @Test
    void theRouteMirrorsDumpsThroughRequestsSeeTheLoopback() throws ErrnoException, IOException {
        RouteMirror.Listener quiet = new RouteMirror.Listener() {
            @Override
            public void read(RouteTable table, ErrnoException failure, boolean asked, long reads) {}

            @Override
            public void failed(ErrnoException error) {}
        };
        try (RouteMirror mirror = RouteMirror.start(quiet)) {
            assertThat(mirror.current().linkMtu(1)).as("lo, from the link dump").isEqualTo(loopbackMtu());
            long localRoute = (long) ((127 << 24) | 1) << 32;
            assertThat(mirror.current().find(4, localRoute, 0)).as("127.0.0.1, from the route dump").isNotEqualTo(RouteTable.NO_ROUTE);
        }
    }
}
