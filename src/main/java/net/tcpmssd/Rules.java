package net.tcpmssd;

/** --print-rules: the netfilter rules that queue the right SYNs to this daemon. */
final class Rules {

    private Rules() {}

    static String print(Options options) {
        throw new UnsupportedOperationException("being written");
    }
}
