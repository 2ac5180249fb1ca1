package net.tcpmssd.attach;

/**
 * Where on an interface the clamping program runs (BEHAVIOUR §7): at egress it sees every packet
 * that leaves, forwarded and locally generated alike (outgoing); at ingress, with -b, every packet
 * that arrives, before the IP layer (incoming).
 */
public enum Hook {
    EGRESS,
    INGRESS
}
