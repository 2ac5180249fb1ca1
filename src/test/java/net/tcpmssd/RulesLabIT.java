package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.tcpmssd.lab.Lab.Family;
import net.tcpmssd.lab.Lab;
import net.tcpmssd.lab.LabExtension;
import net.tcpmssd.lab.Tcpmssd;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * --print-rules (issue 6) end to end: the rules tcpmssd prints, executed as printed in the lab's
 * router, queue the SYNs to the real daemon, which clamps them:
 * client ── router (tcpmssd) ══ 1280 ══ wan ── server.
 */
class RulesLabIT {

    @RegisterExtension
    static final LabExtension LAB = new LabExtension();

    private Lab lab;

    @BeforeEach
    void takeLab() {
        lab = LAB.lab();
    }


    private static int clampedMss(Family f) {
        return f == Family.IPV4 ? 1240 : 1220; // 1280 minus 40 or 60
    }

    /** Runs tcpmssd --print-rules in the router, then every iptables and ip6tables line it printed, as printed. */
    private List<String> applyPrintedRules(String... options) {
        String[] args = new String[options.length + 1];
        args[0] = "--print-rules";
        System.arraycopy(options, 0, args, 1, options.length);
        Lab.Result printed = Tcpmssd.run(lab, args);
        assertThat(printed.status()).as("exit status of --print-rules; stderr: %s", printed.stderr()).isZero();
        assertThat(printed.stderr()).isEmpty();
        List<String> rules = printed.stdout().lines()
                .filter(line -> line.startsWith("iptables ") || line.startsWith("ip6tables "))
                .toList();
        assertThat(rules).isNotEmpty();
        for (String rule : rules) {
            lab.sh(ROUTER, rule);
        }
        return rules;
    }

    /** Packets the rule of {@code chain} matched, from {@code iptables -S -v} ("... -c PACKETS BYTES ..."). */
    private long packetsMatched(Family f, String chain) {
        String listing = lab.sh(ROUTER, f.iptables + " -t mangle -S " + chain + " -v");
        Matcher m = Pattern.compile("(?m)^-A " + chain + " .* -c (\\d+) \\d+ -j NFQUEUE").matcher(listing);
        assertThat(m.find()).as("an NFQUEUE rule in %s:\n%s", chain, listing).isTrue();
        return Long.parseLong(m.group(1));
    }

    /** A shell command: one line through the server's echo service, on one CPU if {@code cpu} is given. */
    private static String echoHello(Family f, Integer cpu) {
        return "echo hello | timeout 10 " + (cpu == null ? "" : "taskset -c " + cpu + " ") + "socat -t 2 - "
                + (f == Family.IPV4 ? "TCP4:" : "TCP6:") + f.server + ":5001";
    }

    @Test
    void thePrintedRulesQueueTheSynsOfBothFamiliesToTheDaemon() {
        List<String> rules = applyPrintedRules("-p", "100", "-i", "wan0");
        assertThat(rules).hasSize(4).allSatisfy(rule -> assertThat(rule).contains(" -o wan0 "));

        // --queue-bypass: with the rules in place and no daemon bound, connections still work, unclamped.
        // (A short exchange: an unclamped bulk transfer would also test the lab's path MTU discovery.)
        for (Family f : Family.values()) {
            lab.flushRouteCaches();
            int mss = lab.capturedMss(SERVER, "eth0", f, false,
                    () -> assertThat(lab.sh(CLIENT, echoHello(f, null))).isEqualTo("hello\n"));
            assertThat(mss).as("%s SYN without a daemon", f).isEqualTo(f == Family.IPV4 ? 1460 : 1440);
        }

        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-i", "wan0")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(daemon.log()).contains("MSS: 1460 -> 1240").contains("MSS: 1440 -> 1220");

            // The OUTPUT rule queues the router's own connections across the small link (Linux already
            // announces 1240/1220 on them, so nothing changes; they pass through the daemon and work).
            for (Family f : Family.values()) {
                long before = packetsMatched(f, "OUTPUT");
                assertThat(lab.sh(ROUTER, echoHello(f, null))).isEqualTo("hello\n");
                assertThat(packetsMatched(f, "OUTPUT")).as("%s SYNs the router's OUTPUT rule queued", f).isGreaterThan(before);
            }
        }
    }

    @Test
    void thePrintedRulesForAQueueRangeFeedEveryQueueOfTheDaemon() {
        List<String> rules = applyPrintedRules("-p", "100-101", "-i", "wan0");
        assertThat(rules).allSatisfy(rule -> assertThat(rule).contains("--queue-balance 100:101").contains("--queue-cpu-fanout"));

        try (Tcpmssd daemon = Tcpmssd.start(lab, 101, "-v", "-p", "100-101", "-i", "wan0")) {
            assertThat(Tcpmssd.queueBound(lab, 100)).isTrue();
            // Fanout picks the queue by CPU: connections from a client pinned to each CPU in turn
            // are handled on that CPU in the router too (veth), and so reach each queue.
            for (int cpu = 0; cpu < 2; cpu++) {
                for (Family f : Family.values()) {
                    String connect = echoHello(f, cpu);
                    lab.flushRouteCaches(); // a path MTU the client learnt would lower its MSS before us
                    int mss = lab.capturedMss(SERVER, "eth0", f, false,
                            () -> assertThat(lab.sh(CLIENT, connect)).isEqualTo("hello\n"));
                    assertThat(mss).as("%s SYN from CPU %d", f, cpu).isEqualTo(clampedMss(f));
                }
            }
            // queue_num portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
            String table = lab.sh(ROUTER, "cat /proc/net/netfilter/nfnetlink_queue");
            assertThat(table.lines().map(line -> line.trim().split("\\s+")[0]).toList()).containsExactlyInAnyOrder("100", "101");
            table.lines().forEach(line -> {
                String[] fields = line.trim().split("\\s+");
                assertThat(Long.parseLong(fields[7])).as("packets handed to queue %s", fields[0]).isPositive();
            });
            assertThat(daemon.log()).contains("MSS: 1460 -> 1240").contains("MSS: 1440 -> 1220");
        }
    }
}
