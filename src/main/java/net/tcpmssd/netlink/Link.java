package net.tcpmssd.netlink;

/**
 * A network interface as rtnetlink describes it: what tcpmssd needs of it. {@code type} is
 * ifinfomsg.ifi_type, the link type (linux/if_arp.h ARPHRD_*): it says whether frames at tc start
 * with a link-layer header (BEHAVIOUR §7).
 */
public record Link(int index, String name, int mtu, int type) {

    public static final int ARPHRD_ETHER = 1;
    public static final int ARPHRD_PPP = 512;
    public static final int ARPHRD_RAWIP = 519;
    public static final int ARPHRD_LOOPBACK = 772;
    public static final int ARPHRD_NONE = 65534;
}
