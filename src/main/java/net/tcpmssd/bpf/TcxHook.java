package net.tcpmssd.bpf;

/**
 * Where on an interface a tcx program runs (Linux 6.6 and later), by its number in bpf.h's enum
 * bpf_attach_type: egress sees every packet leaving (forwarded and locally generated), ingress
 * every packet arriving, before the IP layer.
 */
public enum TcxHook {
    INGRESS(46),
    EGRESS(47);

    final int attachType;

    TcxHook(int attachType) {
        this.attachType = attachType;
    }
}
