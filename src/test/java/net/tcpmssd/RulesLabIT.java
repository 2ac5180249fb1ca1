package net.tcpmssd;

import static net.tcpmssd.lab.Lab.CLIENT;
import static net.tcpmssd.lab.Lab.ROUTER;
import static net.tcpmssd.lab.Lab.SERVER;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * --print-rules, --add-rules, --delete-rules (issues 6, 13) end to end: the rules tcpmssd prints,
 * run as printed in the lab's router, or applied by tcpmssd itself, queue the SYNs to the real
 * daemon, which clamps them (client ── router (tcpmssd) ══ 1280 ══ wan ── server); applied twice
 * they are there once; removed (twice) they leave table mangle as it was.
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

    /** Runs tcpmssd with these arguments in the router; it must succeed silently. Returns its stdout. */
    private String tcpmssd(String... args) {
        Lab.Result result = Tcpmssd.run(lab, args);
        assertThat(result.status()).as("exit status of tcpmssd %s; stderr: %s", String.join(" ", args), result.stderr()).isZero();
        assertThat(result.stderr()).isEmpty();
        return result.stdout();
    }

    /** Runs what tcpmssd --print-rules prints for these options with sh in the router, as an operator would pipe it. */
    private String runPrintedScript(String... options) {
        String script = tcpmssd(prepend("--print-rules", options));
        assertThat(script).startsWith("#!/bin/sh\n");
        Path file = lab.scratch().resolve("rules-" + System.nanoTime() + ".sh");
        try {
            Files.writeString(file, script);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        lab.host(ROUTER, "sh", file.toString()).orFail();
        return script;
    }

    private static String[] prepend(String first, String... rest) {
        String[] args = new String[rest.length + 1];
        args[0] = first;
        System.arraycopy(rest, 0, args, 1, rest.length);
        return args;
    }

    /** Table mangle of both IP versions as iptables-save writes it, without its dated comments and the chains' counters. */
    private String mangle() {
        return lab.sh(ROUTER, "for v in iptables ip6tables; do $v-save -t mangle | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done");
    }

    /** How many lines of {@code text} equal {@code line}. */
    private static long copies(String text, String line) {
        return text.lines().filter(line::equals).count();
    }

    /** The rules queue 100 needs for -i wan0 without -b, as iptables-save lists them, each once per IP version. */
    private static void assertQueueRulesForWan(String mangle, String target) {
        for (String line : List.of(
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-FORWARD",
                "-A OUTPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-OUTPUT",
                "-A tcpmssd-100-FORWARD -o wan0 -p tcp -m tcp --tcp-flags SYN,RST SYN " + target,
                "-A tcpmssd-100-OUTPUT -o wan0 -p tcp -m tcp --tcp-flags SYN,RST SYN " + target,
                ":tcpmssd-100-FORWARD -",
                ":tcpmssd-100-OUTPUT -")) {
            assertThat(copies(mangle, line)).as("copies of %s in\n%s", line, mangle).isEqualTo(2);
        }
        assertThat(mangle).doesNotContain("PREROUTING -").doesNotContain("tcpmssd-100-PREROUTING");
        assertThat(mangle.lines().filter(l -> l.startsWith("-A ")).count()).as("rules in\n%s", mangle).isEqualTo(8);
    }

    /** Packets the rule of {@code chain} matched, from {@code iptables -S -v} ("... -c PACKETS BYTES ..."). */
    private long packetsMatched(Family f, String chain) {
        String listing = lab.sh(ROUTER, f.iptables + " -w 10 -t mangle -S " + chain + " -v");
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
    void thePrintedScriptRunTwiceQueuesTheSynsOfBothFamiliesToTheDaemon() {
        runPrintedScript("-p", "100", "-i", "wan0");
        String once = mangle();
        runPrintedScript("-p", "100", "-i", "wan0");
        assertThat(mangle()).as("the script run a second time").isEqualTo(once);
        assertQueueRulesForWan(once, "-j NFQUEUE --queue-num 100 --queue-bypass");

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
                long before = packetsMatched(f, "tcpmssd-100-OUTPUT");
                assertThat(lab.sh(ROUTER, echoHello(f, null))).isEqualTo("hello\n");
                assertThat(packetsMatched(f, "tcpmssd-100-OUTPUT")).as("%s SYNs the router's OUTPUT rule queued", f).isGreaterThan(before);
            }
        }
    }

    @Test
    void thePrintedRulesForAQueueRangeFeedEveryQueueOfTheDaemon() {
        tcpmssd("--add-rules", "-p", "100-101", "-i", "wan0");
        assertThat(copies(mangle(), "-A tcpmssd-100-FORWARD -o wan0 -p tcp -m tcp --tcp-flags SYN,RST SYN"
                + " -j NFQUEUE --queue-balance 100:101 --queue-bypass --queue-cpu-fanout")).isEqualTo(2);

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

    @Test
    void addRulesTwiceClampsBothFamiliesAndDeleteRulesTwiceLeavesMangleAsItWas() {
        lab.bothFamilies(ROUTER, "-w 10 -t mangle -A FORWARD -p udp -j ACCEPT"); // someone else's rule: left alone
        String before = mangle();
        // The unit's ExecStartPost gives every option of the run; the one-shot ignores those it does not need.
        String[] options = {"-p", "100", "-i", "wan0", "--foreground", "--pidfile", "/nonexistent/x.pid", "--wait-for-interface"};
        assertThat(tcpmssd(prepend("--add-rules", options))).isEmpty();
        String once = mangle();
        tcpmssd(prepend("--add-rules", options));
        assertThat(mangle()).as("added a second time").isEqualTo(once);
        assertQueueRulesForWan(once.replace("-A FORWARD -p udp -j ACCEPT\n", ""), "-j NFQUEUE --queue-num 100 --queue-bypass");
        assertThat(copies(once, "-A FORWARD -p udp -j ACCEPT")).isEqualTo(2);

        try (Tcpmssd daemon = Tcpmssd.start(lab, 100, "-v", "-p", "100", "-i", "wan0")) {
            assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            assertThat(lab.mssAtServer(Family.IPV6)).isEqualTo(1220);
            assertThat(daemon.log()).contains("MSS: 1460 -> 1240").contains("MSS: 1440 -> 1220");
        }

        // -b added: PREROUTING joins; -b dropped again: it goes, the rest stays as it was.
        tcpmssd("--add-rules", "-b", "-p", "100", "-i", "wan0");
        assertThat(copies(mangle(), "-A PREROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-PREROUTING")).isEqualTo(2);
        tcpmssd(prepend("--add-rules", options));
        assertThat(mangle()).isEqualTo(once);

        tcpmssd(prepend("--delete-rules", options));
        assertThat(mangle()).as("mangle after --delete-rules").isEqualTo(before);
        tcpmssd(prepend("--delete-rules", options));
        assertThat(mangle()).as("mangle after a second --delete-rules").isEqualTo(before);
        // The removal printed for sh does the same, also when there is nothing to remove.
        tcpmssd("--add-rules", "-b", "-p", "100", "-m", "1400");
        String script = tcpmssd("--print-rules=delete", "-p", "100", "-m", "1400");
        for (int i = 0; i < 2; i++) {
            lab.host(ROUTER, "sh", "-c", script).orFail();
            assertThat(mangle()).isEqualTo(before);
        }
    }

    /** A unit for ppp0 adds its rules before PPPoE has made ppp0: the rules match it by name once it exists. */
    @Test
    void theInterfaceNeedNotExist() {
        String before = mangle();
        tcpmssd("--add-rules", "-b", "-p", "7", "-i", "ppp9");
        String added = mangle();
        assertThat(copies(added, "-A tcpmssd-7-PREROUTING -i ppp9 -p tcp -m tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 7 --queue-bypass"))
                .isEqualTo(2);
        tcpmssd("--delete-rules", "-b", "-p", "7", "-i", "ppp9");
        assertThat(mangle()).isEqualTo(before);
    }

    /**
     * The unit's options file edited between a start and the stop (systemd reads it afresh for
     * ExecStopPost): the rules removed are the ones in place, those of the options they were
     * added with, not those the options now describe; and a start with new options replaces the
     * old rules instead of leaving their jump first in mangle, queueing every SYN to a queue
     * nobody reads (which --queue-bypass lets through unclamped).
     */
    @Test
    void rulesAddedWithOtherOptionsAreTheOnesRemovedOrReplaced() {
        String before = mangle();
        tcpmssd("--add-rules", "-p", "100", "-i", "wan0");
        tcpmssd("--delete-rules", "-p", "200", "-i", "wan0");
        assertThat(mangle()).as("mangle after deleting with another queue").isEqualTo(before);

        tcpmssd("--add-rules", "-p", "100", "-i", "wan0");
        tcpmssd("--add-rules", "-b", "-p", "200", "-i", "wan0");
        String replaced = mangle();
        assertThat(replaced).doesNotContain("tcpmssd-100");
        assertThat(copies(replaced, "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j tcpmssd-200-FORWARD")).isEqualTo(2);
        tcpmssd("--add-rules", "--attach", "wan0", "-i", "wan0");
        assertThat(mangle()).as("mangle after switching to --attach").isEqualTo(before);
        tcpmssd("--delete-rules", "--attach", "wan0", "-i", "wan0");
        assertThat(mangle()).isEqualTo(before);

        // wan0's options edited onto the queue lan0's daemon uses: the stop removes wan0's rules
        // as recorded, and lan0's stay.
        tcpmssd("--add-rules", "-p", "200", "-i", "lan0");
        String lan0 = mangle();
        tcpmssd("--add-rules", "-p", "100", "-i", "wan0");
        tcpmssd("--delete-rules", "-p", "200", "-i", "wan0");
        assertThat(mangle()).as("lan0's rules after wan0's stop").isEqualTo(lan0);
        tcpmssd("--delete-rules", "-p", "200", "-i", "lan0");
        assertThat(mangle()).isEqualTo(before);
    }

    @Test
    void attachNeedsNoRulesSoAddAndDeleteDoNothing() {
        String before = mangle();
        String nftBefore = lab.sh(ROUTER, "nft list ruleset");
        assertThat(tcpmssd("--add-rules", "--attach", "wan0", "-i", "wan0")).isEmpty();
        assertThat(tcpmssd("--delete-rules", "--attach", "wan0", "-i", "wan0", "--firewall", "nftables")).isEmpty();
        assertThat(mangle()).isEqualTo(before);
        assertThat(lab.sh(ROUTER, "nft list ruleset")).isEqualTo(nftBefore);
    }

    /**
     * The nftables file: nft parses it into the expected queue expressions wherever it runs
     * (--debug=netlink prints them before the kernel is asked). A kernel with nft_queue loads it
     * twice as one table, clamping; one without it (this machine's) refuses the queue statement,
     * which --add-rules reports in one line, so there the rest of the text (tables, hooks, matches)
     * is loaded twice with a counter in the queue statement's place.
     */
    @Test
    void theNftablesFileIsOneTableLoadedTwiceAsOnce() throws IOException {
        String[] options = {"--firewall", "nftables", "-b", "-p", "100-101", "-i", "wan0"};
        String file = tcpmssd(prepend("--print-rules", options));
        Path ruleset = lab.scratch().resolve("rules.nft");
        Files.writeString(ruleset, file);
        Lab.Result parsed = lab.host(ROUTER, "nft", "--debug=netlink", "--check", "-f", ruleset.toString());
        String bytecode = parsed.stdout() + parsed.stderr();
        assertThat(bytecode.lines().filter(l -> l.equals("  [ queue num 100-101 bypass fanout ]")).count())
                .as("queue expressions nft made of\n%s", bytecode).isEqualTo(3);
        assertThat(bytecode).contains("inet tcpmssd-100 forward").contains("inet tcpmssd-100 output").contains("inet tcpmssd-100 prerouting");

        String nftBefore = lab.sh(ROUTER, "nft list ruleset");
        boolean kernelQueues = lab.host(ROUTER, "sh", "-c",
                "printf 'table inet tcpmssd-probe { chain c { queue num 1 bypass; }; }\\n' | nft --check -f -").status() == 0;
        String table;
        if (kernelQueues) {
            tcpmssd(prepend("--add-rules", options));
            table = lab.sh(ROUTER, "nft list table inet tcpmssd-100");
            tcpmssd(prepend("--add-rules", options));
            try (Tcpmssd daemon = Tcpmssd.start(lab, 101, "-v", "-p", "100-101", "-i", "wan0")) {
                assertThat(lab.mssAtServer(Family.IPV4)).isEqualTo(1240);
            }
        } else {
            Lab.Result refused = Tcpmssd.run(lab, prepend("--add-rules", options));
            assertThat(refused.status()).isEqualTo(1);
            assertThat(refused.stderr()).matches("tcpmssd: nft -f -: \\S+: Error: Could not process rule: No such file or directory\n");
            Path counted = lab.scratch().resolve("counted.nft");
            Files.writeString(counted, file.replace("queue num 100-101 fanout,bypass", "counter"));
            lab.host(ROUTER, "nft", "-f", counted.toString()).orFail();
            table = lab.sh(ROUTER, "nft list table inet tcpmssd-100");
            lab.host(ROUTER, "nft", "-f", counted.toString()).orFail();
        }
        assertThat(lab.sh(ROUTER, "nft list table inet tcpmssd-100")).as("loaded a second time").isEqualTo(table);
        // nft 1.0.6 lists "tcp flags & (syn | rst) == syn" as "tcp flags syn / syn,rst".
        assertThat(table.lines().filter(l -> l.contains("wan0\" tcp flags syn / syn,rst ")).count()).as(table).isEqualTo(3);

        for (int i = 0; i < 2; i++) {
            tcpmssd(prepend("--delete-rules", options));
            assertThat(lab.sh(ROUTER, "nft list ruleset")).as("ruleset after --delete-rules").isEqualTo(nftBefore);
        }
    }
}
