package net.tcpmssd.bpf;

/**
 * Where the IP header starts in the frames a tc program sees on an interface: at tc, skb->data
 * is the link-layer header (the kernel pushes it back before running cls_bpf or tcx).
 */
public enum LinkType {
    /** Ethernet-like (Ethernet, veth, bridge, VLAN devices): a 14-byte header before IP. */
    ETHERNET(14),
    /** Layer 3 devices (tun, WireGuard, PPP, ipip): the frame is the IP packet. */
    L3(0);

    /** Bytes before the IP header. */
    public final int ipOffset;

    LinkType(int ipOffset) {
        this.ipOffset = ipOffset;
    }
}
