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

/** --print-rules (issue 6): the exact text, and what every variant of it must hold. Pure: no kernel. */
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
    void interfaceOneQueue() throws Exception {
        assertThat(print("--print-rules", "-p", "100", "-i", "ppp0")).isEqualTo("""
                # Netfilter rules that queue TCP SYNs to tcpmssd -p 100 -i ppp0 (NFQUEUE queue 100)
                # They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)
                #   lets them pass unclamped while no tcpmssd is bound to the queue.
                # Outgoing: SYNs leaving by ppp0, forwarded (FORWARD) and the router's own (OUTPUT).
                # Not queued: SYNs arriving by ppp0; without -b tcpmssd leaves incoming packets alone.
                # Use either the iptables and ip6tables rules or the nftables ruleset, not both (each SYN
                #   would be queued twice). To remove the iptables rules, run them again with -D for -A.

                # iptables (IPv4)
                iptables -t mangle -A FORWARD -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass
                iptables -t mangle -A OUTPUT -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass

                # ip6tables (IPv6): the same rules
                ip6tables -t mangle -A FORWARD -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass
                ip6tables -t mangle -A OUTPUT -o ppp0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 100 --queue-bypass

                # nftables ruleset for both IP versions, for nft -f FILE; its first two lines replace an
                #   earlier table tcpmssd-100 (delete it with: nft delete table inet tcpmssd-100)
                # needs a kernel with CONFIG_NFT_QUEUE (nft_queue module)
                table inet tcpmssd-100
                delete table inet tcpmssd-100
                table inet tcpmssd-100 {
                \tchain forward {
                \t\ttype filter hook forward priority mangle; policy accept;
                \t\toifname "ppp0" tcp flags & (syn | rst) == syn queue num 100 bypass
                \t}
                \tchain output {
                \t\ttype filter hook output priority mangle; policy accept;
                \t\toifname "ppp0" tcp flags & (syn | rst) == syn queue num 100 bypass
                \t}
                }
                """);
    }

    @Test
    void bothDirectionsAndAQueueRange() throws Exception {
        assertThat(print("--print-rules", "-bp", "100-103", "-i", "wan0")).isEqualTo("""
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
                # Use either the iptables and ip6tables rules or the nftables ruleset, not both (each SYN
                #   would be queued twice). To remove the iptables rules, run them again with -D for -A.

                # iptables (IPv4)
                iptables -t mangle -A FORWARD -o wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout
                iptables -t mangle -A OUTPUT -o wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout
                iptables -t mangle -A PREROUTING -i wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout

                # ip6tables (IPv6): the same rules
                ip6tables -t mangle -A FORWARD -o wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout
                ip6tables -t mangle -A OUTPUT -o wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout
                ip6tables -t mangle -A PREROUTING -i wan0 -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-balance 100:103 --queue-bypass --queue-cpu-fanout

                # nftables ruleset for both IP versions, for nft -f FILE; its first two lines replace an
                #   earlier table tcpmssd-100 (delete it with: nft delete table inet tcpmssd-100)
                # needs a kernel with CONFIG_NFT_QUEUE (nft_queue module)
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
    void fixedMtuHasNoInterfaceAndSaysSo() throws Exception {
        assertThat(print("--print-rules", "-p", "7", "-m", "1400")).isEqualTo("""
                # Netfilter rules that queue TCP SYNs to tcpmssd -p 7 -m 1400 (NFQUEUE queue 7)
                # They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)
                #   lets them pass unclamped while no tcpmssd is bound to the queue.
                # No interface given (-m 1400): these rules queue the SYNs leaving by any
                #   interface but lo. To clamp only those crossing the small link, match it: -o IFACE on
                #   FORWARD and OUTPUT (for ! -o lo); nft: oifname "IFACE".
                # Use either the iptables and ip6tables rules or the nftables ruleset, not both (each SYN
                #   would be queued twice). To remove the iptables rules, run them again with -D for -A.

                # iptables (IPv4)
                iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 7 --queue-bypass
                iptables -t mangle -A OUTPUT ! -o lo -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 7 --queue-bypass

                # ip6tables (IPv6): the same rules
                ip6tables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 7 --queue-bypass
                ip6tables -t mangle -A OUTPUT ! -o lo -p tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 7 --queue-bypass

                # nftables ruleset for both IP versions, for nft -f FILE; its first two lines replace an
                #   earlier table tcpmssd-7 (delete it with: nft delete table inet tcpmssd-7)
                # needs a kernel with CONFIG_NFT_QUEUE (nft_queue module)
                table inet tcpmssd-7
                delete table inet tcpmssd-7
                table inet tcpmssd-7 {
                \tchain forward {
                \t\ttype filter hook forward priority mangle; policy accept;
                \t\ttcp flags & (syn | rst) == syn queue num 7 bypass
                \t}
                \tchain output {
                \t\ttype filter hook output priority mangle; policy accept;
                \t\toifname != "lo" tcp flags & (syn | rst) == syn queue num 7 bypass
                \t}
                }
                """);
    }

    /** Every combination that changes the rules: direction, one queue or a range, each MSS source. */
    static List<Arguments> variants() {
        List<Arguments> variants = new ArrayList<>();
        for (String b : List.of("", "-b")) {
            for (String p : List.of("0", "100", "65535", "100-103", "65534-65535")) {
                for (List<String> source : List.of(List.of("-i", "ppp0"), List.of("-m", "1492"), List.of("--pmtu"),
                        List.of("--set-mss", "1360"), List.of("-i", "wg-vpn.15chars"))) {
                    List<String> args = new ArrayList<>(List.of("--print-rules", "-p", p));
                    if (!b.isEmpty()) {
                        args.add(b);
                    }
                    args.addAll(source);
                    variants.add(Arguments.of((Object) args.toArray(String[]::new)));
                }
            }
        }
        return variants;
    }

    private static List<String> lines(String text) {
        return text.lines().toList();
    }

    private static List<String> iptablesLines(String text, String command) {
        return lines(text).stream().filter(l -> l.startsWith(command + " ")).toList();
    }

    private static List<String> nftRules(String text) {
        return lines(text).stream().filter(l -> l.startsWith("\t\t") && !l.startsWith("\t\ttype ")).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void noRuleEverMatchesRst(String[] args) throws Exception {
        String text = print(args);
        Pattern flags = Pattern.compile("--tcp-flags (\\S+) (\\S+)");
        List<String> rules = new ArrayList<>(iptablesLines(text, "iptables"));
        rules.addAll(iptablesLines(text, "ip6tables"));
        assertThat(rules).isNotEmpty();
        for (String rule : rules) {
            Matcher m = flags.matcher(rule);
            assertThat(m.find()).as(rule).isTrue();
            List<String> mask = Arrays.asList(m.group(1).split(","));
            List<String> set = Arrays.asList(m.group(2).split(","));
            assertThat(mask).as("examined flags of " + rule).contains("SYN", "RST");
            assertThat(set).as("flags required set in " + rule).containsExactly("SYN");
            assertThat(m.find()).as("one flags match only: " + rule).isFalse();
            assertThat(rule).contains(" -p tcp ").contains(" -t mangle ").doesNotContain("ALL");
        }
        List<String> nft = nftRules(text);
        assertThat(nft).hasSize(rules.size() / 2);
        for (String rule : nft) {
            assertThat(rule).containsPattern("[\\t ]tcp flags & \\(syn \\| rst\\) == syn queue ");
            assertThat(rule.split("tcp flags", -1)).as("one flags match only: " + rule).hasSize(2);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void everyVariantHasItsBlocksAndAnNftRuleset(String[] args) throws Exception {
        Options options = Options.parse(args);
        String text = Rules.print(options);
        assertThat(text).endsWith("\n").doesNotContain("\n\n\n").doesNotContain(" \n").doesNotContain("\r");
        String[] blocks = text.split("\n\n");
        assertThat(blocks).hasSize(4);
        for (String block : blocks) {
            assertThat(block).as("each block starts with a comment saying what it is").startsWith("# ");
        }
        assertThat(blocks[1]).startsWith("# iptables (IPv4)\n");
        assertThat(blocks[2]).startsWith("# ip6tables (IPv6)");
        assertThat(blocks[3]).startsWith("# nftables ruleset")
                .contains("\n# needs a kernel with CONFIG_NFT_QUEUE (nft_queue module)\n")
                .contains("\ntable inet tcpmssd-" + options.queue() + " {\n")
                .endsWith("\n}\n");
        // The same rules for both IP versions.
        assertThat(iptablesLines(text, "ip6tables"))
                .isEqualTo(iptablesLines(text, "iptables").stream().map(l -> "ip6" + l.substring(2)).toList());
        // Balanced braces in the ruleset, one chain per iptables rule.
        long open = blocks[3].chars().filter(c -> c == '{').count();
        long close = blocks[3].chars().filter(c -> c == '}').count();
        assertThat(open).isEqualTo(close).isEqualTo(1 + iptablesLines(text, "iptables").size());
        // Printing is deterministic.
        assertThat(Rules.print(Options.parse(args))).isEqualTo(text);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void queueTargetFollowsTheQueues(String[] args) throws Exception {
        Options options = Options.parse(args);
        String text = Rules.print(options);
        int first = options.queue();
        int last = first + options.queues() - 1;
        String target = options.queues() == 1
                ? " -j NFQUEUE --queue-num " + first + " --queue-bypass"
                : " -j NFQUEUE --queue-balance " + first + ":" + last + " --queue-bypass --queue-cpu-fanout";
        String nft = options.queues() == 1
                ? " queue num " + first + " bypass"
                : " queue num " + first + "-" + last + " fanout,bypass";
        assertThat(iptablesLines(text, "iptables")).allSatisfy(l -> assertThat(l).endsWith(target));
        assertThat(nftRules(text)).allSatisfy(l -> assertThat(l).endsWith(nft));
        assertThat(text.contains("--queue-cpu-fanout (") || text.contains("(--queue-cpu-fanout;"))
                .as("a range explains fanout").isEqualTo(options.queues() > 1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void chainsFollowDirectionAndInterface(String[] args) throws Exception {
        Options options = Options.parse(args);
        String text = Rules.print(options);
        String iface = options.interfaceName();
        Pattern rule = Pattern.compile("iptables -t mangle -A (\\S+)(.*?) -p tcp .*");
        List<String> chains = new ArrayList<>();
        for (String line : iptablesLines(text, "iptables")) {
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
        assertThat(chains).containsExactlyElementsOf(options.bothDirections()
                ? List.of("FORWARD", "OUTPUT", "PREROUTING") : List.of("FORWARD", "OUTPUT"));
        if (iface == null) {
            assertThat(text).contains("# No interface given (").contains("-o IFACE");
        } else {
            assertThat(text).doesNotContain("No interface given").contains("oifname \"" + iface + "\" ");
        }
        assertThat(text.contains("iifname")).isEqualTo(options.bothDirections());
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
                .contains("\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n"
                        + "\t\tiifname != \"lo\" tcp flags & (syn | rst) == syn queue num 1 bypass\n");
    }

    @Test
    void interfaceNamesAreQuotedForTheShellAndForNft() throws Exception {
        String text = print("--print-rules", "-p", "5", "-i", "we$ird*");
        assertThat(text)
                .contains("iptables -t mangle -A FORWARD -o 'we$ird*' -p tcp ")
                .contains("# Netfilter rules that queue TCP SYNs to tcpmssd -p 5 -i 'we$ird*' (")
                .contains("\t\toifname \"we$ird\\*\" tcp flags");   // a trailing * would be an nft wildcard

        assertThat(print("--print-rules", "-p", "5", "-i", "o'k"))
                .contains(" -o 'o'\\''k' -p tcp ")
                .contains("\t\toifname \"o'k\" tcp flags");

        assertThat(print("--print-rules", "-p", "5", "-i", "eth0.100@x"))
                .contains(" -o eth0.100@x -p tcp ");
    }

    @Test
    void nftCannotSpellADoubleQuoteSoItsBlockPointsToIptables() throws Exception {
        String text = print("--print-rules", "-p", "5", "-i", "a\"b");
        assertThat(text).contains(" -o 'a\"b' -p tcp ")
                .contains("# nft cannot write an interface name containing '\"': use the iptables rules above.\n")
                .doesNotContain("table inet tcpmssd-5 {");
        assertThat(text.split("\n\n")[3]).startsWith("# nftables ruleset");
        assertThat(print("--print-rules", "-p", "5", "-i", "\"b"))
                .contains("# nft cannot write an interface name containing '\"'")
                .doesNotContain("table inet tcpmssd-5 {");
    }

    @Test
    void shellQuoting() {
        assertThat(Rules.shellQuote("ppp0")).isEqualTo("ppp0");
        assertThat(Rules.shellQuote("a b")).isEqualTo("'a b'");
        assertThat(Rules.shellQuote("$(x)")).isEqualTo("'$(x)'");
        assertThat(Rules.shellQuote("~x")).isEqualTo("'~x'");
        assertThat(Rules.shellQuote("a'b")).isEqualTo("'a'\\''b'");
        assertThat(Rules.nftQuote("ppp*")).isEqualTo("\"ppp\\*\"");
        assertThat(Rules.nftQuote("p*p")).isEqualTo("\"p*p\"");
    }
}
