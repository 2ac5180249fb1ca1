package net.tcpmssd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** SPEC §1: the getopt grammar, every error with its exact line. */
class OptionsTest {

    private static final String USAGE = "usage: tcpmssd [-bv] -p port {-i iface | -m mtu}";

    @Test
    void separateArguments() throws Exception {
        Options o = Options.parse("-p", "100", "-m", "1280");
        assertThat(o.queue()).isEqualTo(100);
        assertThat(o.mtu()).isEqualTo(1280);
        assertThat(o.followsInterface()).isFalse();
        assertThat(o.bothDirections()).isFalse();
        assertThat(o.verbose()).isFalse();
    }

    @Test
    void attachedArgumentsAndClusteredFlags() throws Exception {
        Options o = Options.parse("-bv", "-p100", "-m1492");
        assertThat(o.bothDirections()).isTrue();
        assertThat(o.verbose()).isTrue();
        assertThat(o.queue()).isEqualTo(100);
        assertThat(o.mtu()).isEqualTo(1492);
    }

    @Test
    void clusterEndingInAnOptionTakesTheNextArgument() throws Exception {
        Options o = Options.parse("-vbp", "7", "-i", "ppp0");
        assertThat(o.verbose()).isTrue();
        assertThat(o.bothDirections()).isTrue();
        assertThat(o.queue()).isEqualTo(7);
        assertThat(o.interfaceName()).isEqualTo("ppp0");
        assertThat(o.followsInterface()).isTrue();
    }

    @Test
    void clusterWithAttachedArgument() throws Exception {
        Options o = Options.parse("-vp65535", "-m68");
        assertThat(o.queue()).isEqualTo(65535);
        assertThat(o.mtu()).isEqualTo(68);
    }

    @Test
    void doubleDashEndsOptions() throws Exception {
        assertThat(Options.parse("-p", "0", "-m", "65535", "--").queue()).isZero();
        assertUsage("-p", "1", "--", "-m", "1280");
    }

    @Test
    void lastOccurrenceWinsAsWithGetopt() throws Exception {
        assertThat(Options.parse("-p", "1", "-m", "1400", "-m", "1280").mtu()).isEqualTo(1280);
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
        assertThat(Options.parse("-p", "65535", "-m", "68").mtu()).isEqualTo(68);
        assertThat(Options.parse("-p", "0", "-m", "65535").mtu()).isEqualTo(65535);
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

    @ParameterizedTest
    @ValueSource(strings = {"100-99", "100-", "-100", "100--101", "100-65536", "1-1000", "a-b", "100-101-102"})
    void invalidQueueRange(String port) {
        assertInvalid("invalid port number", "-p", port, "-m", "1280");
    }

    @Test
    void helpAndVersion() throws Exception {
        assertThat(Options.parse("--help").action()).isEqualTo(Options.Action.HELP);
        assertThat(Options.parse("--version").action()).isEqualTo(Options.Action.VERSION);
        assertThat(Options.help()).startsWith(USAGE);
    }

    @Test
    void foregroundIsAnExtensionBesideTheOriginalFlags() throws Exception {
        Options o = Options.parse("--foreground", "-p", "3", "-m", "1500");
        assertThat(o.foreground()).isTrue();
        assertThat(o.verbose()).isFalse();
    }

    private static void assertUsage(String... args) {
        assertThatThrownBy(() -> Options.parse(args))
                .isInstanceOfSatisfying(UsageException.class, e -> assertThat(e.line()).isEqualTo(USAGE));
    }

    private static void assertInvalid(String message, String... args) {
        assertThatThrownBy(() -> Options.parse(args))
                .isInstanceOfSatisfying(UsageException.class, e -> assertThat(e.line()).isEqualTo("tcpmssd: " + message));
    }
}
