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
    void aRouteToTheLoopbackHasItsMtu() throws ErrnoException, IOException {
        try (Routes routes = new Routes()) {
            MemorySegment address = MemorySegment.ofArray(new byte[] {127, 0, 0, 1});
            assertThat(routes.mtuToward(address, 0, 4)).isEqualTo(loopbackMtu());
            routes.forget();
            assertThat(routes.mtuToward(address, 0, 4)).as("asked again, a new sequence number").isEqualTo(loopbackMtu());
        }
    }
}
