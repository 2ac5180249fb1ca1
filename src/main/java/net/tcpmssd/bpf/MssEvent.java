package net.tcpmssd.bpf;

/**
 * What the program reports of a packet it changed, for -v's lines: an MSS lowered from
 * {@code from} to {@code to}, or with {@code from} 0 one added (--add-mss; a lowered MSS was
 * above the maximum, so never 0). In the ring buffer as struct { u16 from; u16 to; u16
 * ip_version; u16 zero; } in host order.
 */
public record MssEvent(int ipVersion, int from, int to) {

    static final int SIZE = 8;

    /** As the queue path logs it: "MSS: 1460 -> 1240", or "MSS: none -> 536". */
    public String line() {
        return "MSS: " + (from == 0 ? "none" : Integer.toString(from)) + " -> " + to;
    }
}
