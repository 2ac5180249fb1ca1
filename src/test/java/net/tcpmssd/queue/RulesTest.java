package net.tcpmssd.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.tcpmssd.cli.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** --print-rules (issues 6, 13): the exact text, the plan --add-rules runs, and what every variant must hold. Pure: no kernel. */
class RulesTest {

    private static String print(String... args) throws Exception {
        return Rules.print(Options.parse(args));
    }

    @Test
    void attachNeedsNoRuleAndSaysSoInOneCommentLine() throws Exception {
        assertThat(print("--print-rules", "--attach", "wan0,ppp0", "-i", "ppp0")).isEqualTo(
                "# tcpmssd --attach wan0,ppp0 clamps in the kernel with its own BPF program: no firewall rule is needed\n");
    }

    @Test
    void attachNeedsNoRuleInAnyFormatOrDirection() throws Exception {
        String line = "# tcpmssd --attach wan0 clamps in the kernel with its own BPF program: no firewall rule is needed\n";
        assertThat(print("--print-rules=delete", "--attach", "wan0", "-m", "1400")).isEqualTo(line);
        assertThat(print("--print-rules", "--firewall", "nftables", "--attach", "wan0", "-m", "1400")).isEqualTo(line);
        assertThat(Rules.plan(Options.parse("--add-rules", "--attach", "wan0", "-m", "1400"), Rules.Change.ADD).steps()).isEmpty();
        assertThat(Rules.plan(Options.parse("--delete-rules", "--attach", "wan0", "-m", "1400"), Rules.Change.DELETE).steps()).isEmpty();
    }

    @Test
    void iptablesInterfaceOneQueue() throws Exception {
        String v4 = """
                while iptables -w 10 -t mangle -C PREROUTING -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-PREROUTING 2>/dev/null; do iptables -w 10 -t mangle -D PREROUTING -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-PREROUTING; done
                iptables-restore -w 10 --noflush <<'RULES'
                *mangle
                :tcpmssd-100-FORWARD - [0:0]
                :tcpmssd-100-OUTPUT - [0:0]
                :tcpmssd-100-PREROUTING - [0:0]
                -X tcpmssd-100-PREROUTING
                -A tcpmssd-100-FORWARD -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass
                -A tcpmssd-100-OUTPUT -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass
                COMMIT
                RULES
                iptables -w 10 -t mangle -C FORWARD -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-FORWARD 2>/dev/null || iptables -w 10 -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-FORWARD
                iptables -w 10 -t mangle -C OUTPUT -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-OUTPUT 2>/dev/null || iptables -w 10 -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-OUTPUT
                """;
        assertThat(print("--print-rules", "-p", "100", "-i", "ppp0")).isEqualTo("""
                #!/bin/sh
                # Netfilter rules that queue TCP SYNs to tcpmssd -p 100 -i ppp0 (NFQUEUE queue 100)
                # They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)
                #   lets them pass unclamped while no tcpmssd is bound to the queue.
                # Outgoing: SYNs leaving by ppp0, forwarded (FORWARD) and the router's own (OUTPUT).
                # Not queued: SYNs arriving by ppp0; without -b tcpmssd leaves incoming packets alone.
                # For sh, for IPv4 and IPv6: the rules live in chains of their own in table mangle (tcpmssd-100-FORWARD,
                #   ...), refilled in one transaction, each entered by one jump added only if it is missing,
                #   so running this again gives the same rules, not a second copy. Use these or the nftables
                #   rules (--firewall nftables), not both: each SYN would be queued twice.
                # tcpmssd --add-rules with the same options applies this; --delete-rules (or
                #   --print-rules=delete) removes it.
                set -e
                """ + v4 + v4.replace("iptables", "ip6tables"));
    }

