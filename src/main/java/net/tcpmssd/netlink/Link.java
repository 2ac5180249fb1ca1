package net.tcpmssd.netlink;

/** A network interface as rtnetlink describes it: what tcpmssd needs of it. */
public record Link(int index, String name, int mtu) {}
