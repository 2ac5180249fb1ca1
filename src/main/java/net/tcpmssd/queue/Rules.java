package net.tcpmssd.queue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import net.tcpmssd.cli.Options;
import net.tcpmssd.mss.MssSource;

/**
 * The netfilter rules that queue the right SYNs to this daemon, so that nobody has to write them
 * by hand: {@code --print-rules} prints them, {@code --add-rules} and {@code --delete-rules} run
 * them ({@link RuleCommands}). This class only makes text, the same for the same options: a
 * {@link Plan} of {@link Step}s, printed for one format ({@code --firewall}) as a POSIX
 * {@code sh} script (iptables and ip6tables) or as one {@code nft -f} file (nftables), each
 * starting with {@code #} lines saying what the rules do.
 *
 * <h2>Idempotent</h2>
 *
 * Adding twice must give one copy of each rule, and removing absent rules must succeed, so that
 * a service can add them at every start and remove them at every stop whatever happened before.
 * <ul>
 *   <li><b>iptables.</b> Its restore format can create a chain but cannot add a rule to a
 *       built-in chain only when missing, so the rules live in chains of their own in table
 *       mangle, one per built-in chain and named after the first queue
 *       ({@code tcpmssd-100-FORWARD}, at most 24 of the 28 characters a chain name may have),
 *       so that two daemons on two queues do not touch each other's. {@code iptables-restore
 *       --noflush} fills them in one transaction: declaring a chain ({@code :name - [0:0]})
 *       creates it or, if it exists, flushes it, also with {@code --noflush} (checked with
 *       iptables 1.8.9, nft and legacy). Then each jump from the built-in chain is added only
 *       after {@code iptables -C} says it is absent. A chain these options do not use
 *       (PREROUTING without {@code -b}) is removed the way removal does, so that adding converges
 *       on exactly what the options say even after {@code -b} was dropped. Removal deletes the
 *       jumps while {@code -C} finds one (a copy added by hand too), then declares and deletes
 *       ({@code -X}) all three chains in one restore, which succeeds whether they existed or
 *       not. The jump itself matches the SYNs ({@code -p tcp --tcp-flags SYN,RST SYN}): every
 *       other packet, nearly all of them, costs one rule check as before, not a jump and a
 *       return. {@code -w 10}: wait at most 10 s for another iptables' lock (legacy iptables)
 *       instead of failing at once or for ever.
 *   <li><b>nftables.</b> One table, replaced whole in one transaction (below); removal is the
 *       same idiom without the new table.
 * </ul>
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
 *       netlink expression). It needs a kernel with {@code CONFIG_NFT_QUEUE}; the file says so.
 *       Using both the iptables rules and the ruleset would queue every SYN twice: one format is
 *       printed, and the header says not to load the other too.
 *   <li><b>Interface names</b> are printed as given (tcpmssd checks them when it runs). In the
 *       restore text a name with characters other than letters, digits and {@code _.+@-} is
 *       double-quoted, with {@code \} before a {@code "} or {@code \} (iptables-restore's
 *       tokenizer); the text is a quoted here-document, which the shell leaves alone; in the
 *       header's comments a name is single-quoted as for the shell. Note that iptables reads a
 *       trailing {@code +} as a wildcard, which still matches the interface itself. In nft a
 *       trailing {@code *} is escaped ({@code "ppp\*"}), since nft reads it as a wildcard; nft has
 *       no way to write a {@code "} inside a name, so {@code --firewall nftables} refuses such a
 *       name on the command line (Options).
 * </ul>
 */
public final class Rules {

    /** Shell words that need no quoting. */
    private static final Pattern SHELL_SAFE = Pattern.compile("[A-Za-z0-9_.,:+%@=/-]+");
    /** Words iptables-restore reads as they are (its tokenizer splits at blanks and reads '"' and '\'). */
    private static final Pattern RESTORE_SAFE = Pattern.compile("[A-Za-z0-9_.+@-]+");
    private static final String MATCH = "-p tcp --tcp-flags SYN,RST SYN";
    private static final String NFT_MATCH = "tcp flags & (syn | rst) == syn";
    /** The built-in chains of table mangle that rules are hooked to, in the order printed. */
    private static final List<String> HOOKS = List.of("FORWARD", "OUTPUT", "PREROUTING");
    private static final List<String> FAMILIES = List.of("iptables", "ip6tables");
    /** At most this long for another iptables' xtables lock (iptables -w). */
    private static final String LOCK_WAIT = "10";
    /** The here-document's delimiter: no line of restore text can be it. */
    private static final String END = "RULES";

    private Rules() {}

    /** Whether the rules are put in place or taken away. */
    public enum Change { ADD, DELETE }

    /** One command of a plan: printed as a line of the script or file, run by {@link RuleCommands}. */
    public sealed interface Step permits Feed, Ensure, RemoveAll {}

    /** A program given {@code input} on its stdin: {@code iptables-restore}, {@code nft -f -}. */
    public record Feed(List<String> argv, String input) implements Step {}

    /** {@code check || add}: a rule added only when {@code iptables -C} does not find it. */
    public record Ensure(List<String> check, List<String> add) implements Step {}