    @Test
    void iptablesRemovalTakesEveryChainOfTheQueueWhateverTheOptions() throws Exception {
        String v4 = """
                while iptables -w 10 -t mangle -C FORWARD -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-FORWARD 2>/dev/null; do iptables -w 10 -t mangle -D FORWARD -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-FORWARD; done
                while iptables -w 10 -t mangle -C OUTPUT -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-OUTPUT 2>/dev/null; do iptables -w 10 -t mangle -D OUTPUT -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-OUTPUT; done
                while iptables -w 10 -t mangle -C PREROUTING -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-PREROUTING 2>/dev/null; do iptables -w 10 -t mangle -D PREROUTING -p tcp --tcp-flags SYN,RST SYN -j tcpmssd-100-PREROUTING; done
                iptables-restore -w 10 --noflush <<'RULES'
                *mangle
                :tcpmssd-100-FORWARD - [0:0]
                -X tcpmssd-100-FORWARD
                :tcpmssd-100-OUTPUT - [0:0]
                -X tcpmssd-100-OUTPUT
                :tcpmssd-100-PREROUTING - [0:0]
                -X tcpmssd-100-PREROUTING
                COMMIT
                RULES
                """;
        String expected = """
                #!/bin/sh
                # Removes the iptables and ip6tables rules of tcpmssd -p 100, for sh: the jumps to the chains
                #   tcpmssd-100-* in table mangle, then the chains; nothing where they are absent.
                set -e
                """ + v4 + v4.replace("iptables", "ip6tables");
        assertThat(print("--print-rules=delete", "-p", "100", "-i", "ppp0")).isEqualTo(expected);
        assertThat(print("--print-rules=delete", "-bp", "100-103", "--pmtu")).isEqualTo(expected.replace("-p 100,", "-p 100-103,"));
        assertThat(Rules.plan(Options.parse("--delete-rules", "-p", "100", "-i", "ppp0"), Rules.Change.DELETE))
                .isEqualTo(Rules.plan(Options.parse("--print-rules=delete", "-p", "100", "-i", "ppp0"), Rules.Change.DELETE));
    }

    @Test
    void nftablesBothDirectionsAndAQueueRange() throws Exception {
        assertThat(print("--print-rules", "--firewall", "nftables", "-bp", "100-103", "-i", "wan0")).isEqualTo("""
                #!/usr/sbin/nft -f
                # Netfilter rules that queue TCP SYNs to tcpmssd -b -p 100-103 -i wan0 (NFQUEUE queues 100-103)
                # They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)
                #   lets them pass unclamped while no tcpmssd is bound to the queue.
                # Outgoing: SYNs leaving by wan0, forwarded (FORWARD) and the router's own (OUTPUT).
                # Incoming (-b): SYNs arriving by wan0 (PREROUTING), for hosts behind the router and for the
                #   router itself, so that the SYN-ACKs of far servers are clamped too.
                # Queues 100-103 (--queue-cpu-fanout; nft: fanout): the kernel picks queue 100 + (CPU mod 4)
                #   by the CPU handling the packet, so each CPU feeds one queue and its tcpmssd thread,
                #   and no two CPUs contend for a queue. tcpmssd keeps no per-connection state, so the
                #   flow hash used without fanout would buy nothing. Packets are spread over CPUs by the
                #   NIC's receive queues (RSS) or by RPS; with a single receive CPU all go to queue 100.
                # For nft -f, for both IP versions: the table tcpmssd-100 replaced whole in one transaction, so loading
                #   this again gives the same rules, not a second copy. Needs a kernel with CONFIG_NFT_QUEUE
                #   (nft_queue module). Load these or the iptables rules (--firewall iptables), not both.
                # tcpmssd --add-rules with the same options applies this; --delete-rules (or
                #   --print-rules=delete) removes it.
                table inet tcpmssd-100
                delete table inet tcpmssd-100
                table inet tcpmssd-100 {
                \tchain forward {
                \t\ttype filter hook forward priority mangle; policy accept;
                \t\toifname "wan0" tcp flags & (syn | rst) == syn queue num 100-103 fanout,bypass
                \t}
                \tchain output {
                \t\ttype filter hook output priority mangle; policy accept;
                \t\toifname "wan0" tcp flags & (syn | rst) == syn queue num 100-103 fanout,bypass
                \t}
                \tchain prerouting {
                \t\ttype filter hook prerouting priority mangle; policy accept;
                \t\tiifname "wan0" tcp flags & (syn | rst) == syn queue num 100-103 fanout,bypass
                \t}
                }
                """);
    }

