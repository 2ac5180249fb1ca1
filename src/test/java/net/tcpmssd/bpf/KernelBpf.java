package net.tcpmssd.bpf;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import net.tcpmssd.os.ErrnoException;

/**
 * Whether this machine lets the tests use bpf(2): root (CAP_BPF, CAP_NET_ADMIN) and a kernel
 * with BPF_PROG_TEST_RUN. Where it does not, the kernel tests are skipped with the reason, except
 * on CI (CI=true), where a skip would hide that the data plane went untested: there they fail.
 */
public final class KernelBpf {

    private static final String UNUSABLE = unusable();

    private KernelBpf() {}

    public static void assumeUsable() {
        if (UNUSABLE != null) {
            cannotRun("the kernel's BPF cannot be used here: " + UNUSABLE);
        }
    }

    /** A kernel test that cannot run here, for {@code reason}: skipped, but on CI (CI=true) failed. */
    public static void cannotRun(String reason) {
        if ("true".equals(System.getenv("CI"))) {
            fail("CI=true but " + reason);
        }
        assumeTrue(false, "skipped, " + reason);
    }

    private static String unusable() {
        try (BpfMap probe = BpfMap.create(MapType.ARRAY, "tcpmssd_probe", 4, 4, 1)) {
            return null;
        } catch (ErrnoException e) {
            return e.getMessage() + " (needs root or CAP_BPF)";
        } catch (RuntimeException | LinkageError e) {
            return e.toString();
        }
    }
}
