package net.tcpmssd.queue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssSource;

/**
 * {@code --print-rules}: the netfilter rules that queue the right SYNs to this daemon, so that
 * nobody has to write them by hand. The output is plain text, the same for the same options:
 * a block of {@code #} comment lines saying what the rules do, the {@code iptables} lines, the
 * same rules for {@code ip6tables}, and the equivalent nftables ruleset as {@code nft -f} input.
 * Every block starts with a {@code #} line saying what it is; blank lines separate the blocks.
 *
 * <h2>Decisions</h2>
 *
 * <ul>
 *   <li><b>What is matched.</b> {@code -p tcp --tcp-flags SYN,RST SYN} (nft:
 *       {@code tcp flags & (syn | rst) == syn}): SYN set and RST clear, so SYNs and SYN-ACKs
 *       (both carry the MSS option, BEHAVIOUR §4) and never a RST, nor any segment of an established
 *       connection. Table mangle (nft: priority mangle), like every MSS clamp.
 *   <li><b>The target.</b> {@code -j NFQUEUE --queue-num N --queue-bypass} (nft:
 *       {@code queue num N bypass}): while no tcpmssd is bound to the queue the SYNs pass
 *       unclamped instead of being dropped, so a stopped or restarting daemon never cuts the
 *       link (BEHAVIOUR §2).
 *   <li><b>Several queues</b> ({@code -p A-B}): {@code --queue-balance A:B --queue-bypass
 *       --queue-cpu-fanout} (the order {@code iptables -S} lists; nft:
 *       {@code queue num A-B fanout,bypass}). With fanout the kernel picks queue
 *       {@code A + cpu mod n} by the CPU that handles the packet, instead of a hash of the flow:
 *       each CPU feeds one queue and so one tcpmssd thread, no two CPUs contend for a queue, and
 *       the daemon's threads share the load the way the NIC's receive queues (RSS) or RPS spread
 *       it. tcpmssd keeps no state per connection, so the flow hash, which keeps a connection's
 *       packets on one queue, buys nothing. The header says so, and that with a single receive
 *       CPU everything goes to the first queue.
 *   <li><b>Outgoing, the default</b> (BEHAVIOUR §2: without {@code -b} only outgoing packets are
 *       clamped): FORWARD and OUTPUT. With {@code -i IFACE}, {@code -o IFACE} on both: FORWARD
 *       catches the SYNs of hosts behind the router leaving by the small link, and also the
 *       SYN-ACKs that servers behind the router send back to far clients, which leave by the same
 *       link; OUTPUT catches the router's own connections across it. Linux already announces at
 *       most the route's MTU−40/−60 on its own connections, so OUTPUT seldom changes anything;
 *       it is there so that the router's own connections get the same maximum as forwarded ones
 *       whatever the routes say ({@code -m} or {@code --set-mss} below the interface's MTU, an
 *       {@code advmss} route metric). The SYN-ACK of a far server answering a client behind the
 *       router arrives by the small link and leaves by the LAN: it is incoming, left alone
 *       without {@code -b} as by the original (the client's clamped SYN already keeps the far
 *       server's segments small; the client's own segments are held in check by the router's
 *       ICMP errors on the LAN side).
 *   <li><b>Incoming, with {@code -b}</b>: also PREROUTING, with {@code -i IFACE}: the SYNs and
 *       SYN-ACKs arriving by the small link, for hosts behind the router and for the router
 *       itself (PREROUTING sees both, so INPUT is not needed). tcpmssd counts PREROUTING as
 *       incoming and clamps there only with {@code -b}, so these rules are printed only with it.
 *   <li><b>No interface</b> ({@code -m}, {@code --pmtu}, {@code --set-mss}): there is no small
 *       link to name, so FORWARD has no interface match, and OUTPUT and PREROUTING exclude only
 *       {@code lo} (a loopback connection never crosses the small link, and clamping it to a
 *       WAN's MSS would only slow it down). A comment says so and suggests {@code -o IFACE}.
 *       With {@code -b} and no interface a forwarded SYN passes both PREROUTING and FORWARD and
 *       is queued twice (the second pass finds nothing to lower); the comment says that too.
 *   <li><b>nftables.</b> One {@code table inet} for both IP versions, named after the first
 *       queue ({@code tcpmssd-100}), so that two daemons on two links have a table each; it
 *       starts with {@code table inet tcpmssd-100} + {@code delete table inet tcpmssd-100}, the
 *       idiom that makes {@code nft -f} replace an earlier copy instead of adding to it (and
 *       that works with nft versions before {@code destroy}). Base chains of type filter at
 *       priority mangle, policy accept. {@code oifname}/{@code iifname} match by name, so a PPP
 *       interface that does not exist yet or is re-created is still matched. The queue
 *       statement is written {@code queue num 100 bypass} / {@code queue num 100-103 fanout,bypass}:
 *       nft 1.0.6 documents {@code queue flags bypass to 100}, but still accepts this form, and
 *       this one is also understood by the nft 0.9 of older distributions (both give the same
 *       netlink expression). It needs a kernel with {@code CONFIG_NFT_QUEUE}; the block says so.
 *       Using both the iptables rules and the ruleset would queue every SYN twice: the header
 *       says to use one of them.
 *   <li><b>Interface names</b> are printed as given (tcpmssd checks them when it runs). In the
 *       iptables lines a name with characters the shell would interpret is single-quoted; note
 *       that iptables reads a trailing {@code +} as a wildcard, which still matches the
 *       interface itself. In nft a trailing {@code *} is escaped ({@code "ppp\*"}), since nft
 *       reads it as a wildcard; nft has no way to write a {@code "} inside a name, so for such a
 *       name the nft block is only a comment pointing to the iptables rules.
 * </ul>
 */
