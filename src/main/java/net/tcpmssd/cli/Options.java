package net.tcpmssd.cli;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import joptsimple.OptionException;
import joptsimple.OptionParser;
import joptsimple.OptionSet;
import net.tcpmssd.mss.FixedMss;
import net.tcpmssd.mss.FixedMtu;
import net.tcpmssd.mss.InterfaceMtu;
import net.tcpmssd.mss.MssSource;
import net.tcpmssd.mss.PathMtu;

/**
 * The command line of BEHAVIOUR §1: {@code tcpmssd [-bv] -p port {-i iface | -m mtu}} in getopt(3)
 * grammar, plus long-option extensions that never change what the original flags mean.
 *
 * <p>jopt-simple does the grammar (clustered flags, attached or separate arguments, {@code --});
 * values are taken as strings and checked here so that every error has the original's wording.
 */
public record Options(
        boolean bothDirections,
        boolean verbose,
        boolean foreground,
        String pidfile,
        int queue,
        int queues,
        MssSource source,
        boolean addMss,
        MetricsAddress metrics,
        int queueLength,
        boolean waitForInterface,
        List<String> attach,
        boolean clsBpf,
        Firewall firewall,
        Action action) {

    /**
     * What the invocation asks for besides running: --print-rules prints the rules that queue the
     * SYNs (PRINT_RULES) or that remove them (--print-rules=delete: PRINT_DELETE_RULES);
     * --add-rules and --delete-rules apply the same and exit.
     */
    public enum Action { RUN, HELP, VERSION, PRINT_RULES, PRINT_DELETE_RULES, ADD_RULES, DELETE_RULES }

    /**
     * The format of the rules (--firewall): iptables by default, since Debian's iptables-nft
     * works on every kernel with nf_tables, while the nftables queue statement also needs
     * CONFIG_NFT_QUEUE.
     */
    public enum Firewall { IPTABLES, NFTABLES }

    static final int MIN_MTU = 68;   // RFC 791: every IPv4 module must forward 68 octets
    public static final int MAX_MTU = 65535;
    /**
     * Packets the kernel holds per queue waiting for a verdict: a burst of SYNs this long waits
     * to be clamped; beyond it fail-open passes them unclamped. Each costs kernel memory (about a
     * kilobyte), not ours.
     */
    public static final int DEFAULT_QUEUE_LENGTH = 16384;
    static final int MAX_QUEUE_LENGTH = 1_000_000;
    /** At most this many queues in a -p range: one thread each, far more than cores. */
    static final int MAX_QUEUES = 256;

    /**
     * At most this many interfaces in an --attach list: each costs two attachments and a lock
     * file, and a router with more small links runs one daemon per group of them.
     */
    static final int MAX_ATTACH = 64;

    /** The -p argument as given: "100", or "100-103" for a range. */
    public String queueSpec() {
        return queues == 1 ? Integer.toString(queue) : queue + "-" + (queue + queues - 1);
    }

    /** Detaches and logs to syslog: neither -v nor --foreground. */
    public boolean detaches() {
        return !verbose && !foreground;
    }

    /** The interface of -i, or null. */
    public String interfaceName() {
        return source.interfaceName();
    }

    public static Options parse(String... args) throws UsageException {
        Grammar g = new Grammar(args);
        if (g.help || g.version) {
            return new Options(false, false, false, null, 0, 0, null, false, null, 0, false, null, false, Firewall.IPTABLES,
                    g.help ? Action.HELP : Action.VERSION);
        }
        int mtu = 0;
        if (g.mtu != null) {
            mtu = decimal(g.mtu, MIN_MTU, MAX_MTU, "invalid MTU value");
        }
        int setMss = 0;
        if (g.setMss != null) {
            // TCP_MIN_MSS (88) is the least Linux itself will use; the largest an MSS field holds.
            setMss = decimal(g.setMss, 88, 65535, "invalid MSS value");
        }
        int queue = 0;
        int queues = 1;
        if (g.port != null) {
            // An extension for several queues (iptables --queue-balance A:B): -p A-B.
            int dash = g.port.indexOf('-', 1);
            queue = decimal(dash < 0 ? g.port : g.port.substring(0, dash), 0, 65535, "invalid port number");
            if (dash >= 0) {
                int last = decimal(g.port.substring(dash + 1), queue, Math.min(65535, queue + MAX_QUEUES - 1), "invalid port number");
                queues = last - queue + 1;
            }
        }
        int sources = (g.interfaceName != null ? 1 : 0) + (g.mtu != null ? 1 : 0) + (g.pmtu ? 1 : 0) + (g.setMss != null ? 1 : 0);
        // Exactly one packet source: the queue(s) of -p, or the interfaces of --attach (BEHAVIOUR §7).
        if ((g.port == null) == (g.attach == null) || sources != 1) {
            throw UsageException.usage();
        }
        List<String> attach = g.attach == null ? null : attachList(g.attach);
        if (attach == null && g.clsBpf) {
            throw UsageException.invalid("--cls-bpf chooses how --attach attaches");
        }
        if (attach != null && g.queueLength != null) {
            throw UsageException.invalid("--queue-length is for the queue of -p; --attach has none");
        }
        MetricsAddress metrics = g.metrics == null ? null : MetricsAddress.parse(g.metrics);
        if (g.interfaceName != null) {
            InterfaceName.check(g.interfaceName);
        } else if (g.waitForInterface && attach == null) {
            throw UsageException.invalid("--wait-for-interface waits for the interface of -i or --attach");
        }
        MssSource source = g.interfaceName != null ? new InterfaceMtu(g.interfaceName, g.waitForInterface)
                : g.mtu != null ? new FixedMtu(mtu)
                : g.pmtu ? new PathMtu()
                : new FixedMss(setMss);
        int queueLength = g.queueLength == null ? DEFAULT_QUEUE_LENGTH
                : decimal(g.queueLength, 1, MAX_QUEUE_LENGTH, "invalid queue length");
        Firewall firewall = firewall(g.firewall);
        Action action = action(g);
        if (action != Action.RUN && attach == null && firewall == Firewall.NFTABLES && g.interfaceName != null
                && g.interfaceName.indexOf('"') >= 0) {
            // nft strings have no escape for '"' (nft(8)); iptables can take the name.
            throw UsageException.invalid("nft cannot match an interface name containing '\"': use --firewall iptables");
        }
        return new Options(g.both, g.verbose, g.foreground, g.pidfile == null ? null : absolutePidfile(g.pidfile), queue, queues, source, g.addMss, metrics,
                queueLength, g.waitForInterface, attach, g.clsBpf, firewall, action);
    }

    private static Firewall firewall(String text) throws UsageException {
        if (text == null || text.equals("iptables")) {
            return Firewall.IPTABLES;
        }
        if (text.equals("nftables")) {
            return Firewall.NFTABLES;
        }
        throw UsageException.invalid("invalid firewall " + UsageException.quoted(text) + " (iptables or nftables)");
    }

    /**
     * Run, or one of the rule actions: at most one of them, since each ends the invocation.
     * --print-rules alone prints the rules that add; =add says so, =delete prints their removal.
     */
    private static Action action(Grammar g) throws UsageException {
        int asked = (g.printRules != null ? 1 : 0) + (g.addRules ? 1 : 0) + (g.deleteRules ? 1 : 0);
        if (asked > 1) {
            throw UsageException.invalid("--print-rules, --add-rules and --delete-rules exclude each other");
        }
        if (g.addRules) {
            return Action.ADD_RULES;
        }
        if (g.deleteRules) {
            return Action.DELETE_RULES;
        }
        if (g.printRules == null) {
            return Action.RUN;
        }
        return switch (g.printRules) {
            case "add" -> Action.PRINT_RULES;
            case "delete" -> Action.PRINT_DELETE_RULES;
            default -> throw UsageException.invalid("invalid --print-rules value " + UsageException.quoted(g.printRules) + " (add or delete)");
        };
    }

    /**
     * The --attach list: interface names separated by commas, each checked as -i's is; a name
     * given twice is refused (it would be attached to twice), and so is an empty one ("wan0,").
     */
    private static List<String> attachList(String text) throws UsageException {
        List<String> names = List.of(text.split(",", -1));
        if (names.size() > MAX_ATTACH) {
            throw UsageException.invalid("--attach takes at most " + MAX_ATTACH + " interfaces");
        }
        for (int i = 0; i < names.size(); i++) {
            InterfaceName.check(names.get(i));
            if (names.subList(0, i).contains(names.get(i))) {
                throw UsageException.invalid("interface " + UsageException.quoted(names.get(i)) + " given twice to --attach");
            }
        }
        return names;
    }

    /**
     * The --pidfile path made absolute against the directory tcpmssd was started in: the detached
     * daemon works in "/" (daemon(3)), where a relative path would name another file.
     */
    private static String absolutePidfile(String text) throws UsageException {
        // A control character is legal in a file name, but no pidfile needs one, and it would break
        // the one-line messages that name the file.
        if (!text.isEmpty() && text.codePoints().noneMatch(Character::isISOControl)) {
            try {
                return Path.of(text).toAbsolutePath().toString(); // not normalized: "dir/.." is not "." when dir is a link
            } catch (InvalidPathException e) {
                // not a path on this system: told below
            }
        }
        throw UsageException.invalid("invalid pidfile path " + UsageException.quoted(text));
    }

    /** A plain decimal number in range: no sign, no spaces, no hex (strtol would stop early; we refuse). */
    private static int decimal(String text, int min, int max, String error) throws UsageException {
        // Nine digits always fit an int; the range check below does the rest.
        if (text.isEmpty() || text.length() > 9 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw UsageException.invalid(error);
        }
        int value = Integer.parseInt(text);
        if (value < min || value > max) {
            throw UsageException.invalid(error);
        }
        return value;
    }

    public static String help() {
        return UsageException.USAGE + "\n"
                + "\n"
                + "Lowers the TCP MSS option of SYN segments, queued by netfilter (NFQUEUE) or seen by\n"
                + "its in-kernel program (--attach), to the largest that fits the MTU: MTU-40 for\n"
                + "IPv4, MTU-60 for IPv6.\n"
                + "\n"
                + "  -p port        NFQUEUE queue number to bind (0-65535); A-B binds queues A to B,\n"
                + "                 one thread each (iptables --queue-balance A:B)\n"
                + "  --attach IFACE[,IFACE...]  instead of -p: clamp in the kernel, with a BPF program\n"
                + "                 at each interface's egress (and ingress with -b); no firewall rule\n"
                + "  --cls-bpf      with --attach: attach with a clsact qdisc and cls_bpf, even where\n"
                + "                 the kernel has tcx (Linux 6.6 and later)\n"
                + "  -m mtu         clamp for this MTU (68-65535)\n"
                + "  -i iface       clamp for this interface's MTU\n"
                + "  --wait-for-interface  with -i or --attach: if an interface is missing, start\n"
                + "                 and wait for it\n"
                + "  -b             treat incoming packets too (PREROUTING, INPUT); default: outgoing only\n"
                + "  -v             stay in the foreground and log every change to stderr\n"
                + "  --foreground   stay in the foreground without per-packet lines (for supervisors)\n"
                + "  --pidfile path where to write the pid (default /var/run/tcpmssd.IFACE.pid or .PORT.pid)\n"
                + "  --pmtu         instead of -i/-m: per SYN, the path MTU toward its destination and back\n"
                + "  --set-mss N    instead of -i/-m: clamp to MSS N (88-65535), both IP versions\n"
                + "  --add-mss      give SYNs without an MSS option one (536 IPv4, 1220 IPv6, or less)\n"
                + "  --print-rules  print the firewall rules that queue the SYNs for these options (a sh\n"
                + "                 script for iptables, an nft -f file); --print-rules=delete: their removal\n"
                + "  --add-rules    apply those rules (idempotent: once is the same as twice) and exit\n"
                + "  --delete-rules remove them (absent rules are fine) and exit\n"
                + "  --firewall iptables|nftables  the rules' format (default iptables: iptables and\n"
                + "                 ip6tables; nftables needs a kernel with CONFIG_NFT_QUEUE)\n"
                + "  --metrics ADDR:PORT  serve the counters for Prometheus (e.g. 127.0.0.1:9815)\n"
                + "  --queue-length N  packets the kernel holds per queue for a verdict (default 16384)\n"
                + "  --help         print this help\n"
                + "  --version      print the version\n"
                + "\n"
                + "SIGUSR2 stops the daemon and leaves the --attach program in place, clamping at the\n"
                + "last maximum until the next daemon replaces it; SIGTERM takes it away.\n"
                + "\n"
                + "With -p, queue the SYNs to it: tcpmssd --add-rules -p 100 -i ppp0 adds rules like\n"
                + "  iptables -t mangle -A FORWARD -o ppp0 -p tcp --tcp-flags SYN,RST SYN \\\n"
                + "           -j NFQUEUE --queue-num 100 --queue-bypass\n";
    }

    /**
     * The grammar, by jopt-simple, given the words as getopt(3) reads them (see
     * {@link #asGetoptReadsThem}). Its classes are modern class files, which the JDK's AOT cache
     * can hold: picocli's (Java 5) could not, and loading and verifying them cost a tenth of a
     * second at every start (BENCHMARKS.md).
     */
    private static final class Grammar {
        private static final String SHORT_FLAGS = "bv";
        private static final String SHORT_VALUES = "pim";
        private static final List<String> LONG_FLAGS = List.of("foreground", "pmtu", "add-mss", "wait-for-interface",
                "cls-bpf", "add-rules", "delete-rules", "help", "version");
        private static final List<String> LONG_VALUES = List.of("pidfile", "set-mss", "metrics", "queue-length", "attach", "firewall");
        /** Long options whose value, optional, can only be attached with '=' (getopt_long's optional_argument). */
        private static final List<String> LONG_OPTIONAL = List.of("print-rules");
        private static final String PRINT_RULES_DEFAULT = "add";

        final boolean both;
        final boolean verbose;
        final String port;
        final String interfaceName;
        final String mtu;
        final boolean foreground;
        final String pidfile;
        final boolean pmtu;
        final String setMss;
        final boolean addMss;
        /** The --print-rules value ("add" when none is attached), or null. */
        final String printRules;
        final boolean addRules;
        final boolean deleteRules;
        final String firewall;
        final String metrics;
        final String queueLength;
        final boolean waitForInterface;
        final String attach;
        final boolean clsBpf;
        final boolean help;
        final boolean version;
        private final OptionSet set;

        Grammar(String... args) throws UsageException {
            OptionParser parser = new OptionParser(false); // no abbreviated long options
            for (char flag : SHORT_FLAGS.toCharArray()) {
                parser.accepts(String.valueOf(flag));
            }
            for (char option : SHORT_VALUES.toCharArray()) {
                parser.accepts(String.valueOf(option)).withRequiredArg();
            }
            LONG_FLAGS.forEach(parser::accepts);
            LONG_VALUES.forEach(option -> parser.accepts(option).withRequiredArg());
            LONG_OPTIONAL.forEach(option -> parser.accepts(option).withOptionalArg());
            try {
                set = parser.parse(asGetoptReadsThem(args));
            } catch (OptionException e) {
                throw UsageException.usage();
            }
            if (!set.nonOptionArguments().isEmpty()) {
                throw UsageException.usage(); // no operands, also none after "--"
            }
            both = set.has("b");
            verbose = set.has("v");
            port = last("p");
            interfaceName = last("i");
            mtu = last("m");
            foreground = set.has("foreground");
            pidfile = last("pidfile");
            pmtu = set.has("pmtu");
            setMss = last("set-mss");
            addMss = set.has("add-mss");
            printRules = last("print-rules");
            addRules = set.has("add-rules");
            deleteRules = set.has("delete-rules");
            firewall = last("firewall");
            metrics = last("metrics");
            queueLength = last("queue-length");
            waitForInterface = set.has("wait-for-interface");
            attach = last("attach");
            clsBpf = set.has("cls-bpf");
            help = set.has("help");
            version = set.has("version");
        }

        /**
         * The words rewritten so that jopt-simple reads them as getopt(3) does: each short option a
         * word of its own, its argument the next ("-vbp100" becomes "-v" "-b" "-p" "100"). getopt
         * takes an option's argument from the rest of its word, else from the next word, whatever
         * it looks like: "-p -b", "-p=1" and "-pmtu" give the port "-b", "=1" and "mtu", where
         * jopt-simple alone would read "-p=1" as port 1 and "-pmtu" as --pmtu. Long options, "--"
         * and what follows pass as they are, but not the long options getopt_long(3) refuses: one of
         * a single letter ("--p"), or a value given to a flag ("--foreground=x").
         */
        private static String[] asGetoptReadsThem(String[] args) throws UsageException {
            List<String> words = new ArrayList<>();
            int next = 0;
            while (next < args.length && !args[next].equals("--")) {
                String word = args[next++];
                if (word.startsWith("--")) {
                    int equals = word.indexOf('=');
                    String name = word.substring(2, equals < 0 ? word.length() : equals);
                    if (name.length() == 1 || (equals >= 0 && LONG_FLAGS.contains(name))) {
                        throw UsageException.usage();
                    }
                    if (equals < 0 && LONG_OPTIONAL.contains(name)) {
                        // getopt_long takes an optional value only after '='; jopt-simple would take
                        // the next word, so the default is made explicit.
                        word = word + "=" + PRINT_RULES_DEFAULT;
                    }
                    words.add(word);
                    if (equals < 0 && LONG_VALUES.contains(name) && next < args.length) {
                        words.add(args[next++]); // its value, whatever it looks like
                    }
                } else if (word.startsWith("-") && word.length() > 1) {
                    for (int at = 1; at < word.length(); at++) {
                        char option = word.charAt(at);
                        if (SHORT_FLAGS.indexOf(option) < 0 && SHORT_VALUES.indexOf(option) < 0) {
                            throw UsageException.usage();
                        }
                        words.add("-" + option);
                        if (SHORT_VALUES.indexOf(option) >= 0) {
                            if (at + 1 < word.length()) {
                                words.add(word.substring(at + 1));
                            } else if (next < args.length) {
                                words.add(args[next++]);
                            }
                            break;
                        }
                    }
                } else {
                    words.add(word); // an operand: refused once parsed
                }
            }
            words.addAll(List.of(args).subList(next, args.length)); // "--" and what follows
            return words.toArray(String[]::new);
        }

        /** Like getopt, an option given twice takes its last value. */
        private String last(String option) {
            List<?> values = set.valuesOf(option);
            return values.isEmpty() ? null : (String) values.getLast();
        }
    }
}
