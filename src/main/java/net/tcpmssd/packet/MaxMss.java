package net.tcpmssd.packet;

/**
 * The largest MSS a SYN may announce, per IP version.
 *
 * <p>From an MTU, the fixed headers are subtracted: 20 bytes of IPv4 plus 20 of TCP, or 40 of
 * IPv6 plus 20 of TCP (the "liberal" reading of RFC 879 §1 that tcpmssd and the kernel's TCPMSS
 * target both use). Subtracting only 40 for IPv6 leaves 20 bytes too many and still black-holes.
 */
public record MaxMss(int ipv4, int ipv6) {

    static final int IPV4_TCP_HEADERS = 20 + 20;
    static final int IPV6_TCP_HEADERS = 40 + 20;

    public static MaxMss forMtu(int mtu) {
        return new MaxMss(mtu - IPV4_TCP_HEADERS, mtu - IPV6_TCP_HEADERS);
    }

    /** The MSS for a packet whose first byte carries this IP version. */
    int forVersion(int version) {
        return version == 6 ? ipv6 : ipv4;
    }
}