public final class Rules {

    /** Shell words that need no quoting. */
    private static final Pattern SHELL_SAFE = Pattern.compile("[A-Za-z0-9_.,:+%@=/-]+");
    private static final String MATCH = "-p tcp --tcp-flags SYN,RST SYN";
    private static final String NFT_MATCH = "tcp flags & (syn | rst) == syn";

    private Rules() {}

    /** One rule: a chain and its interface match ({@code iface} null: none; {@code negated}: all but it). */
    private record Rule(String chain, boolean out, String iface, boolean negated) {

        String iptablesMatch() {
            if (iface == null) {
                return "";
            }
            return (negated ? "! " : "") + (out ? "-o " : "-i ") + shellQuote(iface) + " ";
        }

        String nftMatch() {
            if (iface == null) {
                return "";
            }
            return (out ? "oifname " : "iifname ") + (negated ? "!= " : "") + nftQuote(iface) + " ";
        }
    }

    public static String print(Options options) {
        if (options.attach() != null) {
            // The program sits at the interfaces' tc hooks, before and after netfilter: nothing to queue.
            return "# tcpmssd --attach " + String.join(",", options.attach())
                    + " clamps in the kernel with its own BPF program: no firewall rule is needed\n";
        }
        String iface = options.interfaceName();
        boolean both = options.bothDirections();
        List<Rule> rules = new ArrayList<>();
        if (iface != null) {
            rules.add(new Rule("FORWARD", true, iface, false));
            rules.add(new Rule("OUTPUT", true, iface, false));
            if (both) {
                rules.add(new Rule("PREROUTING", false, iface, false));
            }
        } else {
            rules.add(new Rule("FORWARD", true, null, false));
            rules.add(new Rule("OUTPUT", true, "lo", true));
            if (both) {
                rules.add(new Rule("PREROUTING", false, "lo", true));
            }
        }

        StringBuilder out = new StringBuilder();
        header(out, options, iface, both);
        out.append('\n');
        out.append("# iptables (IPv4)\n");
        iptables(out, "iptables", rules, options);
        out.append('\n');
        out.append("# ip6tables (IPv6): the same rules\n");
        iptables(out, "ip6tables", rules, options);
        out.append('\n');
        nftables(out, rules, options);
        return out.toString();
    }

