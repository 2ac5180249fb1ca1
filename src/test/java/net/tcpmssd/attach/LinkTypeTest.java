package net.tcpmssd.attach;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.tcpmssd.bpf.LinkType;
import net.tcpmssd.netlink.Link;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** BEHAVIOUR §7: which program an interface gets by its link type (ifi_type), and the one line for the rest. */
class LinkTypeTest {

    @ParameterizedTest
    @CsvSource({"1, ETHERNET", "772, ETHERNET", "65534, L3", "512, L3", "519, L3"})
    void knownTypesGetTheirProgram(int type, LinkType expected) throws Exception {
        assertThat(KernelDataPath.linkType(new Link(3, "x0", 1500, type))).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "778 | gre1 has link type 778 (ARPHRD_IPGRE), which tcpmssd cannot attach to",
            "768 | gre1 has link type 768 (ARPHRD_TUNNEL, ipip), which tcpmssd cannot attach to",
            "0 | gre1 has link type 0 (not Ethernet, PPP or bare IP), which tcpmssd cannot attach to"})
    void otherTypesAreRefusedInOneLine(int type, String line) {
        assertThatThrownBy(() -> KernelDataPath.linkType(new Link(3, "gre1", 1476, type)))
                .isInstanceOf(AttachException.class).hasMessage(line);
    }
}