    /** {@code while check; do delete; done}: every copy of a rule deleted, none there is fine. */
    public record RemoveAll(List<String> check, List<String> delete) implements Step {}

    /** What is printed or run: comment lines, then the steps in order. */
    public record Plan(Options.Firewall firewall, String comments, List<Step> steps) {}

    /** One rule: a hook and its interface match ({@code iface} null: none; {@code negated}: all but it). */
    private record Rule(String hook, boolean out, String iface, boolean negated) {

        String iptablesMatch() {
            if (iface == null) {
                return "";
            }
            return (negated ? "! " : "") + (out ? "-o " : "-i ") + restoreQuote(iface) + " ";
        }

        String nftMatch() {
            if (iface == null) {
                return "";
            }
            return (out ? "oifname " : "iifname ") + (negated ? "!= " : "") + nftQuote(iface) + " ";
        }
    }

    /** What --print-rules prints (--print-rules=delete: the removal). */
    public static String print(Options options) {
        if (options.attach() != null) {
            // The program sits at the interfaces' tc hooks, before and after netfilter: nothing to queue.
            return "# tcpmssd --attach " + String.join(",", options.attach())
                    + " clamps in the kernel with its own BPF program: no firewall rule is needed\n";
        }
        Change change = options.action() == Options.Action.PRINT_DELETE_RULES || options.action() == Options.Action.DELETE_RULES
                ? Change.DELETE : Change.ADD;
        return print(plan(options, change));
    }

    /** The plan for these options; empty with --attach, which needs no rule. */
    public static Plan plan(Options options, Change change) {
        if (options.attach() != null) {
            return new Plan(options.firewall(), "", List.of());
        }
        List<Rule> rules = rules(options);
        StringBuilder comments = new StringBuilder();
        if (change == Change.ADD) {
            header(comments, options, options.interfaceName(), options.bothDirections());
        } else {
            removalHeader(comments, options);
        }
        List<Step> steps = options.firewall() == Options.Firewall.NFTABLES
                ? List.of(nftables(rules, options, change))
                : iptables(rules, options, change);
        return new Plan(options.firewall(), comments.toString(), steps);
    }

    private static List<Rule> rules(Options options) {
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
        return rules;
    }

    /** The plan as text: a POSIX sh script for iptables, an nft -f file for nftables. */
    static String print(Plan plan) {
        StringBuilder out = new StringBuilder();
        if (plan.firewall() == Options.Firewall.NFTABLES) {
            out.append("#!/usr/sbin/nft -f\n").append(plan.comments());
            for (Step step : plan.steps()) {
                out.append(((Feed) step).input());
            }
            return out.toString();
        }
        out.append("#!/bin/sh\n").append(plan.comments()).append("set -e\n");
        for (Step step : plan.steps()) {
            switch (step) {
                case Feed feed -> out.append(shellWords(feed.argv())).append(" <<'").append(END).append("'\n")
                        .append(feed.input()).append(END).append('\n');
                case Ensure ensure -> out.append(shellWords(ensure.check())).append(" 2>/dev/null || ")
                        .append(shellWords(ensure.add())).append('\n');
                case RemoveAll remove -> out.append("while ").append(shellWords(remove.check())).append(" 2>/dev/null; do ")
                        .append(shellWords(remove.delete())).append("; done\n");
            }
        }
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
        if (options.firewall() == Options.Firewall.NFTABLES) {
            out.append("# For nft -f, for both IP versions: the table ").append(table(options))
                    .append(" replaced whole in one transaction, so loading\n");
            out.append("#   this again gives the same rules, not a second copy. Needs a kernel with CONFIG_NFT_QUEUE\n");
            out.append("#   (nft_queue module). Load these or the iptables rules (--firewall iptables), not both.\n");
        } else {
            out.append("# For sh, for IPv4 and IPv6: the rules live in chains of their own in table mangle (")
                    .append(chain(options, "FORWARD")).append(",\n");
            out.append("#   ...), refilled in one transaction, each entered by one jump added only if it is missing,\n");
            out.append("#   so running this again gives the same rules, not a second copy. Use these or the nftables\n");
            out.append("#   rules (--firewall nftables), not both: each SYN would be queued twice.\n");
        }
        out.append("# tcpmssd --add-rules with the same options applies this; --delete-rules (or\n");
        out.append("#   --print-rules=delete) removes it.\n");
    }

    private static void removalHeader(StringBuilder out, Options options) {
        if (options.firewall() == Options.Firewall.NFTABLES) {
            out.append("# Removes the nftables table ").append(table(options)).append(" of tcpmssd -p ")
                    .append(options.queueSpec()).append(", for nft -f; nothing if it is absent\n");
            out.append("#   (the first line creates it, so that the delete always has a table to delete).\n");
        } else {
            out.append("# Removes the iptables and ip6tables rules of tcpmssd -p ").append(options.queueSpec())
                    .append(", for sh: the jumps to the chains\n");
            out.append("#   ").append(chain(options, "*")).append(" in table mangle, then the chains; nothing where they are absent.\n");
        }
    }