    private static void header(StringBuilder out, Options options, String iface, boolean both) {
        int first = options.queue();
        int n = options.queues();
        String queues = n == 1 ? "NFQUEUE queue " + first : "NFQUEUE queues " + options.queueSpec();
        out.append("# Netfilter rules that queue TCP SYNs to tcpmssd ").append(commandLine(options))
                .append(" (").append(queues).append(")\n");
        out.append("# They match SYN set and RST clear: SYNs and SYN-ACKs, never RSTs. --queue-bypass (nft: bypass)\n");
        out.append("#   lets them pass unclamped while no tcpmssd is bound to the queue.\n");
        if (iface != null) {
            String name = shellQuote(iface);
            out.append("# Outgoing: SYNs leaving by ").append(name)
                    .append(", forwarded (FORWARD) and the router's own (OUTPUT).\n");
            if (both) {
                out.append("# Incoming (-b): SYNs arriving by ").append(name)
                        .append(" (PREROUTING), for hosts behind the router and for the\n");
                out.append("#   router itself, so that the SYN-ACKs of far servers are clamped too.\n");
            } else {
                out.append("# Not queued: SYNs arriving by ").append(name)
                        .append("; without -b tcpmssd leaves incoming packets alone.\n");
            }
        } else {
            out.append("# No interface given (").append(sourceOption(options.source()))
                    .append("): these rules queue the SYNs leaving").append(both ? " and arriving" : "")
                    .append(" by any\n");
            out.append("#   interface but lo. To clamp only those crossing the small link, match it: -o IFACE on\n");
            if (both) {
                out.append("#   FORWARD and OUTPUT (for ! -o lo), -i IFACE on PREROUTING (for ! -i lo); nft: oifname\n");
                out.append("#   and iifname \"IFACE\". Without that a forwarded SYN passes PREROUTING and FORWARD\n");
                out.append("#   and is queued twice (the second pass finds nothing to lower).\n");
            } else {
                out.append("#   FORWARD and OUTPUT (for ! -o lo); nft: oifname \"IFACE\".\n");
            }
        }
        if (n > 1) {
            int last = first + n - 1;
            out.append("# Queues ").append(first).append('-').append(last)
                    .append(" (--queue-cpu-fanout; nft: fanout): the kernel picks queue ")
                    .append(first).append(" + (CPU mod ").append(n).append(")\n");
            out.append("#   by the CPU handling the packet, so each CPU feeds one queue and its tcpmssd thread,\n");
            out.append("#   and no two CPUs contend for a queue. tcpmssd keeps no per-connection state, so the\n");
            out.append("#   flow hash used without fanout would buy nothing. Packets are spread over CPUs by the\n");
            out.append("#   NIC's receive queues (RSS) or by RPS; with a single receive CPU all go to queue ")
                    .append(first).append(".\n");
        }
        out.append("# Use either the iptables and ip6tables rules or the nftables ruleset, not both (each SYN\n");
        out.append("#   would be queued twice). To remove the iptables rules, run them again with -D for -A.\n");
    }

    private static void iptables(StringBuilder out, String command, List<Rule> rules, Options options) {
        String target = options.queues() == 1
                ? "-j NFQUEUE --queue-num " + options.queue() + " --queue-bypass"
                : "-j NFQUEUE --queue-balance " + options.queue() + ":" + (options.queue() + options.queues() - 1)
                        + " --queue-bypass --queue-cpu-fanout";
        for (Rule rule : rules) {
            out.append(command).append(" -t mangle -A ").append(rule.chain()).append(' ')
                    .append(rule.iptablesMatch()).append(MATCH).append(' ').append(target).append('\n');
        }
    }

    private static void nftables(StringBuilder out, List<Rule> rules, Options options) {
        String table = "tcpmssd-" + options.queue();
        out.append("# nftables ruleset for both IP versions, for nft -f FILE; its first two lines replace an\n");
        out.append("#   earlier table ").append(table).append(" (delete it with: nft delete table inet ").append(table).append(")\n");
        out.append("# needs a kernel with CONFIG_NFT_QUEUE (nft_queue module)\n");
        String iface = options.interfaceName();
        if (iface != null && iface.indexOf('"') >= 0) {
            out.append("# nft cannot write an interface name containing '\"': use the iptables rules above.\n");
            return;
        }
        String queue = options.queues() == 1
                ? "queue num " + options.queue() + " bypass"
                : "queue num " + options.queue() + "-" + (options.queue() + options.queues() - 1) + " fanout,bypass";
        out.append("table inet ").append(table).append('\n');
        out.append("delete table inet ").append(table).append('\n');
        out.append("table inet ").append(table).append(" {\n");
        for (Rule rule : rules) {
            String hook = rule.chain().toLowerCase(Locale.ROOT);
            out.append("\tchain ").append(hook).append(" {\n");
            out.append("\t\ttype filter hook ").append(hook).append(" priority mangle; policy accept;\n");
            out.append("\t\t").append(rule.nftMatch()).append(NFT_MATCH).append(' ').append(queue).append('\n');
            out.append("\t}\n");
        }
        out.append("}\n");
    }

    /** The options that matter for the rules, as the operator would type them. */
    private static String commandLine(Options options) {
        return (options.bothDirections() ? "-b " : "") + "-p " + options.queueSpec() + " " + sourceOption(options.source());
    }

    private static String sourceOption(MssSource source) {
        return source.option().stream().map(Rules::shellQuote).collect(java.util.stream.Collectors.joining(" "));
    }

    /** A shell word: as is when safe, else in single quotes (a quote inside as '\''). */
    static String shellQuote(String word) {
        if (SHELL_SAFE.matcher(word).matches()) {
            return word;
        }
        return "'" + word.replace("'", "'\\''") + "'";
    }

    /** An nft string: in double quotes, a trailing '*' escaped so that it is not a wildcard. */
    static String nftQuote(String name) {
        String body = name.endsWith("*") ? name.substring(0, name.length() - 1) + "\\*" : name;
        return "\"" + body + "\"";
    }
}
