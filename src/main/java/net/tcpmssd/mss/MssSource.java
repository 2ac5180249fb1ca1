package net.tcpmssd.mss;

/** Where the maximum MSS comes from: exactly one per daemon (BEHAVIOUR §1, §3). */
public sealed interface MssSource {

    /** -m: a fixed MTU. */
    record FixedMtu(int mtu) implements MssSource {}

    /** -i: an interface's MTU, followed live. */
    record InterfaceMtu(String name) implements MssSource {}

    /** --pmtu: per SYN, the smaller MTU of the paths toward its destination and back to its source. */
    record PathMtu() implements MssSource {}

    /** --set-mss: one MSS for both IP versions, as iptables' TCPMSS --set-mss. */
    record FixedMss(int mss) implements MssSource {}
}