    /**
     * For each IP version: jumps no longer wanted deleted, then one restore that refills the
     * chains in use and deletes the others (or, to remove, deletes them all), then the jumps
     * added where missing.
     */
    private static List<Step> iptables(List<Rule> rules, Options options, Change change) {
        String target = options.queues() == 1
                ? "-j NFQUEUE --queue-num " + options.queue() + " --queue-bypass"
                : "-j NFQUEUE --queue-balance " + options.queue() + ":" + (options.queue() + options.queues() - 1)
                        + " --queue-bypass --queue-cpu-fanout";
        List<String> used = change == Change.ADD ? rules.stream().map(Rule::hook).toList() : List.of();
        List<Step> steps = new ArrayList<>();
        for (String family : FAMILIES) {
            StringBuilder restore = new StringBuilder("*mangle\n");
            for (String hook : HOOKS) {
                String chain = chain(options, hook);
                restore.append(':').append(chain).append(" - [0:0]\n");
                if (!used.contains(hook)) {
                    steps.add(new RemoveAll(jump(family, "-C", hook, chain), jump(family, "-D", hook, chain)));
                    restore.append("-X ").append(chain).append('\n');
                }
            }
            for (Rule rule : rules) {
                if (used.contains(rule.hook())) {
                    restore.append("-A ").append(chain(options, rule.hook())).append(' ').append(rule.iptablesMatch())
                            .append(MATCH).append(' ').append(target).append('\n');
                }
            }
            restore.append("COMMIT\n");
            steps.add(new Feed(List.of(family + "-restore", "-w", LOCK_WAIT, "--noflush"), restore.toString()));
            for (String hook : used) {
                String chain = chain(options, hook);
                steps.add(new Ensure(jump(family, "-C", hook, chain), jump(family, "-A", hook, chain)));
            }
        }
        return steps;
    }

    /** The jump from a built-in chain to ours, with {@code command} -C, -A or -D. */
    private static List<String> jump(String family, String command, String hook, String chain) {
        List<String> argv = new ArrayList<>(List.of(family, "-w", LOCK_WAIT, "-t", "mangle", command, hook));
        argv.addAll(List.of(MATCH.split(" ")));
        argv.addAll(List.of("-j", chain));
        return List.copyOf(argv);
    }

    /** Our chain for a built-in one: "tcpmssd-100-FORWARD" (at most 24 characters; iptables allows 28). */
    static String chain(Options options, String hook) {
        return "tcpmssd-" + options.queue() + "-" + hook;
    }

    private static String table(Options options) {
        return "tcpmssd-" + options.queue();
    }

    /**
     * One nft transaction: "table" creates the table if it is missing, so that "delete table"
     * always succeeds (nft before 1.0.7 has no "destroy"), and the new table follows.
     */
    private static Step nftables(List<Rule> rules, Options options, Change change) {
        String table = table(options);
        StringBuilder out = new StringBuilder();
        out.append("table inet ").append(table).append('\n');
        out.append("delete table inet ").append(table).append('\n');
        if (change == Change.ADD) {
            String queue = options.queues() == 1
                    ? "queue num " + options.queue() + " bypass"
                    : "queue num " + options.queue() + "-" + (options.queue() + options.queues() - 1) + " fanout,bypass";
            out.append("table inet ").append(table).append(" {\n");
            for (Rule rule : rules) {
                String hook = rule.hook().toLowerCase(Locale.ROOT);
                out.append("\tchain ").append(hook).append(" {\n");
                out.append("\t\ttype filter hook ").append(hook).append(" priority mangle; policy accept;\n");
                out.append("\t\t").append(rule.nftMatch()).append(NFT_MATCH).append(' ').append(queue).append('\n');
                out.append("\t}\n");
            }
            out.append("}\n");
        }
        return new Feed(List.of("nft", "-f", "-"), out.toString());
    }

    /** The options that matter for the rules, as the operator would type them. */
    private static String commandLine(Options options) {
        return (options.bothDirections() ? "-b " : "") + "-p " + options.queueSpec() + " " + sourceOption(options.source());
    }

    private static String sourceOption(MssSource source) {
        return source.option().stream().map(Rules::shellQuote).collect(Collectors.joining(" "));
    }

    private static String shellWords(List<String> argv) {
        return argv.stream().map(Rules::shellQuote).collect(Collectors.joining(" "));
    }

    /** A shell word: as is when safe, else in single quotes (a quote inside as '\''). */
    static String shellQuote(String word) {
        if (SHELL_SAFE.matcher(word).matches()) {
            return word;
        }
        return "'" + word.replace("'", "'\\''") + "'";
    }

    /** A word of iptables-restore input: as is when safe, else in double quotes, '"' and '\' escaped. */
    static String restoreQuote(String word) {
        if (RESTORE_SAFE.matcher(word).matches()) {
            return word;
        }
        return "\"" + word.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /** An nft string: in double quotes, a trailing '*' escaped so that it is not a wildcard. */
    static String nftQuote(String name) {
        String body = name.endsWith("*") ? name.substring(0, name.length() - 1) + "\\*" : name;
        return "\"" + body + "\"";
    }
}
