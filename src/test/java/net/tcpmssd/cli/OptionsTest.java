package net.tcpmssd.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.tcpmssd.mss.FixedMss;
import net.tcpmssd.mss.FixedMtu;
import net.tcpmssd.mss.InterfaceMtu;
import net.tcpmssd.mss.PathMtu;
import java.util.List;
import org.junit.jupiter.api.Test;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** BEHAVIOUR §1: the getopt grammar, every error with its exact line. */
class OptionsTest {

    private static final String USAGE = "usage: tcpmssd [-bv] -p port {-i iface | -m mtu}";

    @Test
    void separateArguments() throws Exception {
        Options o = Options.parse("-p", "100", "-m", "1280");
        assertThat(o.queue()).isEqualTo(100);
        assertThat(o.source()).isEqualTo(new FixedMtu(1280));
        assertThat(o.interfaceName()).isNull();
        assertThat(o.bothDirections()).isFalse();
        assertThat(o.verbose()).isFalse();
    }

    @Test
    void attachedArgumentsAndClusteredFlags() throws Exception {
        Options o = Options.parse("-bv", "-p100", "-m1492");
        assertThat(o.bothDirections()).isTrue();
        assertThat(o.verbose()).isTrue();
        assertThat(o.queue()).isEqualTo(100);
        assertThat(o.source()).isEqualTo(new FixedMtu(1492));
    }

    @Test
    void clusterEndingInAnOptionTakesTheNextArgument() throws Exception {
        Options o = Options.parse("-vbp", "7", "-i", "ppp0");
        assertThat(o.verbose()).isTrue();
        assertThat(o.bothDirections()).isTrue();
        assertThat(o.queue()).isEqualTo(7);
        assertThat(o.interfaceName()).isEqualTo("ppp0");
        assertThat(o.interfaceName()).isNotNull();
    }

    @Test
    void clusterWithAttachedArgument() throws Exception {
        Options o = Options.parse("-vp65535", "-m68");
        assertThat(o.queue()).isEqualTo(65535);
        assertThat(o.source()).isEqualTo(new FixedMtu(68));
    }

    @Test
    void doubleDashEndsOptions() throws Exception {
        assertThat(Options.parse("-p", "0", "-m", "65535", "--").queue()).isZero();
        assertUsage("-p", "1", "--", "-m", "1280");
    }

    @Test
    void loneDashOperandIsRefused() {
        // getopt(3) reads a lone "-" as an operand (the conventional name of standard input), and
        // tcpmssd takes no operands.
        assertUsage("-p", "1", "-m", "1280", "-");
        assertUsage("-", "-p", "1", "-m", "1280");
    }

    @Test
    void operandOfFlagLettersIsRefused() {
        assertUsage("-p", "1", "-m", "1280", "bv");
    }

    @Test
    void dashInsideAClusterIsRefused() {
        // getopt: "invalid option -- '-'"; it must not end the options as "--" would.
        assertUsage("-p", "1", "-m", "1280", "-b-");
        assertUsage("-p", "1", "-m", "1280", "-v-b");
    }

    @Test
    void longOptionMissingItsValueIsAUsageError() {
        assertUsage("-p", "1", "-m", "1280", "--pidfile");
        assertUsage("-p", "1", "-m", "1280", "--metrics");
    }

    @Test
    void wordAfterALongFlagIsReadAsGetoptReadsIt() {
        // A flag takes no value: the word after it is read on its own, "-p=1" as -p "=1".
        assertInvalid("invalid port number", "--foreground", "-p=1", "-m", "1280");
        // A long option with its value attached takes no more: the same for the word after it.
        assertInvalid("invalid port number", "--pidfile=/run/t.pid", "-p=1", "-m", "1280");
    }

