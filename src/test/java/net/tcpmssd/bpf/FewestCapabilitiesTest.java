package net.tcpmssd.bpf;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * BEHAVIOUR §7's privilege claim: the program reaches the packet only through helpers, so the
 * verifier accepts it without CAP_PERFMON (its Spectre rules apply then) and without
 * CAP_SYS_ADMIN. A JVM started by setpriv(1) with only CAP_BPF and CAP_NET_ADMIN loads every
 * variant; with CAP_BPF alone the kernel refuses (a SCHED_CLS program needs CAP_NET_ADMIN).
 * Without setpriv the test cannot run: skipped, but on CI (CI=true) failed, as a kernel test is.
 */
class FewestCapabilitiesTest {

    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    @Test
    void everyVariantLoadsWithCapBpfAndCapNetAdminOnly() throws Exception {
        KernelBpf.assumeUsable();
        if (!Files.isExecutable(SETPRIV)) {
            KernelBpf.cannotRun("there is no " + SETPRIV + " (util-linux) to drop capabilities with");
        }
        assertThat(loadWith("-all,+bpf,+net_admin")).contains("loaded 12 of 12");
        assertThat(loadWith("-all,+bpf")).contains("Operation not permitted");
    }

    private static String loadWith(String boundingSet) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(SETPRIV.toString(), "--inh-caps=-all", "--bounding-set=" + boundingSet, "--",
                java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                LoadEveryVariant.class.getName())).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        return output;
    }

    /**
     * Run by the test in a JVM of fewer capabilities: loads the twelve variants (with --pmtu its
     * maps too, a table written into them), says how many loaded.
     */
    public static final class LoadEveryVariant {
        public static void main(String[] args) {
            int loaded = 0;
            try (ClampMaps maps = ClampMaps.create(); PathMtuMaps paths = PathMtuMaps.create()) {
                PathMtuMaps.Table table = paths.begin();
                table.link(1, 1500);
                table.route(4, 0, 0, 0, 1500, 0, new int[0]);
                paths.publish(table);
                for (LinkType link : LinkType.values()) {
                    for (boolean addMss : new boolean[] {false, true}) {
                        for (int pmtu = 0; pmtu < 3; pmtu++) { // none, egress, ingress
                            try (BpfProgram program = ClampProgram.load(link, maps, addMss, pmtu == 0 ? null : paths, pmtu == 2)) {
                                loaded++;
                            }
                        }
                    }
                }
            } catch (Exception e) {
                System.out.println(e.getMessage());
            }
            System.out.println("loaded " + loaded + " of 12");
        }
    }
}
