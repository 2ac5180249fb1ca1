package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import net.tcpmssd.cli.Options;
import net.tcpmssd.os.Libc;
import org.junit.jupiter.api.Test;

/** Which capabilities each data path keeps (PrivilegesLabIT checks the drop against the kernel). */
class PrivilegesTest {

    private static long needed(String... args) throws Exception {
        return Privileges.needed(Options.parse(args));
    }

    @Test
    void theQueueKeepsNetAdminAlone() throws Exception {
        assertThat(needed("-p", "100", "-i", "ppp0")).isEqualTo(1L << Libc.CAP_NET_ADMIN);
        assertThat(needed("-bv", "-p", "100-103", "--pmtu", "--metrics", "9815")).isEqualTo(1L << Libc.CAP_NET_ADMIN);
    }

    @Test
    void attachKeepsBpfNetAdminAndSysAdminForOpeningProgramsById() throws Exception {
        assertThat(needed("--attach", "wan0", "-m", "1280"))
                .isEqualTo(1L << Libc.CAP_BPF | 1L << Libc.CAP_NET_ADMIN | 1L << Libc.CAP_SYS_ADMIN);
    }

    @Test
    void aMetricsPortBelow1024KeepsNetBindService() throws Exception {
        assertThat(needed("-p", "1", "-m", "1400", "--metrics", "127.0.0.1:1023") & 1L << Libc.CAP_NET_BIND_SERVICE).isNotZero();
        assertThat(needed("-p", "1", "-m", "1400", "--metrics", "127.0.0.1:1024") & 1L << Libc.CAP_NET_BIND_SERVICE).isZero();
    }
}