    @Test
    void lastOccurrenceWinsAsWithGetopt() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1400", "-m", "1280").source()).isEqualTo(new FixedMtu(1280));
    }

    @Test
    void optionArgumentMayLookLikeAnOption() {
        assertInvalid("invalid port number", "-p", "-b", "-m", "1280");
    }

    @Test
    void grammarErrorsPrintTheUsageLine() {
        assertUsage();
        assertUsage("-p", "100");
        assertUsage("-m", "1280");
        assertUsage("-p", "100", "-m", "1280", "-i", "eth0");
        assertUsage("-p", "100", "-m", "1280", "extra");
        assertUsage("-x", "-p", "100", "-m", "1280");
        assertUsage("-p", "100", "-m");
        assertUsage("-p");
        assertUsage("--nonsense", "-p", "1", "-m", "1280");
    }

    @ParameterizedTest
    @ValueSource(strings = {"67", "65536", "0", "abc", "", "-5", "+1280", "1280x", " 1280", "0x500", "99999999999"})
    void invalidMtu(String mtu) {
        assertInvalid("invalid MTU value", "-p", "100", "-m", mtu);
    }

    @ParameterizedTest
    @ValueSource(strings = {"65536", "-1", "abc", "", "1e3", "100 "})
    void invalidPort(String port) {
        assertInvalid("invalid port number", "-p", port, "-m", "1280");
    }

    @Test
    void boundsAreInclusive() throws Exception {
        assertThat(Options.parse("-p", "65535", "-m", "68").source()).isEqualTo(new FixedMtu(68));
        assertThat(Options.parse("-p", "0", "-m", "65535").source()).isEqualTo(new FixedMtu(65535));
    }

    @Test
    void queueRangeIsAnExtensionOfMinusP() throws Exception {
        Options range = Options.parse("-p", "100-103", "-m", "1280");
        assertThat(range.queue()).isEqualTo(100);
        assertThat(range.queues()).isEqualTo(4);
        assertThat(range.queueSpec()).isEqualTo("100-103");
        Options single = Options.parse("-p", "7", "-m", "1280");
        assertThat(single.queues()).isEqualTo(1);
        assertThat(single.queueSpec()).isEqualTo("7");
        assertThat(Options.parse("-p", "5-5", "-m", "1280").queues()).isEqualTo(1);
    }

    @Test
    void moreThan256QueuesIsRefused() throws Exception {
        assertThat(Options.parse("-p", "0-255", "-m", "1280").queues()).isEqualTo(256);
        assertThat(Options.parse("-p", "65280-65535", "-m", "1280").queues()).isEqualTo(256);
        assertInvalid("invalid port number", "-p", "0-256", "-m", "1280");
        assertInvalid("invalid port number", "-p", "1000-1256", "-m", "1280");
    }

    @ParameterizedTest
    @ValueSource(strings = {"100-99", "100-", "-100", "100--101", "100-65536", "1-1000", "a-b", "100-101-102"})
    void invalidQueueRange(String port) {
        assertInvalid("invalid port number", "-p", port, "-m", "1280");
    }

    @Test
    void mssSourcesAreExclusive() throws Exception {
        assertThat(Options.parse("-p", "1", "--pmtu").source()).isEqualTo(new PathMtu());
        assertThat(Options.parse("-p", "1", "--set-mss", "1400").source()).isEqualTo(new FixedMss(1400));
        assertThat(Options.parse("-p", "1", "-i", "ppp0").source()).isEqualTo(new InterfaceMtu("ppp0"));
        assertUsage("-p", "1", "--pmtu", "-m", "1280");
        assertUsage("-p", "1", "--set-mss", "1400", "-i", "ppp0");
        assertUsage("-p", "1", "--pmtu", "--set-mss", "1400");
        assertUsage("-p", "1", "--add-mss");
    }

    @ParameterizedTest
    @ValueSource(strings = {"87", "65536", "x", "", "-1"})
    void invalidSetMss(String mss) {
        assertInvalid("invalid MSS value", "-p", "1", "--set-mss", mss);
    }

    @Test
    void extensionsLeaveTheOriginalFlagsAlone() throws Exception {
        Options o = Options.parse("-bv", "-p", "100", "-m", "1280", "--add-mss", "--metrics", "127.0.0.1:9815");
        assertThat(o.bothDirections()).isTrue();
        assertThat(o.verbose()).isTrue();
        assertThat(o.addMss()).isTrue();
        assertThat(o.metrics()).hasToString("127.0.0.1:9815");
        assertThat(Options.parse("-p", "100", "-m", "1280", "--print-rules").action()).isEqualTo(Options.Action.PRINT_RULES);
    }

    @Test
    void ruleActionsAndTheirFormat() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1280").firewall()).isEqualTo(Options.Firewall.IPTABLES);
        assertThat(Options.parse("-p", "1", "-m", "1280", "--firewall", "nftables").firewall()).isEqualTo(Options.Firewall.NFTABLES);
        assertThat(Options.parse("-p", "1", "-m", "1280", "--firewall=iptables").firewall()).isEqualTo(Options.Firewall.IPTABLES);
        assertThat(Options.parse("-p", "1", "-m", "1280", "--firewall", "nftables").action()).isEqualTo(Options.Action.RUN);
        assertThat(Options.parse("--print-rules=add", "-p", "1", "-m", "1280").action()).isEqualTo(Options.Action.PRINT_RULES);
        assertThat(Options.parse("--print-rules=delete", "-p", "1", "-m", "1280").action()).isEqualTo(Options.Action.PRINT_DELETE_RULES);
        // The unit's ExecStartPost/ExecStopPost give the same options as its ExecStart.
        for (String action : List.of("--add-rules", "--delete-rules")) {
            Options o = Options.parse(action, "-i", "ppp0", "-bv", "-p", "100-103", "--foreground", "--pidfile", "/run/x.pid",
                    "--metrics", "9815", "--wait-for-interface", "--queue-length", "100", "--add-mss", "--firewall", "iptables");
            assertThat(o.action()).isEqualTo(action.equals("--add-rules") ? Options.Action.ADD_RULES : Options.Action.DELETE_RULES);
            assertThat(o.interfaceName()).isEqualTo("ppp0");
            assertThat(Options.parse(action, "--attach", "wan0", "-m", "1400", "--cls-bpf").action()).isEqualTo(o.action());
        }
        assertInvalid("invalid firewall \"ipfw\" (iptables or nftables)", "-p", "1", "-m", "1280", "--firewall", "ipfw");
        assertInvalid("invalid firewall \"\" (iptables or nftables)", "-p", "1", "-m", "1280", "--firewall", "");
        assertInvalid("invalid --print-rules value \"remove\" (add or delete)", "--print-rules=remove", "-p", "1", "-m", "1280");
        assertInvalid("--print-rules, --add-rules and --delete-rules exclude each other", "--add-rules", "--delete-rules", "-p", "1", "-m", "1280");
        assertInvalid("--print-rules, --add-rules and --delete-rules exclude each other", "--print-rules", "--add-rules", "-p", "1", "-m", "1280");
        assertInvalid("nft cannot match an interface name containing '\"': use --firewall iptables",
                "--add-rules", "--firewall", "nftables", "-p", "1", "-i", "a\"b");
        // A run needs no rule text: the same name is fine there.
        assertThat(Options.parse("--firewall", "nftables", "-p", "1", "-i", "a\"b").action()).isEqualTo(Options.Action.RUN);
        // getopt_long: an optional value only after '='; a separate word is an operand.
        assertUsage("--print-rules", "delete", "-p", "1", "-m", "1280");
        assertUsage("--add-rules=x", "-p", "1", "-m", "1280");
        assertUsage("--firewall");
    }

    @Test
    void metricsAddresses() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "9815").metrics()).hasToString("127.0.0.1:9815");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "0.0.0.0:9815").metrics()).hasToString("0.0.0.0:9815");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "[::1]:9815").metrics()).hasToString("[::1]:9815");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "[::]:9100").metrics().ipv6()).isTrue();
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "0.0.0.0:9100").metrics().ipv6()).isFalse();
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "localhost:1").metrics().socketAddress()).hasToString("/127.0.0.1:1");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--metrics", "255.255.255.255:1").metrics()).hasToString("255.255.255.255:1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"::1:9815", "host:", ":80", "1.2.3.4:99999", "a b:1",
            // names are not looked up: literal addresses only (a DNS query at start, as root, answered by anyone)
            "abc:9100", "router.example:9100", "[localhost]:9100",
            // inet_aton(3) would read these as 1.2.0.3, 0.0.0.1, octal 8.0.0.1 and 0x7f000001
            "1.2.3:9100", "1:9100", "010.0.0.1:9100", "0x7f.0.0.1:9100", "1.2.3.256:9100", "1.2.3.4.5:9100", "1..3.4:9100",
            "[]:9100", "[1.2.3.4]:9100", "[::ffff:192.0.2.1]:9100", "[2001:db8::1::2]:9100", "[fe80::1%eth0]:9100"})
    void invalidMetricsAddress(String address) {
        assertInvalid("invalid metrics address \"" + address + "\"" + (address.equals("::1:9815") ? " (write IPv6 as [addr]:port)" : ""),
                "-p", "1", "-m", "1280", "--metrics", address);
    }

    @Test
    void aQueueLengthUpToTheDocumentedMaximumIsAccepted() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1280", "--queue-length", "1000000").queueLength()).isEqualTo(1_000_000);
        assertThat(Options.parse("-p", "1", "-m", "1280", "--queue-length", "1").queueLength()).isEqualTo(1);
    }

    @Test
    void leadingZerosAreDecimalUpToNineDigits() throws Exception {
        // strtol(3) base 10 reads them as the number; nine digits always fit the int they are read into.
        assertThat(Options.parse("-p", "1", "-m", "1280", "--queue-length", "001000000").queueLength()).isEqualTo(1_000_000);
        assertThat(Options.parse("-p", "010", "-m", "1280").queue()).isEqualTo(10);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "1000001", "9999999999", "-1", "1e6", ""})
    void invalidQueueLength(String length) {
        assertInvalid("invalid queue length", "-p", "1", "-m", "1280", "--queue-length", length);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ppp0", "eth0.100", "wg-home", "123456789012345", "-b", "=eth0", "caf\u00e9", "x", ".a", "..."})
    void validInterfaceNames(String name) throws Exception {
        assertThat(Options.parse("-p", "1", "-i", name).interfaceName()).isEqualTo(name);
    }

    @Test
    void anInterfaceNameLinuxCannotHaveIsOneClearLine() {
        String rule = " (Linux allows 1 to 15 bytes, without white space, control characters, '/' or ':')";
        assertInvalid("invalid interface name \"ppp0\\nx\"" + rule, "-p", "1", "-i", "ppp0\nx");
        assertInvalid("invalid interface name \"1234567890123456\"" + rule, "-p", "1", "-i", "1234567890123456");
        assertInvalid("invalid interface name \"\"" + rule, "-p", "1", "-i", "");
        assertInvalid("invalid interface name \"a b\"" + rule, "-p", "1", "-i", "a b");
        assertInvalid("invalid interface name \"eth0:1\"" + rule, "-p", "1", "-i", "eth0:1");
        assertInvalid("invalid interface name \"a/b\"" + rule, "-p", "1", "-i", "a/b");
        assertInvalid("invalid interface name \"..\"" + rule, "-p", "1", "-i", "..");
        assertInvalid("invalid interface name \".\"" + rule, "-p", "1", "-i", ".");
        assertInvalid("invalid interface name \"a\\x1b[2Jb\"" + rule, "-p", "1", "-i", "a\u001b[2Jb");
        assertInvalid("invalid interface name \"a\\tb\\\\\\\"\"" + rule, "-p", "1", "-i", "a\tb\\\"");
        // 15 characters but 16 bytes in UTF-8: IFNAMSIZ counts bytes
        assertInvalid("invalid interface name \"12345678901234\u00e9\"" + rule, "-p", "1", "-i", "12345678901234\u00e9");
        // U+00E0 is C3 A0 in UTF-8, and the kernel's isspace() takes byte 0xA0 for a space
        assertInvalid("invalid interface name \"\u00e0\"" + rule, "-p", "1", "-i", "\u00e0");
        // --print-rules writes the name into rules: the same check
        assertInvalid("invalid interface name \"x\\ny\"" + rule, "--print-rules", "-p", "1", "-i", "x\ny");
    }

    @Test
    void waitingForTheInterfaceIsAskedForAndNeedsMinusI() throws Exception {
        assertThat(Options.parse("-p", "1", "-i", "ppp0").waitForInterface()).as("unasked, a missing interface is an error").isFalse();
        assertThat(Options.parse("-p", "1", "-i", "ppp0", "--wait-for-interface").waitForInterface()).isTrue();
        assertInvalid("--wait-for-interface waits for the interface of -i or --attach", "-p", "1", "-m", "1280", "--wait-for-interface");
        assertThat(Options.parse("--attach", "ppp0", "-m", "1280", "--wait-for-interface").waitForInterface()).isTrue();
        assertUsage("-p", "1", "-i", "ppp0", "--wait-for-interface=yes");
    }

    @Test
    void aMetricsAddressWithANewlineIsOneLine() {
        assertInvalid("invalid metrics address \"127.0.0.1\\nfake:9100\"", "-p", "1", "-m", "1280", "--metrics", "127.0.0.1\nfake:9100");
    }

    @Test
    void helpAndVersion() throws Exception {
        assertThat(Options.parse("--help").action()).isEqualTo(Options.Action.HELP);
        assertThat(Options.parse("--version").action()).isEqualTo(Options.Action.VERSION);
        assertThat(Options.help()).startsWith(USAGE);
    }

    @Test
    void runningIsTheDefaultActionAndDetachingTheDefaultMode() throws Exception {
        Options o = Options.parse("-p", "1", "-m", "1280");
        assertThat(o.action()).isEqualTo(Options.Action.RUN);
        assertThat(o.detaches()).isTrue();
        assertThat(o.queueLength()).isEqualTo(Options.DEFAULT_QUEUE_LENGTH);
        assertThat(o.pidfile()).isNull();
        assertThat(o.addMss()).isFalse();
        assertThat(o.metrics()).isNull();
        assertThat(Options.parse("-v", "-p", "1", "-m", "1280").detaches()).isFalse();
        assertThat(Options.parse("--foreground", "-p", "1", "-m", "1280").detaches()).isFalse();
    }

    @Test
    void queueLengthIsTaken() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1280", "--queue-length", "1").queueLength()).isEqualTo(1);
        assertThat(Options.parse("-p", "1", "-m", "1280", "--queue-length", "100000").queueLength()).isEqualTo(100000);
        assertInvalid("invalid queue length", "-p", "1", "-m", "1280", "--queue-length", "0");
        assertInvalid("invalid queue length", "-p", "1", "-m", "1280", "--queue-length", "-5");
    }

    @Test
    void metricsAddressKeepsItsPortAndBrackets() throws Exception {
        MetricsAddress highest = MetricsAddress.parse("127.0.0.1:65535");
        assertThat(highest.port()).isEqualTo(65535);
        assertThat(highest.socketAddress().getPort()).isEqualTo(65535);
        assertThat(highest.socketAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(MetricsAddress.parse("[2001:db8::1]:9815")).hasToString("[2001:db8::1]:9815");
        assertThatThrownBy(() -> MetricsAddress.parse("127.0.0.1:65536")).isInstanceOf(UsageException.class);
    }

    @ParameterizedTest
    // Without its opening bracket, 2001:db8::1] must not be read as [001:db8::1], its first and last characters dropped.
    @ValueSource(strings = {"[::1:9815", "::1]:9815", "[[::1]:9815", "2001:db8::1]:9815"})
    void unbalancedBracketsAreNoMetricsAddress(String address) {
        assertThatThrownBy(() -> Options.parse("-p", "1", "-m", "1280", "--metrics", address))
                .isInstanceOfSatisfying(UsageException.class,
                        e -> assertThat(e.line()).startsWith("tcpmssd: invalid metrics address "));
    }

    @Test
    void foregroundIsAnExtensionBesideTheOriginalFlags() throws Exception {
        Options o = Options.parse("--foreground", "-p", "3", "-m", "1500");
        assertThat(o.foreground()).isTrue();
        assertThat(o.verbose()).isFalse();
    }

    @Test
    void refusesWordsGetoptRefuses() {
        assertUsage("-p", "1", "-m", "1280", "-b=1");          // '=' is no option
        assertUsage("-p", "1", "-m", "1280", "-vx");
        assertUsage("-p", "1", "-m", "1280", "--foreground=yes");
        assertUsage("--p", "1", "-m", "1280");                // short options have no long form
        assertUsage("-p", "1", "--m", "1280");
        assertUsage("--b", "-p", "1", "-m", "1280");
    }

    @Test
    void readsClustersAsGetoptDoes() throws UsageException {
        assertInvalid("invalid port number", "-pmtu", "-m", "1280");   // -p "mtu", not --pmtu
        assertInvalid("invalid port number", "-p=1", "-m", "1280");    // -p "=1"
        assertInvalid("invalid MTU value", "-p", "1", "-m=1280");
        assertThat(Options.parse("-m", "1280", "-pidfile", "-p", "1").queue()).isEqualTo(1); // -p "idfile", then -p 1
        assertThat(Options.parse("-p1", "-i=eth0").interfaceName()).isEqualTo("=eth0");
    }

    @Test
    void takesWhatLooksLikeAnOptionAsAValue() throws UsageException {
        assertThat(Options.parse("-p", "1", "-m", "1280", "--pidfile", "-b=1").pidfile()).isEqualTo(inStartDirectory("-b=1"));
        assertThat(Options.parse("-p", "1", "-m", "1280", "--pidfile=--pmtu").pidfile()).isEqualTo(inStartDirectory("--pmtu"));
        assertThat(Options.parse("-vbp", "1", "-i", "-pmtu").interfaceName()).isEqualTo("-pmtu");
        assertThat(Options.parse("-p1", "-i-b=1").interfaceName()).isEqualTo("-b=1");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--pidfile", "--").pidfile()).isEqualTo(inStartDirectory("--"));
        assertThat(Options.parse("-p", "1", "--set-mss=1300").source()).isEqualTo(new FixedMss(1300));
    }

    @Test
    void aRelativePidfileIsTakenFromTheDirectoryTcpmssdStartsIn() throws Exception {
        // The detached daemon works in "/": resolved later, "run/t.pid" would become /run/t.pid.
        String cwd = System.getProperty("user.dir");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--pidfile", "run/t.pid").pidfile()).isEqualTo(cwd + "/run/t.pid");
        assertThat(Options.parse("-p", "1", "-m", "1280", "--pidfile", "/run/t.pid").pidfile()).isEqualTo("/run/t.pid");
        assertInvalid("invalid pidfile path \"\"", "-p", "1", "-m", "1280", "--pidfile", "");
        assertInvalid("invalid pidfile path \"a\\nb.pid\"", "-p", "1", "-m", "1280", "--pidfile", "a\nb.pid");
    }

    private static String inStartDirectory(String name) {
        return Path.of(System.getProperty("user.dir"), name).toString();
    }

    private static void assertUsage(String... args) {
        assertThatThrownBy(() -> Options.parse(args))
                .isInstanceOfSatisfying(UsageException.class, e -> assertThat(e.line()).isEqualTo(USAGE));
    }

    @Test
    void attachIsAPacketSourceInPlaceOfP() throws Exception {
        Options o = Options.parse("--attach", "wan0,ppp0", "-i", "ppp0", "-b");
        assertThat(o.attach()).containsExactly("wan0", "ppp0");
        assertThat(o.clsBpf()).isFalse();
        assertThat(o.bothDirections()).isTrue();
        assertThat(Options.parse("--attach=wan0", "-m", "1280", "--cls-bpf").clsBpf()).isTrue();
        assertThat(Options.parse("-p", "100", "-m", "1280").attach()).isNull();
        assertUsage("--attach", "wan0");
        assertUsage("--attach", "wan0", "-p", "100", "-m", "1280");
        assertUsage("--attach");
    }

    @Test
    void attachNamesAreCheckedAsInterfaceNames() {
        assertInvalid("invalid interface name \"\" (Linux allows 1 to 15 bytes, without white space, control characters, '/' or ':')",
                "--attach", "wan0,", "-m", "1280");
        assertInvalid("invalid interface name \"a/b\" (Linux allows 1 to 15 bytes, without white space, control characters, '/' or ':')",
                "--attach", "a/b", "-m", "1280");
        assertInvalid("interface \"wan0\" given twice to --attach", "--attach", "wan0,wan0", "-m", "1280");
        assertInvalid("--attach takes at most 64 interfaces", "--attach", "e,".repeat(64) + "e", "-m", "1280");
    }

    @Test
    void attachRefusesWhatOnlyTheQueueHasAndTakesPmtu() throws Exception {
        assertInvalid("--queue-length is for the queue of -p; --attach has none", "--attach", "wan0", "-m", "1280", "--queue-length", "10");
        assertThat(Options.parse("--attach", "wan0", "--pmtu").source()).isInstanceOf(net.tcpmssd.mss.PathMtu.class);
        assertThat(Options.parse("-b", "--attach", "wan0", "--pmtu").bothDirections()).isTrue();
        assertInvalid("--cls-bpf chooses how --attach attaches", "-p", "100", "-m", "1280", "--cls-bpf");
        assertUsage("--cls-bpf=yes", "--attach", "wan0", "-m", "1280");
    }

    private static void assertInvalid(String message, String... args) {
        assertThatThrownBy(() -> Options.parse(args))
                .isInstanceOfSatisfying(UsageException.class, e -> assertThat(e.line()).isEqualTo("tcpmssd: " + message));
    }
}