    @Test
    void nftablesRemovalIsOneTransactionThatNeedsNoTable() throws Exception {
        assertThat(print("--print-rules=delete", "--firewall", "nftables", "-p", "100", "-m", "1400")).isEqualTo("""
                #!/usr/sbin/nft -f
                # Removes the nftables table tcpmssd-100 of tcpmssd -p 100, for nft -f; nothing if it is absent
                #   (the first line creates it, so that the delete always has a table to delete).
                table inet tcpmssd-100
                delete table inet tcpmssd-100
                """);
        Rules.Plan plan = Rules.plan(Options.parse("--delete-rules", "--firewall", "nftables", "-p", "100", "-m", "1400"), Rules.Change.DELETE);
        assertThat(plan.steps()).containsExactly(new Rules.Feed(List.of("nft", "-f", "-"),
                "table inet tcpmssd-100\ndelete table inet tcpmssd-100\n"));
    }

    @Test
    void fixedMtuHasNoInterfaceAndSaysSo() throws Exception {
        assertThat(print("--print-rules", "-p", "7", "-m", "1400")).startsWith("""
                #!/bin/sh
                # Netfilter rules that queue TCP SYNs to tcpmssd -p 7 -m 1400 (NFQUEUE queue 7)
                # They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)
                #   lets them pass unclamped while no tcpmssd is bound to the queue.
                # No interface given (-m 1400): these rules queue the SYNs leaving by any
                #   interface but lo. To clamp only those crossing the small link, match it: -o IFACE on
                #   FORWARD and OUTPUT (for ! -o lo); nft: oifname "IFACE".
                """);
    }

    /** Every combination that changes the rules: direction, one queue or a range, each MSS source, each format. */
    static List<Arguments> variants() {
        List<Arguments> variants = new ArrayList<>();
        for (String firewall : List.of("iptables", "nftables")) {
            for (String b : List.of("", "-b")) {
                for (String p : List.of("0", "100", "65535", "100-103", "65534-65535")) {
                    for (List<String> source : List.of(List.of("-i", "ppp0"), List.of("-m", "1492"), List.of("--pmtu"),
                            List.of("--set-mss", "1360"), List.of("-i", "wg-vpn.15chars"))) {
                        List<String> args = new ArrayList<>(List.of("--print-rules", "--firewall", firewall, "-p", p));
                        if (!b.isEmpty()) {
                            args.add(b);
                        }
                        args.addAll(source);
                        variants.add(Arguments.of((Object) args.toArray(String[]::new)));
                    }
                }
            }
        }
        return variants;
    }

    private static List<String> lines(String text) {
        return text.lines().toList();
    }

    /** The rules of the restore text fed to {@code command}-restore: its "-A" lines. */
    private static List<String> restoreRules(Options options, String command) {
        return Rules.plan(options, Rules.Change.ADD).steps().stream()
                .filter(step -> step instanceof Rules.Feed feed && feed.argv().getFirst().equals(command + "-restore"))
                .flatMap(step -> lines(((Rules.Feed) step).input()).stream())
                .filter(l -> l.startsWith("-A "))
                .toList();
    }

    private static List<String> nftRules(String text) {
        return lines(text).stream().filter(l -> l.startsWith("\t\t") && !l.startsWith("\t\ttype ")).toList();
    }

    /** The variant's options in the given format (variants name one after --firewall). */
    private static Options withFirewall(String[] args, String firewall) throws Exception {
        String[] changed = args.clone();
        changed[List.of(args).indexOf("--firewall") + 1] = firewall;
        return Options.parse(changed);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void noRuleEverMatchesRst(String[] args) throws Exception {
        Options options = Options.parse(args);
        Options iptables = withFirewall(args, "iptables");
        Pattern flags = Pattern.compile("--tcp-flags (\\S+) (\\S+)");
        List<String> rules = new ArrayList<>(restoreRules(iptables, "iptables"));
        rules.addAll(restoreRules(iptables, "ip6tables"));
        // The jumps match the SYNs too: nothing else enters our chains.
        for (Rules.Step step : Rules.plan(iptables, Rules.Change.ADD).steps()) {
            if (step instanceof Rules.Ensure ensure) {
                rules.add(String.join(" ", ensure.add()));
            }
        }
        assertThat(rules).isNotEmpty();
        for (String rule : rules) {
            Matcher m = flags.matcher(rule);
            assertThat(m.find()).as(rule).isTrue();
            List<String> mask = Arrays.asList(m.group(1).split(","));
            List<String> set = Arrays.asList(m.group(2).split(","));
            assertThat(mask).as("examined flags of " + rule).contains("SYN", "RST");
            assertThat(set).as("flags required set in " + rule).containsExactly("SYN");
            assertThat(m.find()).as("one flags match only: " + rule).isFalse();
            assertThat(rule).contains(" -p tcp ").doesNotContain("ALL");
        }
        List<String> nft = nftRules(Rules.print(withFirewall(args, "nftables")));
        assertThat(nft).hasSize(restoreRules(iptables, "iptables").size());
        for (String rule : nft) {
            assertThat(rule).containsPattern("[\\t ]tcp flags & \\(syn \\| rst\\) == syn queue ");
            assertThat(rule.split("tcp flags", -1)).as("one flags match only: " + rule).hasSize(2);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void everyVariantIsOneFormatOnly(String[] args) throws Exception {
        Options options = Options.parse(args);
        String text = Rules.print(options);
        assertThat(text).endsWith("\n").doesNotContain("\n\n").doesNotContain(" \n").doesNotContain("\r");
        List<String> body = lines(text).stream().dropWhile(l -> l.startsWith("#")).toList();
        if (options.firewall() == Options.Firewall.NFTABLES) {
            assertThat(text).startsWith("#!/usr/sbin/nft -f\n").contains("\n# Netfilter rules that queue")
                    .contains("CONFIG_NFT_QUEUE").doesNotContain("iptables -").doesNotContain("-restore");
            String table = "tcpmssd-" + options.queue();
            assertThat(body.subList(0, 3)).containsExactly("table inet " + table, "delete table inet " + table, "table inet " + table + " {");
            assertThat(body.getLast()).isEqualTo("}");
            // Balanced braces, one chain per rule.
            String ruleset = String.join("\n", body);
            long open = ruleset.chars().filter(c -> c == '{').count();
            long close = ruleset.chars().filter(c -> c == '}').count();
            assertThat(open).isEqualTo(close).isEqualTo(1 + nftRules(text).size());
        } else {
            assertThat(text).startsWith("#!/bin/sh\n").doesNotContain("table inet");
            assertThat(body.getFirst()).isEqualTo("set -e");
            // The same rules for both IP versions: the second half is the first with ip6tables.
            List<String> commands = body.subList(1, body.size());
            List<String> v4 = commands.subList(0, commands.size() / 2);
            List<String> v6 = commands.subList(commands.size() / 2, commands.size());
            assertThat(v6).isEqualTo(v4.stream().map(l -> l.replace("iptables", "ip6tables")).toList());
            assertThat(v4).noneMatch(l -> l.contains("ip6tables"));
        }
        // Printing is deterministic.
        assertThat(Rules.print(Options.parse(args))).isEqualTo(text);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void queueTargetFollowsTheQueues(String[] args) throws Exception {
        Options options = Options.parse(args);
        int first = options.queue();
        int last = first + options.queues() - 1;
        String target = options.queues() == 1
                ? " -j NFQUEUE --queue-num " + first + " --queue-bypass"
                : " -j NFQUEUE --queue-balance " + first + ":" + last + " --queue-bypass --queue-cpu-fanout";
        String nft = options.queues() == 1
                ? " queue num " + first + " bypass"
                : " queue num " + first + "-" + last + " fanout,bypass";
        assertThat(restoreRules(withFirewall(args, "iptables"), "iptables")).allSatisfy(l -> assertThat(l).endsWith(target));
        assertThat(nftRules(Rules.print(withFirewall(args, "nftables")))).isNotEmpty().allSatisfy(l -> assertThat(l).endsWith(nft));
        String text = Rules.print(options);
        assertThat(text.contains("(--queue-cpu-fanout;")).as("a range explains fanout").isEqualTo(options.queues() > 1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void chainsFollowDirectionAndInterface(String[] args) throws Exception {
        Options options = Options.parse(args);
        Options iptables = withFirewall(args, "iptables");
        String iface = options.interfaceName();
        Pattern rule = Pattern.compile("-A tcpmssd-" + options.queue() + "-(\\S+)(.*?) -p tcp .*");
        List<String> chains = new ArrayList<>();
        for (String line : restoreRules(iptables, "iptables")) {
            Matcher m = rule.matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            String chain = m.group(1);
            String match = m.group(2);
            chains.add(chain);
            boolean incoming = chain.equals("PREROUTING");
            if (iface != null) {
                assertThat(match).isEqualTo((incoming ? " -i " : " -o ") + iface);
            } else if (chain.equals("FORWARD")) {
                assertThat(match).isEmpty();
            } else {
                assertThat(match).isEqualTo(incoming ? " ! -i lo" : " ! -o lo");
            }
        }
        List<String> used = options.bothDirections() ? List.of("FORWARD", "OUTPUT", "PREROUTING") : List.of("FORWARD", "OUTPUT");
        assertThat(chains).containsExactlyElementsOf(used);
        // One jump per chain in use, added only after -C; the chain not in use is taken away.
        List<Rules.Step> steps = Rules.plan(iptables, Rules.Change.ADD).steps();
        for (String family : List.of("iptables", "ip6tables")) {
            List<String> jumps = new ArrayList<>();
            List<String> removed = new ArrayList<>();
            for (Rules.Step step : steps) {
                if (step instanceof Rules.Ensure ensure && ensure.add().getFirst().equals(family)) {
                    List<String> check = new ArrayList<>(ensure.add());
                    check.set(check.indexOf("-A"), "-C");
                    assertThat(ensure.check()).isEqualTo(check);
                    jumps.add(ensure.add().get(ensure.add().indexOf("-A") + 1));
                    assertThat(ensure.add().getLast()).isEqualTo("tcpmssd-" + options.queue() + "-" + jumps.getLast());
                } else if (step instanceof Rules.RemoveAll remove && remove.delete().getFirst().equals(family)) {
                    removed.add(remove.delete().get(remove.delete().indexOf("-D") + 1));
                }
            }
            assertThat(jumps).containsExactlyElementsOf(used);
            assertThat(removed).containsExactlyElementsOf(options.bothDirections() ? List.of() : List.of("PREROUTING"));
        }
        String text = Rules.print(options);
        if (iface == null) {
            assertThat(text).contains("# No interface given (").contains("-o IFACE");
        } else {
            assertThat(text).doesNotContain("No interface given");
            assertThat(Rules.print(withFirewall(args, "nftables"))).contains("oifname \"" + iface + "\" ");
        }
        assertThat(Rules.print(withFirewall(args, "nftables")).contains("iifname")).isEqualTo(options.bothDirections());
    }

    @Test
    void chainNamesFitIptablesEvenForTheLastQueue() throws Exception {
        // xt_entry_target's name: XT_EXTENSION_MAXNAMELEN 29 bytes with the NUL.
        assertThat(Rules.chain(Options.parse("--print-rules", "-p", "65535", "-m", "1400"), "PREROUTING")).hasSizeLessThanOrEqualTo(28);
    }

    @Test
    void theOrderOfTheOptionsDoesNotMatter() throws Exception {
        assertThat(print("-i", "ppp0", "--print-rules", "-vp100")).isEqualTo(print("--print-rules", "-p", "100", "-i", "ppp0"));
        assertThat(print("-b", "-p", "1-2", "-m", "1280", "--print-rules")).isEqualTo(print("--print-rules", "-bp1-2", "-m1280"));
    }

    @Test
    void otherSourcesAreNamedInTheComment() throws Exception {
        assertThat(print("--print-rules", "-p", "1", "--pmtu")).contains("# No interface given (--pmtu): ");
        assertThat(print("--print-rules", "-p", "1", "--set-mss", "1300")).contains("# No interface given (--set-mss 1300): ");
        assertThat(print("--print-rules", "-p", "1", "--pmtu")).contains("these rules queue the SYNs leaving by any\n");
        assertThat(print("--print-rules", "-b", "-p", "1", "--pmtu"))
                .contains("these rules queue the SYNs leaving and arriving by any\n")
                .contains("-i IFACE on PREROUTING (for ! -i lo)")
                .contains("queued twice")
                .contains("\n-A tcpmssd-1-PREROUTING ! -i lo -p tcp ");
        assertThat(print("--print-rules", "--firewall", "nftables", "-b", "-p", "1", "--pmtu"))
                .contains("-i IFACE on PREROUTING (for ! -i lo)")
                .contains("queued twice")
                .contains("\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n"
                        + "\t\tiifname != \"lo\" tcp flags & (syn | rst) == syn queue num 1 bypass\n");
    }

    @Test
    void interfaceNamesAreQuotedForIptablesRestoreTheShellAndNft() throws Exception {
        String text = print("--print-rules", "-p", "5", "-i", "we$ird*");
        assertThat(text)
                .contains("\n-A tcpmssd-5-FORWARD -o \"we$ird*\" -p tcp ")
                .contains("# Netfilter rules that queue TCP SYNs to tcpmssd -p 5 -i 'we$ird*' (")
                .contains(" --noflush <<'RULES'\n");  // a quoted here-document: the shell expands nothing in it
        assertThat(print("--print-rules", "--firewall", "nftables", "-p", "5", "-i", "we$ird*"))
                .contains("\t\toifname \"we$ird\\*\" tcp flags");   // a trailing * would be an nft wildcard

        assertThat(print("--print-rules", "-p", "5", "-i", "o'k")).contains(" -o \"o'k\" -p tcp ");
        assertThat(print("--print-rules", "--firewall", "nftables", "-p", "5", "-i", "o'k")).contains("\t\toifname \"o'k\" tcp flags");
        assertThat(print("--print-rules", "-p", "5", "-i", "eth0.100@x")).contains(" -o eth0.100@x -p tcp ");
        assertThat(print("--print-rules", "-p", "5", "-i", "a\"b")).contains(" -o \"a\\\"b\" -p tcp ");
    }

    @Test
    void quoting() {
        assertThat(Rules.shellQuote("ppp0")).isEqualTo("ppp0");
        assertThat(Rules.shellQuote("a b")).isEqualTo("'a b'");
        assertThat(Rules.shellQuote("$(x)")).isEqualTo("'$(x)'");
        assertThat(Rules.shellQuote("~x")).isEqualTo("'~x'");
        assertThat(Rules.shellQuote("a'b")).isEqualTo("'a'\\''b'");
        assertThat(Rules.restoreQuote("ppp0")).isEqualTo("ppp0");
        assertThat(Rules.restoreQuote("wg-vpn.1@x+")).isEqualTo("wg-vpn.1@x+");
        assertThat(Rules.restoreQuote("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
        assertThat(Rules.restoreQuote("#x")).isEqualTo("\"#x\"");
        assertThat(Rules.nftQuote("ppp*")).isEqualTo("\"ppp\\*\"");
        assertThat(Rules.nftQuote("p*p")).isEqualTo("\"p*p\"");
    }
}
